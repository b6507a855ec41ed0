# METADATA
# title: Expired or not yet valid coupon code
# description: >-
#   The page offers a code the program issued, outside the dates it is valid. Readers meet
#   an error at checkout, and early codes leak promotions before their launch.
# custom:
#   id: COUPON-002
#   severity: medium
#   remediation: Remove the code from the page, or replace it with a current one.
package affwatch.rules.coupons.expired

import data.affwatch.lib.page

deny contains finding if {
	some c in input.coupons
	some terms in object.get(page.program, "coupons", [])
	upper(terms.code) == upper(c.code)
	until := page.date_ns(terms.valid_until)
	page.now_ns > until + page.day_ns
	finding := {
		"msg": sprintf("code %s expired on %s", [c.code, terms.valid_until]),
		"evidence": page.evidence(c.context, "", c.offset, upper(c.code)),
	}
}

deny contains finding if {
	some c in input.coupons
	some terms in object.get(page.program, "coupons", [])
	upper(terms.code) == upper(c.code)
	from := page.date_ns(terms.valid_from)
	page.now_ns < from
	finding := {
		"msg": sprintf("code %s is not valid before %s", [c.code, terms.valid_from]),
		"evidence": page.evidence(c.context, "", c.offset, upper(c.code)),
	}
}
