package affwatch.rules.trademark.official_test

import data.affwatch.rules.trademark.official

programs := {"acme": {"brand_terms": ["Acme"], "landing_domains": ["acme.example"]}}

page(url, text) := {"url": url, "program": "acme", "text": text, "blocks": [{"offset": 0, "tag": "h1", "text": text, "selector": "h1", "hidden": false}]}

test_official_claim_denied if {
	every text in ["Welcome to the official Acme store", "Acme official site", "The official site of Acme grinders"] {
		count(official.deny) == 1 with input as page("https://deals.example/", text) with data.programs as programs
	}
}

test_on_the_brand_own_site_passes if {
	count(official.deny) == 0 with input as page("https://www.acme.example/", "Acme official site") with data.programs as programs
}

test_mentioning_the_brand_passes if {
	count(official.deny) == 0 with input as page("https://deals.example/", "Our Acme review: officially the best grinder")
		with data.programs as programs
}
