# METADATA
# title: Affiliate link lands outside the program's domains
# description: >-
#   A link that credits this program sends readers to a site that is not one of the
#   program's landing domains: a look-alike shop, a competitor, or a redirect through the
#   partner's own pages.
# custom:
#   id: LAND-001
#   severity: medium
#   remediation: Point the link's destination at one of the program's own domains.
package affwatch.rules.links.landing

import data.affwatch.lib.page

deny contains finding if {
	count(page.landing_domains) > 0
	some link in input.links
	link.affiliate != null
	target := lands_on(link)
	target != ""
	page.for_program(link)
	not page.on_landing_domain(target)
	finding := {
		"msg": sprintf("%s link for the program lands on %s, outside %v", [
			link.affiliate.network, page.host(target), sort([d | some d in page.landing_domains]),
		]),
		"evidence": page.evidence(target, link.selector, link.offset, link.href),
	}
}

# lands_on is where the link leads: the followed redirects' end when the crawler resolved
# the click, else the destination the URL names.
lands_on(link) := link.affiliate.landing if {
	link.affiliate.landing != ""
} else := link.affiliate.destination
