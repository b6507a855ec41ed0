# METADATA
# title: Cookie stuffing
# description: >-
#   The page makes the reader's browser load an affiliate click URL without a click: a hidden
#   iframe, a one-pixel image, a script or prefetch, or an automatic redirect. The affiliate
#   then earns commission on purchases it did not refer.
# custom:
#   id: STUFF-001
#   severity: critical
#   remediation: >-
#     Remove the hidden element or automatic redirect. Affiliate links may only be followed
#     by a reader's deliberate click.
package affwatch.rules.stuffing.hidden_embed

import data.affwatch.lib.page

deny contains finding if {
	some e in input.embeds
	e.affiliate != null
	e.hidden
	finding := {
		"msg": sprintf("hidden %s loads an affiliate click URL (network %s, affiliate ID %q) without a click", [
			e.kind, e.affiliate.network, e.affiliate.affiliate_id,
		]),
		"evidence": page.evidence(e.src, e.selector, e.offset, e.src),
	}
}

deny contains finding if {
	some r in input.redirects
	r.kind in {"meta", "js"}
	r.affiliate != null
	finding := {
		"msg": sprintf("the page redirects by %s to an affiliate click URL (network %s, affiliate ID %q)", [
			r.kind, r.affiliate.network, r.affiliate.affiliate_id,
		]),
		"evidence": page.evidence(r.to, "", 0, r.to),
	}
}
