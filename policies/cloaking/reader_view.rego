# METADATA
# title: "Cloaking: readers are shown another page than the crawler"
# description: >-
#   The program asked for the page as its readers arrive (programs[].cloaking_personas: a
#   browser's user agent, a search engine's referrer, a phone), and a persona was shown a
#   page that differs from the crawler's in what the guidelines judge: other affiliate links
#   (network and affiliate ID), a disclosure the crawler saw and the reader did not (or the
#   other way), or prohibited claims (CLAIM-001's categories and the program's phrases) only
#   one of them read. A partner who shows compliance tools a clean page hides what readers
#   get. The evidence has both views.
# custom:
#   id: CLOAK-001
#   severity: critical
#   remediation: >-
#     Serve every visitor the same page: remove the code that changes links, disclosures or
#     claims by user agent, referrer or device.
package affwatch.rules.cloaking.reader_view

import data.affwatch.lib.page
import data.affwatch.rules.claims.prohibited

# links are the affiliate links as network:ID.
crawler_links := {sprintf("%s:%s", [l.affiliate.network, l.affiliate.affiliate_id]) | some l in page.affiliate_links}

reader_links(v) := {sprintf("%s:%s", [l.network, l.affiliate_id]) | some l in v.affiliate_links}

# claims are the prohibited claims a text makes: CLAIM-001's categories and the program's phrases.
claims(text) := {c |
	some c, pattern in prohibited.patterns
	regex.match(pattern, text)
} | {sprintf("%q", [p]) |
	some p in object.get(page.program, "prohibited_claims", [])
	p != ""
	contains(lower(text), lower(p))
}

crawler_claims := claims(input.text)

# described says what one side saw.
described(links, disclosed, cs) := sprintf("affiliate links %s; %s; claims %s", [
	listed(links), disclosed_text(disclosed), listed(cs),
])

listed(s) := concat(", ", sort(s)) if count(s) > 0

else := "none"

disclosed_text(true) := "a disclosure"

disclosed_text(false) := "no disclosure"

differences(v) := {d |
	some d in [
		links_differ(v),
		disclosure_differs(v),
		claims_differ(v),
	]
	d != ""
}

links_differ(v) := "other affiliate links" if crawler_links != reader_links(v)

else := ""

disclosure_differs(v) := "a disclosure only the crawler saw" if {
	count(page.disclosures) > 0
	count(v.disclosures) == 0
} else := "a disclosure only the reader saw" if {
	count(page.disclosures) == 0
	count(v.disclosures) > 0
} else := ""

claims_differ(v) := "other claims" if crawler_claims != claims(v.text)

else := ""

deny contains finding if {
	some v in input.views
	v.fetch_status == "ok"
	diffs := differences(v)
	count(diffs) > 0
	crawler := described(crawler_links, count(page.disclosures) > 0, crawler_claims)
	reader := described(reader_links(v), count(v.disclosures) > 0, claims(v.text))
	finding := {
		"msg": sprintf("persona %q (%s) was shown another page than the crawler: %s", [v.persona, v.user_agent, concat(", ", sort(diffs))]),
		"evidence": page.evidence(sprintf("crawler saw: %s | reader saw: %s", [crawler, reader]), "", 0, v.persona),
	}
}
