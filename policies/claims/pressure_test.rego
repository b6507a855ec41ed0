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

# Real shop wordings (Mathur et al. 2019): timers, activity notifications, stock counts.
test_real_shop_wordings_warned if {
	every text in [
		"00DAYS02HRS14MINS1211SEC",
		"Sale ends in 1 Days, 4 Minutes, 44 Seconds",
		"Cart will expire in 04:53 minutes!",
		"Limited Time Sale - Buy Now!",
		"143 BOUGHT",
		"1,446 people have viewed this item",
		"Carol in St. Louis, Missouri bought Original USB Charging Anti-Theft Backpack",
		"1 LEFT IN THIS SIZE",
		"Items in your cart are in VERY high-demand.",
	] {
		count(pressure.warn) > 0 with input as page(text)
	}
}

# Recipe text has times and counts that are not pressure.
test_recipe_times_and_counts_pass if {
	every text in [
		"Total time: 8 h 30 m. Cook 1 hour 15 minutes.",
		"Posted at 23:07:10 by Anna",
		"Add 2 teaspoons active dry yeast.",
		"I just bought a new pan and the last one I had was better.",
		"Over the last few years I have made this for 12 people.",
	] {
		count(pressure.warn) == 0 with input as page(text)
	}
}
