package affwatch.rules.claims.pressure_test

import data.affwatch.rules.claims.pressure

page(text) := {"url": "u", "text": text, "blocks": [{"offset": 0, "tag": "p", "text": text, "selector": "p", "hidden": false}]}

test_pressure_claims_warned if {
	every text in ["Hurry, only 3 left in stock!", "Offer ends tonight", "37 people are viewing this right now", "Selling fast"] {
		count(pressure.warn) > 0 with input as page(text)
	}
}

test_calm_text_passes if {
	count(pressure.warn) == 0 with input as page("We tested this grinder for three weeks.")
}
