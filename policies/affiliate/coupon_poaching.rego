# METADATA
# title: Coupon site whose conversions arrive seconds after the click
# description: >-
#   The partner's pages are a coupon or deal site (codes on its verified pages, or coupon
#   words in their titles) and a large share of its conversions came within seconds of
#   the click (the scorecard's fast conversions, within 30 s). The customer was already at
#   the checkout, looked for a code and clicked through: the partner takes the credit for
#   a sale it did not bring (coupon poaching). Neither the pages nor the traffic alone says
#   so.
# custom:
#   id: JOIN-001
#   severity: high
#   remediation: >-
#     Hold the commissions of the fast conversions, compare the partner's codes with the
#     codes the program issued, and ask the partner how its visitors reach the checkout.
package affwatch.affiliate_rules.joined.coupon_poaching

coupon_pages contains p.url if {
	some p in input.pages
	p.verified
	p.coupons > 0
}

coupon_pages contains p.url if {
	some p in input.pages
	p.verified
	regex.match(`(?i)coupon|promo ?code|voucher|discount code`, p.title)
}

deny contains finding if {
	count(coupon_pages) > 0
	cur := input.scorecard.current
	cur.timed_conversions >= 5
	cur.fast_share >= 0.3
	cur.fast_share >= input.baseline.fast_share + 0.2
	pages := sort(coupon_pages)
	finding := {
		"msg": sprintf("coupon or deal site (%d page(s), e.g. %s) and %v%% of its conversions (%d of %d) came within seconds of the click, against %v%% in the program", [
			count(pages), pages[0], percent(cur.fast_share), cur.fast_conversions, cur.timed_conversions, percent(input.baseline.fast_share),
		]),
		"evidence": {
			"snippet": pages[0], "url": pages[0], "key": "coupon-poaching",
			"numbers": {"value": cur.fast_share, "baseline": input.baseline.fast_share, "n": cur.timed_conversions, "pages": count(pages)},
		},
	}
}

# percent writes a share as a percentage with at most one decimal (sprintf's %f refuses a
# number that happens to be whole).
percent(x) := round(x * 1000) / 10
