# METADATA
# title: Brand name in the partner's domain
# description: >-
#   The partner's site uses the advertiser's trademark in its domain name, which misleads
#   readers into thinking it is the brand's own site and competes with the brand in search.
# custom:
#   id: TM-001
#   severity: high
#   remediation: Move the content to a domain that does not contain the brand's trademark.
package affwatch.rules.trademark.domain

import data.affwatch.lib.page

deny contains finding if {
	h := page.host(input.url)
	not page.on_landing_domain(input.url)
	some term in page.brand_terms
	squeezed := regex.replace(term, `[^a-z0-9]+`, "")
	count(squeezed) >= 3
	contains(regex.replace(h, `[^a-z0-9]+`, ""), squeezed)
	finding := {
		"msg": sprintf("the partner's domain %s contains the brand %q", [h, term]),
		"evidence": page.evidence(h, "", 0, h),
	}
}
