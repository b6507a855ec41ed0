# METADATA
# title: Unauthorized coupon code
# description: >-
#   The page offers a code for the program's brand that the program never issued to this
#   partner. Readers who try it are disappointed, and partners who publish leaked or
#   invented codes take credit for sales they did not cause.
# custom:
#   id: COUPON-001
#   severity: medium
#   remediation: Remove the code, or ask the program for an authorized code to publish.
package affwatch.rules.coupons.unauthorized

import data.affwatch.lib.page

# issued maps each code the program issued (upper-cased) to its terms.
issued[upper(c.code)] := c if some c in object.get(page.program, "coupons", [])

deny contains finding if {
	some c in input.coupons
	about_brand(c)
	not issued[upper(c.code)]
	finding := {
		"msg": sprintf("code %s is not one the program issued", [c.code]),
		"evidence": page.evidence(c.context, "", c.offset, upper(c.code)),
	}
}

deny contains finding if {
	some c in input.coupons
	terms := issued[upper(c.code)]
	count(object.get(terms, "affiliates", [])) > 0
	not input.affiliate.id in terms.affiliates
	finding := {
		"msg": sprintf("code %s was issued to other partners, not to %s", [c.code, input.affiliate.id]),
		"evidence": page.evidence(c.context, "", c.offset, upper(c.code)),
	}
}

# about_brand is true when the code's surrounding text names one of the program's brands.
about_brand(c) if {
	some term in page.brand_terms
	contains(lower(c.context), term)
}
