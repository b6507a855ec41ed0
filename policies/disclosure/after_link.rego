# METADATA
# title: Disclosure comes after the first affiliate link
# description: >-
#   The page discloses its affiliate relationship, but only after the reader has already met
#   an affiliate link. A disclosure must come before the links it covers to be clear and
#   conspicuous.
# custom:
#   id: DISC-002
#   severity: medium
#   remediation: >-
#     Move the disclosure above the first affiliate link, for example directly under the
#     page title.
package affwatch.rules.disclosure.after_link

import data.affwatch.lib.page

deny contains finding if {
	link := page.first_affiliate_link
	count(page.disclosures) > 0
	first := page.disclosures[0]
	first.offset > link.offset
	finding := {
		"msg": sprintf("the first disclosure (character %d) comes after the first affiliate link (character %d, %s)", [
			first.offset, link.offset, link.href,
		]),
		"evidence": page.evidence(first.text, first.selector, first.offset, "page"),
	}
}
