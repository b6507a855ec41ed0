package affwatch.affiliate_rules.joined.coupon_poaching_test

import data.affwatch.affiliate_rules.joined.coupon_poaching

traffic(timed, fast) := {"timed_conversions": timed, "fast_conversions": fast, "fast_share": fast / timed}

page(coupons, title) := {"url": "https://deals.example/", "verified": true, "coupons": coupons, "title": title}

doc(pages, cur) := {
	"pages": pages,
	"scorecard": {"current": cur},
	"baseline": {"fast_share": 0.02},
}

test_coupon_site_with_fast_conversions_denied if {
	findings := coupon_poaching.deny with input as doc([page(4, "Deals")], traffic(20, 12))
	count(findings) == 1
	some f in findings
	contains(f.msg, "60% of its conversions (12 of 20) came within seconds of the click, against 2% in the program")
	f.evidence.key == "coupon-poaching"
	f.evidence.numbers.value == 0.6
}

test_coupon_words_in_a_title_count if {
	count(coupon_poaching.deny) == 1 with input as doc([page(0, "Acme promo codes for November")], traffic(10, 5))
}

test_fast_conversions_without_coupons_pass if {
	count(coupon_poaching.deny) == 0 with input as doc([page(0, "A review")], traffic(20, 12))
}

test_coupon_site_with_ordinary_timing_passes if {
	count(coupon_poaching.deny) == 0 with input as doc([page(4, "Deals")], traffic(20, 1))
}

test_too_few_conversions_pass if {
	count(coupon_poaching.deny) == 0 with input as doc([page(4, "Deals")], traffic(4, 4))
}

test_unverified_coupon_page_does_not_count if {
	p := object.union(page(4, "Coupons"), {"verified": false})
	count(coupon_poaching.deny) == 0 with input as doc([p], traffic(20, 12))
}
