# METADATA
# title: Changed after approval
# description: >-
#   The partner's site was vetted (affwatch vet) and approved; the scans since see
#   something the vetting did not: another program promoted, the disclosures gone, or a
#   guideline broken (a policy violation of medium severity or more) that the vetted
#   pages did not break. A partner who behaved for the vetting and changed once in.
# custom:
#   id: JOIN-005
#   severity: high
#   remediation: >-
#     Compare the vetting report with the pages now (affwatch affiliates show), ask the
#     partner to restore what was approved, and review the approval.
package affwatch.affiliate_rules.joined.changed_after_approval

vetting := input.vetting if input.vetting.verdict == "approve"

vetted(pr) if {
	some v in vetting.promotions
	v.network == pr.network
	v.merchant == pr.merchant
}

deny contains finding if {
	some pr in input.promotions
	not pr.ours
	not vetted(pr)
	name := trim_space(sprintf("%s %s", [pr.network, pr.merchant]))
	finding := change(sprintf("promotes %s (%d link(s)), which the vetted pages did not", [name, pr.links]), sprintf("program:%s", [name]))
}

deny contains finding if {
	vetting.disclosures > 0
	verified := [p | some p in input.pages; p.verified]
	count(verified) > 0
	sum([p.disclosures | some p in verified]) == 0
	finding := change(sprintf("no disclosure on the %d verified page(s); the vetted pages had %d", [count(verified), vetting.disclosures]), "disclosures")
}

deny contains finding if {
	some v in input.violations
	v.source == "policy"
	v.severity in {"medium", "high", "critical"}
	not v.rule_id in vetting.rule_ids
	finding := change(sprintf("%s (%s) on %s, not found when the site was vetted", [v.rule_id, v.severity, v.url]), sprintf("rule:%s", [v.rule_id]))
}

change(what, key) := {
	"msg": sprintf("changed since it was approved on %s (vetting of %s): %s", [substring(vetting.vetted_at, 0, 10), vetting.site, what]),
	"evidence": {"snippet": what, "url": vetting.site, "key": key, "numbers": {"days_since_vetting": vetting.days_since}},
}
