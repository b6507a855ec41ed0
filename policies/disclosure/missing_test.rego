package affwatch.rules.disclosure.missing_test

import data.affwatch.rules.disclosure.missing

amazon := {"network": "amazon", "affiliate_id": "partner-20", "destination": ""}

link(offset, hidden) := {
	"href": "https://www.amazon.com/dp/B0?tag=partner-20", "text": "Buy on Amazon", "rel": [],
	"offset": offset, "selector": "p > a", "hidden": hidden, "affiliate": amazon,
}

disclosure(offset, hidden) := {
	"text": "We earn a commission from purchases.", "phrase": "earn a commission",
	"offset": offset, "selector": "p", "hidden": hidden,
}

test_links_without_disclosure_denied if {
	findings := missing.deny with input as {"url": "https://blog.example/", "links": [link(40, false)], "disclosures": []}
	count(findings) == 1
	some f in findings
	contains(f.msg, "1 affiliate link(s)")
	f.evidence.offset == 40
}

test_disclosed_page_passes if {
	count(missing.deny) == 0 with input as {"url": "https://blog.example/", "links": [link(40, false)], "disclosures": [disclosure(10, false)]}
}

test_hidden_disclosure_is_the_hidden_rule_not_this_one if {
	count(missing.deny) == 0 with input as {"url": "https://blog.example/", "links": [link(40, false)], "disclosures": [disclosure(10, true)]}
}

test_vague_disclosure_is_the_vague_rule_not_this_one if {
	vague := object.union(disclosure(10, false), {"vague": true, "phrase": "#sp"})
	count(missing.deny) == 0 with input as {"url": "https://blog.example/", "links": [link(40, false)], "disclosures": [vague]}
}

test_hidden_vague_disclosure_counts_as_none if {
	vague := object.union(disclosure(10, true), {"vague": true, "phrase": "#sp"})
	count(missing.deny) == 1 with input as {"url": "https://blog.example/", "links": [link(40, false)], "disclosures": [vague]}
}

test_no_affiliate_links_passes if {
	plain := object.union(link(40, false), {"affiliate": null})
	count(missing.deny) == 0 with input as {"url": "https://blog.example/", "links": [plain], "disclosures": []}
}

test_hidden_affiliate_link_alone_is_not_this_rule if {
	count(missing.deny) == 0 with input as {"url": "https://blog.example/", "links": [link(40, true)], "disclosures": []}
}
