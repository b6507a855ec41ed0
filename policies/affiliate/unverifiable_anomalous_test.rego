package affwatch.affiliate_rules.joined.unverifiable_anomalous_test

import data.affwatch.affiliate_rules.joined.unverifiable_anomalous

doc(unverified, findings) := {
	"scorecard": {"pages_not_verified": count(unverified), "pages_checked": count(unverified) + 1},
	"pages": array.concat([{"url": u, "verified": false} | some u in unverified], [{"url": "https://ok.example/", "verified": true}]),
	"findings": findings,
}

inj := {"rule_id": "FRAUD-INJ-001", "tier": "act"}

test_unverified_pages_and_a_finding_denied if {
	findings := unverifiable_anomalous.deny with input as doc(["https://hidden.example/"], [inj])
	count(findings) == 1
	some f in findings
	contains(f.msg, "1 of 2 page(s) could not be verified (e.g. https://hidden.example/)")
	contains(f.msg, "FRAUD-INJ-001")
}

test_unverified_pages_alone_pass if {
	count(unverifiable_anomalous.deny) == 0 with input as doc(["https://hidden.example/"], [])
}

test_a_finding_alone_passes if {
	count(unverifiable_anomalous.deny) == 0 with input as doc([], [inj])
}
