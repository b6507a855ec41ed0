# METADATA
# title: Expired offer still displayed
# description: >-
#   The page promotes an offer whose end date has passed ("offer ends March 3, 2025"):
#   readers click through for a deal that no longer exists. Judged in a commercial context
#   (near a price, a call to action, a product or affiliate link, a coupon, the program's
#   brand, or in a promotional block) and outside quotations: "Expires: 18 June 2015" in an
#   Internet-Draft's header is when the document lapses, not an offer.
# custom:
#   id: OFFER-001
#   severity: medium
#   remediation: Remove the expired offer or update it with the program's current one.
package affwatch.rules.offers.expired

import data.affwatch.lib.page

pattern := `(?i)\b(?:ends?|ended|expires?|expired|expiring|valid (?:until|till|through|thru)|good (?:until|through)|through|until|till)\s*(?:on\s*)?[:]?\s*((?:\d{4}-\d{2}-\d{2})|(?:(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4})|(?:\d{1,2}(?:st|nd|rd|th)?\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?,?\s+\d{4}))`

deny contains finding if {
	regex.match(pattern, input.text) # one pass over the page first: most pages have none
	some b in page.own_blocks
	page.commercial(b)
	not document_header(b)
	some m in regex.find_all_string_submatch_n(pattern, b.text, -1)
	not header_label(m[0])
	page.unquoted(b, m[0])
	end := parse_date(m[1])
	page.now_ns > end + page.day_ns
	finding := {
		"msg": sprintf("offer dated %s is past: %q", [m[1], m[0]]),
		"evidence": page.evidence(b.text, b.selector, b.offset, lower(m[0])),
	}
}

# document_header is true for a block of a standard's or a draft's front matter, whose
# "Expires:" and "will expire on" date the document, not an offer.
document_header(b) if regex.match(front_matter, b.text)

# header_label is true for "Expires: 18 June 2015" on a page whose first screen names a
# standard or draft: the header's label in a cell of its own.
header_label(m) if {
	regex.match(`(?i)^expires?\s*:`, m)
	regex.match(front_matter, substring(input.text, 0, 3000))
}

# front_matter is the wording of a standard's or draft's header.
front_matter := `(?i)\b(?:internet[- ]draft|network working group|intended status|request for comments|status of (?:this|the) memo|obsoletes|ietf trust)\b`

# parse_date reads the date forms the pattern accepts.
parse_date(s) := time.parse_ns("2006-01-02", s) if regex.match(`^\d{4}-\d{2}-\d{2}$`, s)

parse_date(s) := ns if {
	parts := regex.find_all_string_submatch_n(`(?i)^([a-z]{3})[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})$`, s, 1)
	count(parts) == 1
	ns := time.parse_ns("Jan 2 2006", sprintf("%s %s %s", [title(parts[0][1]), parts[0][2], parts[0][3]]))
}

parse_date(s) := ns if {
	parts := regex.find_all_string_submatch_n(`(?i)^(\d{1,2})(?:st|nd|rd|th)?\s+([a-z]{3})[a-z]*\.?,?\s+(\d{4})$`, s, 1)
	count(parts) == 1
	ns := time.parse_ns("Jan 2 2006", sprintf("%s %s %s", [title(parts[0][2]), parts[0][1], parts[0][3]]))
}

title(s) := concat("", [upper(substring(s, 0, 1)), lower(substring(s, 1, -1))])
