package affwatch.affiliate_rules.joined.disclosure_jump_test

import data.affwatch.affiliate_rules.joined.disclosure_jump

page(disclosures, before_at, before_disclosures) := {
	"url": "https://blog.example/review", "verified": true, "disclosures": disclosures, "fetched_at": "2026-11-14T02:00:00Z",
	"previous": {"fetched_at": before_at, "verified": true, "disclosures": before_disclosures},
}

doc(p, rate_now, rate_before) := {
	"pages": [p],
	"scorecard": {
		"current": {"conversions": 20, "conversion_rate": rate_now},
		"previous": {"conversions": 8, "conversion_rate": rate_before},
	},
}

test_disclosure_gone_and_rate_jumped_denied if {
	findings := disclosure_jump.deny with input as doc(page(0, "2026-11-10T02:00:00Z", 1), 0.08, 0.04)
	count(findings) == 1
	some f in findings
	f.msg == "https://blog.example/review had 1 disclosure(s) on 2026-11-10 and has none now, while the conversion rate went from 4% to 8%"
	f.evidence.numbers.value == 0.08
}

test_disclosure_kept_passes if {
	count(disclosure_jump.deny) == 0 with input as doc(page(1, "2026-11-10T02:00:00Z", 1), 0.08, 0.04)
}

test_steady_rate_passes if {
	count(disclosure_jump.deny) == 0 with input as doc(page(0, "2026-11-10T02:00:00Z", 1), 0.045, 0.04)
}

test_disclosure_gone_long_before_passes if {
	count(disclosure_jump.deny) == 0 with input as doc(page(0, "2026-10-01T02:00:00Z", 1), 0.08, 0.04)
}

test_page_new_this_scan_passes if {
	p := object.union(page(0, "2026-11-10T02:00:00Z", 1), {"previous": null})
	count(disclosure_jump.deny) == 0 with input as doc(p, 0.08, 0.04)
}
