# METADATA
# title: Affiliate link without rel="sponsored"
# description: >-
#   Paid links should carry rel="sponsored" (or at least rel="nofollow") so that search
#   engines do not count them as editorial endorsements; many programs require it.
# custom:
#   id: LINK-001
#   severity: low
#   remediation: Add rel="sponsored nofollow" to every affiliate link.
package affwatch.rules.links.rel_sponsored

import data.affwatch.lib.page

deny contains finding if {
	some link in page.affiliate_links
	not qualified(link)
	finding := {
		"msg": sprintf("%s link to %s has no rel=\"sponsored\" or rel=\"nofollow\"", [link.affiliate.network, link.href]),
		"evidence": page.evidence(link.text, link.selector, link.offset, link.href),
	}
}

qualified(link) if "sponsored" in link.rel

qualified(link) if "nofollow" in link.rel
