package affwatch.affiliate_rules.joined.changed_after_approval_test

import data.affwatch.affiliate_rules.joined.changed_after_approval

ours := {"network": "awin", "merchant": "1001", "links": 2, "ours": true}

rival := {"network": "awin", "merchant": "2002", "links": 1, "ours": false}

vetting(verdict) := {
	"site": "https://blog.example", "verdict": verdict, "vetted_at": "2026-11-01T10:00:00Z", "days_since": 13,
	"disclosures": 2, "promotions": [ours], "rule_ids": ["LINK-001"],
}

page(disclosures) := {"url": "https://blog.example/", "verified": true, "disclosures": disclosures}

doc(v, promotions, disclosures, violations) := {
	"vetting": v, "promotions": promotions, "pages": [page(disclosures)], "violations": violations,
}

test_as_vetted_passes if {
	count(changed_after_approval.deny) == 0 with input as doc(vetting("approve"), [ours], 1, [])
}

test_new_program_after_approval_denied if {
	findings := changed_after_approval.deny with input as doc(vetting("approve"), [ours, rival], 1, [])
	count(findings) == 1
	some f in findings
	f.msg == "changed since it was approved on 2026-11-01 (vetting of https://blog.example): promotes awin 2002 (1 link(s)), which the vetted pages did not"
	f.evidence.key == "program:awin 2002"
}

test_disclosures_gone_after_approval_denied if {
	some f in changed_after_approval.deny with input as doc(vetting("approve"), [ours], 0, [])
	f.evidence.key == "disclosures"
	contains(f.msg, "no disclosure on the 1 verified page(s); the vetted pages had 2")
}

test_new_violation_after_approval_denied if {
	v := {"rule_id": "DISC-002", "source": "policy", "severity": "medium", "url": "https://blog.example/"}
	some f in changed_after_approval.deny with input as doc(vetting("approve"), [ours], 1, [v])
	f.evidence.key == "rule:DISC-002"
}

test_violation_seen_when_vetted_or_minor_passes if {
	seen := {"rule_id": "LINK-001", "source": "policy", "severity": "medium", "url": "https://blog.example/"}
	minor := {"rule_id": "LINK-002", "source": "policy", "severity": "low", "url": "https://blog.example/"}
	count(changed_after_approval.deny) == 0 with input as doc(vetting("approve"), [ours], 1, [seen, minor])
}

test_not_approved_or_not_vetted_passes if {
	count(changed_after_approval.deny) == 0 with input as doc(vetting("review"), [ours, rival], 0, [])
	count(changed_after_approval.deny) == 0 with input as doc(null, [ours, rival], 0, [])
}
