package affwatch.rules.disclosure.hidden_test

import data.affwatch.rules.disclosure.hidden

link := {
	"href": "https://www.amazon.com/dp/B0?tag=p-20", "text": "buy", "rel": [], "offset": 50, "selector": "a", "hidden": false,
	"affiliate": {"network": "amazon", "affiliate_id": "p-20", "destination": ""},
}

d(is_hidden, vague) := {"text": "We earn a commission.", "phrase": "earn a commission", "offset": 0, "selector": "div.x", "hidden": is_hidden, "vague": vague}

test_only_hidden_disclosure_denied if {
	fs := hidden.deny with input as {"url": "u", "links": [link], "disclosures": [d(true, false)]}
	count(fs) == 1
	some f in fs
	f.evidence.selector == "div.x"
}

test_visible_disclosure_as_well_passes if {
	count(hidden.deny) == 0 with input as {"url": "u", "links": [link], "disclosures": [d(true, false), d(false, false)]}
}

test_no_affiliate_links_passes if {
	count(hidden.deny) == 0 with input as {"url": "u", "links": [], "disclosures": [d(true, false)]}
}
