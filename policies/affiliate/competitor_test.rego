package affwatch.affiliate_rules.joined.competitor_test

import data.affwatch.affiliate_rules.joined.competitor

ours := {"network": "awin", "merchant": "1001", "links": 3, "ours": true}

rival := {"network": "awin", "merchant": "2002", "links": 1, "ours": false}

other_network := {"network": "amazon", "merchant": "", "links": 2, "ours": false}

doc(promotions, verified) := {"pages": [{"url": "https://blog.example/best", "verified": verified, "promotions": promotions}]}

test_competitor_beside_the_program_denied if {
	findings := competitor.deny with input as doc([ours, rival], true)
	count(findings) == 1
	some f in findings
	f.msg == "https://blog.example/best links to the program and to awin merchant 2002 (1 link(s)) on the same page"
	f.evidence.key == "https://blog.example/best|awin|2002"
}

test_another_network_named if {
	some f in competitor.deny with input as doc([ours, other_network], true)
	contains(f.msg, "another amazon program")
}

test_only_the_program_passes if {
	count(competitor.deny) == 0 with input as doc([ours], true)
}

test_only_others_is_not_this_rule if {
	count(competitor.deny) == 0 with input as doc([rival], true)
}

test_unverified_page_passes if {
	count(competitor.deny) == 0 with input as doc([ours, rival], false)
}
