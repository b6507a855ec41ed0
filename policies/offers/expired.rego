# METADATA
# title: Expired offer still displayed
# description: >-
#   The page promotes an offer whose end date has passed ("offer ends March 3, 2025"):
#   readers click through for a deal that no longer exists.
# custom:
#   id: OFFER-001
#   severity: medium
#   remediation: Remove the expired offer or update it with the program's current one.
package affwatch.rules.offers.expired

import data.affwatch.lib.page

pattern := `(?i)\b(?:ends?|ended|expires?|expired|expiring|valid (?:until|till|through|thru)|good (?:until|through)|through|until|till)\s*(?:on\s*)?[:]?\s*((?:\d{4}-\d{2}-\d{2})|(?:(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4})|(?:\d{1,2}(?:st|nd|rd|th)?\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?,?\s+\d{4}))`

deny contains finding if {
	regex.match(pattern, input.text) # one pass over the page first: most pages have none
	some b in page.visible_blocks
	some m in regex.find_all_string_submatch_n(pattern, b.text, -1)
	end := parse_date(m[1])
	page.now_ns > end + page.day_ns
	finding := {
		"msg": sprintf("offer dated %s is past: %q", [m[1], m[0]]),
		"evidence": page.evidence(b.text, b.selector, b.offset, lower(m[0])),
	}
}

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
