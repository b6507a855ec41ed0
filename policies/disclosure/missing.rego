# METADATA
# title: Affiliate links without a disclosure
# description: >-
#   The page carries affiliate links but says nowhere that the partner earns money from
#   them: no visible disclosure, not even a vague one, and none hidden in the HTML (those
#   are DISC-004 and DISC-003). FTC Endorsement Guides, 16 CFR 255.5.
# custom:
#   id: DISC-001
#   severity: high
#   remediation: >-
#     Add a clear disclosure such as "We earn a commission if you buy through links on this
#     page" near the top of the page, before the first affiliate link.
package affwatch.rules.disclosure.missing

import data.affwatch.lib.page

deny contains finding if {
	link := page.first_affiliate_link
	count(page.disclosures) == 0
	count(page.vague_disclosures) == 0
	count(page.hidden_disclosures) == 0
	finding := {
		"msg": sprintf("%d affiliate link(s) and no disclosure; the first links to %s (%s)", [
			count(page.affiliate_links), link.href, link.affiliate.network,
		]),
		"evidence": page.evidence(link.text, link.selector, link.offset, "page"),
	}
}
