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

# forms are the wordings of each category; each is its own group, so one form's (?i) does not
# leak into the next.
forms := {
	"urgency": [
		`(?i)\b(?:hurry(?: up)?|act (?:now|fast|quickly)|last chance|limited[- ]time (?:offer|only|deal)|(?:offer|deal|sale|price)s? (?:ends?|expires?) (?:soon|today|tonight|in \d+)|ends? (?:soon|today|tonight|at midnight)|only today|today only|don'?t miss (?:out|this)|before it'?s (?:too late|gone)|(?:expires?|ends?) in \d+ ?(?:h|hours?|m|min(?:utes?)?|s|sec(?:onds?)?)\b|countdown|flash sale|deal of the day|for (?:a )?limited time)`,
		# countdown timers: "0 DAYS 22 HOURS 13 MINUTES", "2 days 13:06:13", "HRS MINS SECS", "00:15:07:45"
		`(?i)\b\d{1,4}\s*(?:days?|d\b)\W{0,3}\d{1,4}\s*(?:hours?|hrs?|h\b|:)`,
		`(?i)\b\d{1,2}\s*h\W{1,3}\d{1,2}\s*m\W{1,3}\d{1,2}\s*s\b`,
		`(?i)\b(?:ends?|expires?)\s+in\b[^.!?]{0,12}?\d+\s*(?:days?|hours?|hrs?|min(?:ute)?s?|sec(?:ond)?s?)\b`,
		`(?i)\b(?:limited[- ]time|limited offer|(?:sale|offer|deal|promo(?:tion)?|discount)s? ends? in|ends? (?:sunday|monday|tuesday|wednesday|thursday|friday|saturday|tomorrow))\b`,
		`(?i)\b\d{1,2}\s*(?:hours?|hrs?)\W{0,3}\d{1,2}\s*(?:minutes?|mins?)\W{0,3}\d{1,2}\s*(?:seconds?|secs?)\b`,
		`(?i)\b(?:hours?|hrs?)\W{1,4}(?:minutes?|mins?)\W{1,4}(?:seconds?|secs?)\b`,
		# a bare clock "23:07:10" is a timestamp; a timer counts days too, or starts at 00
		`\b\d{1,2}\s?:\s?\d{2}\s?:\s?\d{2}\s?:\s?\d{2}\b|\b00\s?:\s?\d{2}\s?:\s?\d{2}\b`,
		# "cart will expire in 04:53", "checkout within 04:10", "reserved for 10 minutes"
		`(?i)\b(?:expires?|ends?|within|left|activate|checkout|check out|complete your (?:order|purchase)|order|buy|remaining|prioritized|reserved|released)\b[^.!?]{0,25}?\d{1,2}\s?:\s?\d{2}`,
		`(?i)\b(?:released|reserved|held|prioritized) (?:in|for)\W{0,3}\d+\s*(?:min(?:ute)?s?|hours?|sec(?:ond)?s?)\b`,
		`(?i)\b(?:cart|order|items?|stock|price|offer|deal|sale|discount)\b[^.!?]{0,20}?\b(?:expires?|reserved|held|guaranteed)\s+(?:in|for)\b`,
	],
	"scarcity": [
		# "1 LEFT", "2 in stock", "10 SEATS LEFT", "(5 Left)", "23% left in stock"
		`(?i)\b\d+%?\s*(?:(?:items?|units?|pieces?|piece\(s\)|pcs|seats?|spots?|rooms?|tickets?|pairs?)\s+)?(?:left|in stock)\b`,
		`(?i)\b(?:(?:very |extremely )?high[- ]demand|in demand|once it'?s gone,? it'?s gone|(?:will|may|could) sell out|sells? out fast)\b`,
		`(?i)\b(?:only \d+ (?:left|remaining|available|in stock)|(?:just|only) a few left|\d+ (?:left|remaining) in stock|(?:almost|nearly) (?:gone|sold out)|selling (?:fast|out)|low (?:in )?stock|limited (?:stock|supply|quantit(?:y|ies)|availability)|while (?:supplies|stocks?) last|in (?:high|great) demand|few (?:items|units) left|going fast|last (?:one|few|items?|units?|pieces?|pairs?) (?:left|in stock|available|remaining))\b`,
	],
	"social_proof": [
		`(?i)\b(?:\d[\d,]* (?:people|others|shoppers|customers|users|visitors) (?:are |have )?(?:viewing|looking at|watching|bought|purchased|ordered|added)|(?:someone|a customer|a shopper) (?:in|from) [A-Z][a-zA-Z ,]+ (?:just )?(?:bought|purchased|ordered)|\d[\d,]* (?:sold|purchased|bought|orders?) (?:in the )?(?:last|past) \d+ ?(?:hours?|days?|minutes?)|(?:bought|purchased|sold) \d[\d,]* times)`,
		# "1,446 people have viewed this item", "2 people are looking right now", "135 people have this in their cart"
		`(?i)\b\d[\d,]*\+?\s+(?:other\s+)?(?:people|persons?|customers?|shoppers?|users?|visitors?|others|buyers?|guests?|[a-z]+s)\s+(?:(?:are|is|have|has|just|recently|currently|also|already|right now)\s+){0,2}(?:viewing|viewed|looking|looked|seeing|seen|watching|watched|bought|buying|purchased|purchasing|ordered|ordering|added|shopping|browsing|have (?:this|it) in)`,
		# "143 BOUGHT", "12 recently purchased it", "1044 sold in past 12 months", "2 viewed per hour"
		`(?i)\b\d[\d,]*\+?\s+(?:recently\s+|just\s+)?(?:bought|purchased|sold|viewed|orders?)\b(?:\s+(?:it|this|in|per|today|recently|since|over)\b)`,
		`(?i)\b(?:in|to) (?:their|other people'?s) (?:carts?|baskets?|bags?)\b`,
		# "143 BOUGHT", "43 added to bag", "89 currently viewing", "273 units sold", "24 people currently interested"
		`(?i)\b\d[\d,]*\+?\s+(?:(?:units?|items?|pieces?)\s+)?(?:bought|sold|added|(?:currently |now )?viewing|(?:currently )?watching)\b`,
		`(?i)\b\d[\d,]*\+?\s+(?:people|customers?|shoppers?|users?|visitors?|others)\s+(?:are\s+)?(?:currently\s+|now\s+)?(?:interested|eyeing|considering|like this|love this|want this)`,
		`(?i)\b(?:several|many|lots of|\d+) (?:people|shoppers|customers) (?:have )?(?:recently |just )?(?:viewed|bought|purchased)\b`,
		# "Carol in St. Louis, Missouri bought ...", "Armin D. bought ... about 10 seconds ago"
		`\b[A-Z][A-Za-z.'-]*(?: [A-Z][A-Za-z.'-]*)? (?:in|from) [A-Z][\w.,' -]{1,50}? (?:just )?(?:bought|purchased|ordered|got)\b`,
		`(?i)\b(?:bought|purchased|ordered)\b[^.!?]{0,80}?\b\d+\s+(?:seconds?|minutes?|mins?|hours?|hrs?|days?)\s+ago\b`,
	],
}

patterns := {category: concat("|", [sprintf("(?:%s)", [f]) | some f in fs]) | some category, fs in forms}

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
