# METADATA
# title: Vague disclosure wording only
# description: >-
#   The page discloses only with wording that hints at a relationship without stating it
#   ("#sp", "partner", "in partnership with", "thanks to our friends at"). The FTC says such
#   wording is not clear enough: readers must understand that the partner earns money.
# custom:
#   id: DISC-004
#   severity: medium
#   remediation: >-
#     Say plainly that you earn a commission or are paid, e.g. "We earn a commission from
#     purchases made through these links."
package affwatch.rules.disclosure.vague

import data.affwatch.lib.page

deny contains finding if {
	page.first_affiliate_link
	count(page.clear_disclosures) == 0
	d := page.vague_disclosures[0]
	finding := {
		"msg": sprintf("the only disclosure is vague wording (%q)", [d.phrase]),
		"evidence": page.evidence(d.text, d.selector, d.offset, "page"),
	}
}
