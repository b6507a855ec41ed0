# METADATA
# title: Disclosure hidden from readers
# description: >-
#   The page's only clear disclosure is in the HTML but hidden from readers (display:none,
#   off-screen, zero size...). A disclosure a reader cannot see does not disclose anything.
# custom:
#   id: DISC-003
#   severity: high
#   remediation: Make the disclosure visible, in normal text, before the first affiliate link.
package affwatch.rules.disclosure.hidden

import data.affwatch.lib.page

deny contains finding if {
	page.first_affiliate_link
	count(page.disclosures) == 0
	d := page.hidden_disclosures[0]
	finding := {
		"msg": sprintf("the only clear disclosure is hidden from readers: %q", [d.text]),
		"evidence": page.evidence(d.text, d.selector, d.offset, "page"),
	}
}
