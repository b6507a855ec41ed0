# METADATA
# title: Pages that cannot be verified and traffic that is anomalous
# description: >-
#   The last scan could not verify some of the partner's pages (a bot wall, robots.txt,
#   errors) and a fraud detector flags its traffic. Either alone may be innocent; together
#   they are a partner hiding its pages from the program while its traffic misbehaves.
# custom:
#   id: JOIN-002
#   severity: high
#   remediation: >-
#     Ask the partner to let affwatch's crawler in (or review the pages by hand), and hold
#     the commissions the detector finding names until they are seen.
package affwatch.affiliate_rules.joined.unverifiable_anomalous

deny contains finding if {
	input.scorecard.pages_not_verified > 0
	count(input.findings) > 0
	rules := sort({f.rule_id | some f in input.findings})
	unverified := sort([p.url | some p in input.pages; not p.verified])
	finding := {
		"msg": sprintf("%d of %d page(s) could not be verified (e.g. %s) while the traffic is flagged by %s", [
			input.scorecard.pages_not_verified, input.scorecard.pages_checked, unverified[0], concat(", ", rules),
		]),
		"evidence": {
			"snippet": concat(", ", rules), "url": unverified[0], "key": "unverifiable-anomalous",
			"numbers": {"pages_not_verified": input.scorecard.pages_not_verified, "findings": count(input.findings)},
		},
	}
}
