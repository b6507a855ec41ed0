# METADATA
# title: Affiliate click URL requested while the page loaded
# description: >-
#   While the page loaded in a browser (crawl.render), a script, an embed or the page itself
#   requested an affiliate click URL, or sent the reader's browser to one, without a click:
#   an image or fetch built after load, a URL assembled from parts, a timed location.replace.
#   The request being made is the evidence, however its source hides it, and whether or not
#   the network answered. Elements of the page that load a click URL are judged by STUFF-001.
# custom:
#   id: STUFF-002
#   severity: critical
#   remediation: >-
#     Remove the script or embed that requests the click URL, or the automatic redirect.
#     Affiliate links may only be followed by a reader's deliberate click.
package affwatch.rules.stuffing.script_request

import data.affwatch.lib.page

deny contains finding if {
	some r in input.requests
	r.affiliate != null
	not r.navigation
	not r.in_page
	finding := {
		"msg": sprintf("a %s request (made by %s) loaded an affiliate click URL (network %s, affiliate ID %q) without a click while the page loaded", [
			r.type, r.initiator, r.affiliate.network, r.affiliate.affiliate_id,
		]),
		"evidence": page.evidence(r.url, "", 0, r.url),
	}
}

deny contains finding if {
	some r in input.requests
	r.affiliate != null
	r.navigation
	not r.initial
	not r.in_page
	finding := {
		"msg": sprintf("the page sent the reader to an affiliate click URL (network %s, affiliate ID %q) without a click (made by %s)", [
			r.affiliate.network, r.affiliate.affiliate_id, r.initiator,
		]),
		"evidence": page.evidence(r.url, "", 0, r.url),
	}
}
