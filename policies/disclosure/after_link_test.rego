package affwatch.rules.disclosure.after_link_test

import data.affwatch.rules.disclosure.after_link

link(offset) := {
	"href": "https://www.awin1.com/cread.php?awinaffid=1&awinmid=2", "text": "deal", "rel": [],
	"offset": offset, "selector": "a", "hidden": false,
	"affiliate": {"network": "awin", "affiliate_id": "1", "destination": ""},
}

disclosure(offset) := {"text": "Affiliate links ahead.", "phrase": "affiliate links", "offset": offset, "selector": "footer", "hidden": false}

test_disclosure_after_link_denied if {
	findings := after_link.deny with input as {"url": "u", "links": [link(100)], "disclosures": [disclosure(900)]}
	count(findings) == 1
	some f in findings
	f.evidence.offset == 900
	contains(f.msg, "character 100")
}

test_disclosure_before_link_passes if {
	count(after_link.deny) == 0 with input as {"url": "u", "links": [link(100)], "disclosures": [disclosure(20)]}
}

test_any_earlier_disclosure_is_enough if {
	count(after_link.deny) == 0 with input as {"url": "u", "links": [link(100)], "disclosures": [disclosure(20), disclosure(900)]}
}

test_no_disclosure_is_the_missing_rule_not_this_one if {
	count(after_link.deny) == 0 with input as {"url": "u", "links": [link(100)], "disclosures": []}
}
