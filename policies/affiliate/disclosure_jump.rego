# METADATA
# title: Disclosure removed the week the conversion rate jumped
# description: >-
#   A page that carried a clear disclosure at the scan before (at most 7 days earlier) has
#   none now, and the partner's conversion rate this period is at least one and a half
#   times the period before's. Readers who are not told about the commission convert
#   better: a partner testing what the disclosure costs it.
# custom:
#   id: JOIN-004
#   severity: high
#   remediation: >-
#     Ask the partner to restore the disclosure at once; review the conversions since it
#     went.
package affwatch.affiliate_rules.joined.disclosure_jump

week_ns := ((7 * 24) * 3600) * 1000000000

deny contains finding if {
	cur := input.scorecard.current
	prev := input.scorecard.previous
	cur.conversions >= 5
	prev.conversion_rate > 0
	cur.conversion_rate >= 1.5 * prev.conversion_rate
	some p in input.pages
	p.verified
	p.disclosures == 0
	before := p.previous
	before.verified
	before.disclosures > 0
	time.parse_rfc3339_ns(p.fetched_at) - time.parse_rfc3339_ns(before.fetched_at) <= week_ns
	finding := {
		"msg": sprintf("%s had %d disclosure(s) on %s and has none now, while the conversion rate went from %v%% to %v%%", [
			p.url, before.disclosures, substring(before.fetched_at, 0, 10), percent(prev.conversion_rate), percent(cur.conversion_rate),
		]),
		"evidence": {
			"snippet": p.url, "url": p.url, "key": p.url,
			"numbers": {"value": cur.conversion_rate, "baseline": prev.conversion_rate, "disclosures_before": before.disclosures},
		},
	}
}

# percent writes a share as a percentage with at most two decimals (sprintf's %f refuses a
# number that happens to be whole).
percent(x) := round(x * 10000) / 100
