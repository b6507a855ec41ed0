# METADATA
# title: A competitor's program promoted on the same pages
# description: >-
#   A page that carries affiliate links for the program also carries links for another
#   advertiser (another merchant ID in the network, or a network the program is not on):
#   the partner sends the program's visitors to a competitor from the program's own
#   placements. Vetting tells "ours" the same way: the program's merchant IDs per network.
# custom:
#   id: JOIN-003
#   severity: medium
#   remediation: >-
#     Ask the partner to keep the program's placements to the program, or agree to it as an
#     exception for these pages.
package affwatch.affiliate_rules.joined.competitor

deny contains finding if {
	some p in input.pages
	p.verified
	some ours in p.promotions
	ours.ours
	some other in p.promotions
	not other.ours
	name := program_name(other)
	finding := {
		"msg": sprintf("%s links to the program and to %s (%d link(s)) on the same page", [p.url, name, other.links]),
		"evidence": {"snippet": name, "url": p.url, "key": sprintf("%s|%s|%s", [p.url, other.network, other.merchant])},
	}
}

program_name(pr) := sprintf("%s merchant %s", [pr.network, pr.merchant]) if pr.merchant != ""

program_name(pr) := sprintf("another %s program", [pr.network]) if pr.merchant == ""
