# METADATA
# title: Affiliate ID that is not the partner's own
# description: >-
#   A link to the program on this partner's page credits an affiliate ID that is neither
#   the partner's own ID in that network nor one the program accepts. Someone else is being
#   paid for the partner's traffic: a hijacked page, a compromised plugin, or ID swapping.
# custom:
#   id: HIJACK-001
#   severity: high
#   remediation: >-
#     Ask the partner to check every affiliate link on the page (and their plugins) and to
#     restore their own ID; hold commission for the foreign ID meanwhile.
package affwatch.rules.links.hijack

import data.affwatch.lib.page

deny contains finding if {
	some link in input.links
	link.affiliate != null
	page.for_program(link)
	net := link.affiliate.network
	own := input.affiliate.network_ids[net]
	link.affiliate.affiliate_id != own
	not accepted(net, link.affiliate.affiliate_id)
	finding := {
		"msg": sprintf("%s link credits affiliate ID %q, not the partner's own %q", [net, link.affiliate.affiliate_id, own]),
		"evidence": page.evidence(link.href, link.selector, link.offset, sprintf("%s:%s", [net, link.affiliate.affiliate_id])),
	}
}

accepted(net, id) if id in object.get(object.get(page.program, "affiliate_ids", {}), net, [])
