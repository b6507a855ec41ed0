package affwatch.rules.links.rel_sponsored_test

import data.affwatch.rules.links.rel_sponsored

link(rel) := {
	"href": "https://www.amazon.com/dp/B0?tag=p-20", "text": "buy", "rel": rel, "offset": 5, "selector": "a", "hidden": false,
	"affiliate": {"network": "amazon", "affiliate_id": "p-20", "destination": ""},
}

test_plain_link_denied if {
	fs := rel_sponsored.deny with input as {"url": "u", "links": [link([])]}
	count(fs) == 1
	some f in fs
	f.evidence.key == "https://www.amazon.com/dp/B0?tag=p-20"
}

test_sponsored_or_nofollow_pass if {
	count(rel_sponsored.deny) == 0 with input as {"url": "u", "links": [link(["sponsored"]), link(["nofollow", "noopener"])]}
}

test_ordinary_link_ignored if {
	count(rel_sponsored.deny) == 0 with input as {"url": "u", "links": [object.union(link([]), {"affiliate": null})]}
}
