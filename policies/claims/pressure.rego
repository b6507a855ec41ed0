# METADATA
# title: Pressure selling claim
# description: >-
#   The page pushes readers with false urgency, scarcity or social proof ("only 2 left",
#   "offer ends tonight", "37 people are viewing this"), the dark patterns regulators
#   name as deceptive when they are not true. Reported as an advisory for review.
# custom:
#   id: CLAIM-002
#   severity: medium
#   remediation: >-
#     Remove urgency, scarcity and activity claims unless the advertiser supplies them live
#     and they are true.
package affwatch.rules.claims.pressure

import data.affwatch.lib.page

patterns := {
	"urgency": `(?i)\b(?:hurry(?: up)?|act (?:now|fast|quickly)|last chance|limited[- ]time (?:offer|only|deal)|(?:offer|deal|sale|price)s? (?:ends?|expires?) (?:soon|today|tonight|in \d+)|ends? (?:soon|today|tonight|at midnight)|only today|today only|don'?t miss (?:out|this)|before it'?s (?:too late|gone)|(?:expires?|ends?) in \d+ ?(?:h|hours?|m|min(?:utes?)?|s|sec(?:onds?)?)\b|countdown|flash sale|deal of the day)`,
	"scarcity": `(?i)\b(?:only \d+ (?:left|remaining|available|in stock)|(?:just|only) a few left|\d+ (?:left|remaining) in stock|(?:almost|nearly) (?:gone|sold out)|selling (?:fast|out)|low (?:in )?stock|limited (?:stock|supply|quantit(?:y|ies)|availability)|while (?:supplies|stocks?) last|in (?:high|great) demand|few (?:items|units) left|going fast|last (?:one|few|items?))\b`,
	"social_proof": `(?i)\b(?:\d[\d,]* (?:people|others|shoppers|customers|users|visitors) (?:are |have )?(?:viewing|looking at|watching|bought|purchased|ordered|added)|(?:someone|a customer|a shopper) (?:in|from) [A-Z][a-zA-Z ,]+ (?:just )?(?:bought|purchased|ordered)|\d[\d,]* (?:sold|purchased|bought|orders?) (?:in the )?(?:last|past) \d+ ?(?:hours?|days?|minutes?)|(?:bought|purchased|sold) \d[\d,]* times)`,
}

warn contains finding if {
	some category, pattern in patterns
	regex.match(pattern, input.text) # one pass over the page first: most pages have none
	some b in page.visible_blocks
	some m in regex.find_n(pattern, b.text, -1)
	finding := {
		"msg": sprintf("%s claim: %q", [category, m]),
		"evidence": page.evidence(b.text, b.selector, b.offset, lower(m)),
	}
}
