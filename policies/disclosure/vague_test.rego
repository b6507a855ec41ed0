package affwatch.rules.disclosure.vague_test

import data.affwatch.rules.disclosure.vague

link := {
	"href": "https://www.amazon.com/dp/B0?tag=p-20", "text": "buy", "rel": [], "offset": 50, "selector": "a", "hidden": false,
	"affiliate": {"network": "amazon", "affiliate_id": "p-20", "destination": ""},
}

d(phrase, is_vague) := {"text": phrase, "phrase": phrase, "offset": 0, "selector": "p", "hidden": false, "vague": is_vague}

test_vague_only_denied if {
	fs := vague.deny with input as {"url": "u", "links": [link], "disclosures": [d("#sp", true)]}
	count(fs) == 1
	some f in fs
	contains(f.msg, "#sp")
}

test_clear_disclosure_as_well_passes if {
	count(vague.deny) == 0 with input as {"url": "u", "links": [link], "disclosures": [d("#sp", true), d("affiliate links", false)]}
}
