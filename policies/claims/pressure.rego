# METADATA
# title: Pressure selling claim
# description: >-
#   The page pushes readers with false urgency, scarcity or social proof ("only 2 left",
#   "offer ends tonight", "37 people are viewing this"), the dark patterns regulators
#   name as deceptive when they are not true. Wordings only a shop uses (stock counts,
#   purchase activity, running timers) count wherever the page says them; everyday words
#   ("hurry", "in high demand", "limited time", "flash sale") count only in a commercial
#   context (near a price, a call to action, a product or affiliate link, a coupon, or in a
#   promotional block) or in a shop's badge (a short block that is not a headline, "Selling
#   fast!"). Quotations, media players' times, years and timestamps are not
#   claims. Reported as an advisory for review.
# custom:
#   id: CLAIM-002
#   severity: medium
#   remediation: >-
#     Remove urgency, scarcity and activity claims unless the advertiser supplies them live
#     and they are true.
package affwatch.rules.claims.pressure

import data.affwatch.lib.page

# shop_forms are the wordings only a shop uses, by category: judged in every block that is
# the page's own words. Each form is its own group, so one form's (?i) does not leak into
# the next.
shop_forms := {
	"urgency": [
		`(?i)\b(?:limited[- ]time (?:offer|only|deal|sale)s?|limited offer|deal of the day|(?:offer|deal|sale|price|discount|promo(?:tion)?|coupon)s? (?:ends?|expires?) (?:soon|today|tonight|at midnight|tomorrow|sunday|monday|tuesday|wednesday|thursday|friday|saturday|in \d+)|(?:sale|offer|deal|promo(?:tion)?|discount|coupon)s? ends? in)\b`,
		# countdown timers: "0 DAYS 22 HOURS 13 MINUTES", "2 days 13:06:13", "HRS MINS SECS", "00:15:07:45"
		`(?i)\b\d{1,4}\s*(?:days?|d\b)\W{0,3}\d{1,4}\s*(?:hours?|hrs?|h\b|:)`,
		`(?i)\b\d{1,2}\s*h\W{1,3}\d{1,2}\s*m\W{1,3}\d{1,2}\s*s\b`,
		`(?i)\b\d{1,2}\s*(?:hours?|hrs?)\W{0,3}\d{1,2}\s*(?:minutes?|mins?)\W{0,3}\d{1,2}\s*(?:seconds?|secs?)\b`,
		`(?i)\b(?:hours?|hrs?)\W{1,4}(?:minutes?|mins?)\W{1,4}(?:seconds?|secs?)\b`,
		# a bare clock "23:07:10" is a timestamp; a timer counts days too, or starts at 00
		`\b\d{1,2}\s?:\s?\d{2}\s?:\s?\d{2}\s?:\s?\d{2}\b|\b00\s?:\s?\d{2}\s?:\s?\d{2}\b`,
		# "cart will expire in 04:53", "your order is reserved for 09:35", "checkout within 04:10"
		`(?i)\b(?:expires?|checkout|check out|complete your (?:order|purchase)|reserved|held|prioritized|released)\b[^.!?]{0,25}?\d{1,2}\s?:\s?\d{2}`,
		`(?i)\b(?:released|reserved|held|prioritized) (?:in|for)\W{0,3}\d+\s*(?:min(?:ute)?s?|hours?|sec(?:ond)?s?)\b`,
		`(?i)\b(?:cart|order|items?|stock|price|offer|deal|sale|discount)\b[^.!?]{0,20}?\b(?:expires?|reserved|held|guaranteed)\s+(?:in|for)\b`,
	],
	"scarcity": [
		# "1 LEFT", "2 in stock", "10 SEATS LEFT", "(5 Left)", "23% left in stock"
		`(?i)\b\d+%?\s*(?:(?:items?|item\(s\)|units?|pieces?|piece\(s\)|pcs|seats?|spots?|rooms?|tickets?|pairs?)\s+)?(?:left|in stock)\b`,
		`(?i)\b(?:only \d+ (?:left|remaining|available|in stock)|\d+ (?:left|remaining) in stock|(?:almost|nearly) sold out|low (?:in )?stock|limited (?:stock|quantit(?:y|ies))|while (?:supplies|stocks?) last|few (?:items|units) left|once it'?s gone,? it'?s gone|last (?:one|few|items?|units?|pieces?|pairs?) (?:left|in stock|available|remaining))\b`,
		# "Only one item left in stock", "Only 4 unit(s) available", "Only a few more left", "90% offers claimed"
		`(?i)\bonly (?:one|two|three|a few|\d+)(?: more)?(?: (?:items?|item\(s\)|units?|unit\(s\)|products?|pieces?|copies|stocks?|deals?|pairs?|yards?|tickets?|seats?|spots?))? (?:left|remaining|available)\b|\b\d+%? (?:of )?(?:offers? |deals? |coupons? )?claimed\b`,
	],
	"social_proof": [
		`(?i)\b(?:\d[\d,]* (?:people|others|shoppers|customers|users|visitors) (?:are |have )?(?:viewing|looking at|watching|bought|purchased|ordered|added)|(?:someone|a customer|a shopper) (?:in|from) [A-Z][a-zA-Z ,]+ (?:just )?(?:bought|purchased|ordered)|\d[\d,]* (?:sold|purchased|bought|orders?) (?:in the )?(?:last|past) \d+ ?(?:hours?|days?|minutes?)|(?:bought|purchased|sold) \d[\d,]* times)`,
		# "1,446 people have viewed this item", "2 people are looking right now", "135 people have this in their cart"
		`(?i)\b\d[\d,]*\+?\s+(?:other\s+)?(?:people|persons?|customers?|shoppers?|users?|visitors?|others|buyers?|guests?)\s+(?:(?:are|is|have|has|just|recently|currently|also|already|right now)\s+){0,2}(?:viewing|viewed|looking|looked|seeing|seen|watching|watched|bought|buying|purchased|purchasing|ordered|ordering|added|shopping|browsing|have (?:this|it) in)`,
		# "143 BOUGHT", "12 recently purchased it", "1044 sold in past 12 months", "2 viewed per hour"
		`(?i)\b\d[\d,]*\+?\s+(?:recently\s+|just\s+)?(?:bought|purchased|sold|viewed|orders?)\b(?:\s+(?:it|this|in|per|today|recently|since|over)\b)`,
		`(?i)\b(?:in|to) (?:their|other people'?s) (?:carts?|baskets?|bags?)\b`,
		# "143 BOUGHT", "43 added to bag", "89 currently viewing", "273 units sold", "24 people currently interested"
		`(?i)\b\d[\d,]*\+?\s+(?:(?:units?|items?|pieces?)\s+)?(?:bought|sold|added|(?:currently |now )?viewing|(?:currently )?watching)\b`,
		`(?i)\b\d[\d,]*\+?\s+(?:people|customers?|shoppers?|users?|visitors?|others)\s+(?:are\s+)?(?:currently\s+|now\s+)?(?:interested|eyeing|considering|like this|love this|want this)`,
		`(?i)\b\d+ (?:people|shoppers|customers) (?:have )?(?:recently |just )?(?:viewed|bought|purchased)\b`,
		# "Collin P. from Grandview just bought ...", "Carol in St. Louis, Missouri bought ...",
		# "Armin D. bought ... about 10 seconds ago"
		`\b[A-Z][A-Za-z.'-]*(?: [A-Z][A-Za-z.'-]*)? (?:in|from) [A-Z][\w.,' -]{1,50}? just (?:bought|purchased|ordered|got)\b`,
		`\b[A-Z][A-Za-z.'-]*(?: [A-Z][A-Za-z.'-]*)? (?:in|from) [A-Z][\w.' -]{0,30}, [A-Z][\w.' ()-]{1,30}? (?:bought|purchased|ordered)\b`,
		`(?i)\b(?:bought|purchased|ordered)\b[^.!?]{0,80}?\b\d+\s+(?:seconds?|minutes?|mins?|hours?|hrs?|days?)\s+ago\b`,
	],
}

# shop_words are, by category, the words every match of one of its shop forms holds (one of
# them at least): only blocks holding one are read (reads).
shop_words := {
	"urgency": {
		"limited", "deal", "end", "ends", "expire", "expires", "day", "days", "d", "h", "hour", "hours",
		"hr", "hrs", ":", "released", "reserved", "held", "prioritized", "guaranteed",
	},
	"scarcity": {"left", "remaining", "available", "stock", "sold", "limited", "while", "once", "last", "only", "claimed"},
	"social_proof": {
		"people", "person", "persons", "others", "shopper", "shoppers", "customer", "customers", "user", "users",
		"visitor", "visitors", "buyer", "buyers", "guest", "guests", "someone", "sold", "purchased", "bought",
		"order", "orders", "ordered", "viewed", "cart", "carts", "basket", "baskets", "bag", "bags", "added",
		"viewing", "watching", "just",
	},
}

# context_forms are everyday words that are pressure only where something is sold: judged
# in blocks with a commercial context.
context_forms := {
	"urgency": [
		`(?i)\b(?:hurry(?: up)?|act (?:now|fast|quickly)|last chance|limited[- ]time|for (?:a )?limited time|ends? (?:soon|today|tonight|at midnight|tomorrow|sunday|monday|tuesday|wednesday|thursday|friday|saturday)|only today|today only|don'?t miss (?:out|this)|before it'?s (?:too late|gone)|countdown|flash sale|(?:expires?|ends?) in \d+ ?(?:h|hours?|m|min(?:utes?)?|s|sec(?:onds?)?)\b)`,
		`(?i)\b(?:ends?|expires?)\s+in\b[^.!?]{0,12}?\d+\s*(?:days?|hours?|hrs?|min(?:ute)?s?|sec(?:ond)?s?)\b`,
		# "order within 04:10", "activate in 09:59"
		`(?i)\b(?:ends?|within|left|activate|order|buy|remaining)\b[^.!?]{0,25}?\d{1,2}\s?:\s?\d{2}`,
	],
	"scarcity": [`(?i)\b(?:(?:very |extremely )?high[- ]demand|(?:strong|huge|big) demand|in (?:high |great )?demand|(?:will|may|could) sell out|sells? out fast|(?:just|only) a few left|(?:almost|nearly) gone|selling (?:fast|out)|limited (?:stock|supply|quantit(?:y|ies)|availability)|going fast)\b`],
	"social_proof": [
		`(?i)\b\d[\d,]*\+?\s+[a-z]+s\s+(?:(?:are|is|have|has|just|recently|currently|also|already|right now)\s+){0,2}(?:viewing|viewed|looking at|looked at|watching|bought|buying|purchased|ordered|added|have (?:this|it) in)`,
		`(?i)\b(?:several|many|lots of) (?:people|shoppers|customers) (?:have )?(?:recently |just )?(?:viewed|bought|purchased)\b`,
		`\b[A-Z][A-Za-z.'-]*(?: [A-Z][A-Za-z.'-]*)? (?:in|from) [A-Z][\w.,' -]{1,50}? (?:bought|purchased|ordered|got)\b`,
	],
}

# context_words are, by category, the words every match of one of its context forms holds,
# or, for forms that let a word go on ("hurry" of "hurrying"), a stem (context_stems).
context_words := {
	"urgency": {
		"act", "last", "limited", "end", "ends", "only", "today", "miss", "before",
		"flash", "expire", "expires", ":",
	},
	"scarcity": {"demand", "sell", "sells", "left", "gone", "selling", "limited", "going"},
	"social_proof": {"have", "people", "shoppers", "customers", "got"},
}

# context_stems are the beginnings of words the context forms let go on, by category.
context_stems := {
	"urgency": {"hurry", "countdown"},
	"social_proof": {"viewing", "viewed", "looking", "looked", "watching", "bought", "buying", "purchased", "ordered", "added"},
}

# look_alikes look like claims and are not: a timestamp ("2022-09-30 00:49:50", "10:42:07
# UTC"), a build stamp of five or more numbers ("26:05:02:15:29:35"), a media player's
# times ("Remaining Time -0:00", "0:00 / 3:45").
look_alikes := concat("|", [
	`\b\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}(?::\d{2})?`,
	`(?i)\b\d{1,2}:\d{2}:\d{2}\s*(?:am|pm|utc|gmt|z|[ecmp][sd]t)\b`,
	`\b\d+(?:\s?:\s?\d+){4,}`,
	`(?i)\b(?:remaining|elapsed|current|duration|total|play(?:back)?)\s+time\b\W{0,4}\d{1,2}:\d{2}(?::\d{2})?`,
	`\b\d{1,2}:\d{2}(?::\d{2})?\s*/\s*\d{1,2}:\d{2}(?::\d{2})?\b`,
])

# a_year is true when a count is a year: "a snowstorm in 2016 left the streets coated".
a_year(m) if regex.match(`^(?:19\d\d|20\d\d|2100)\s`, m)

forms := {"shop": shop_forms, "context": context_forms}

words := {"shop": shop_words, "context": context_words}

stems := {"context": context_stems}

patterns := {kind: {category: concat("|", [sprintf("(?:%s)", [f]) | some f in fs]) | some category, fs in cats} |
	some kind, cats in forms
}

# reads are the blocks to read for a category of claims, as [kind, category, block index]:
# the blocks that hold one of its words or stems (page.words, page.blocks_with_stem).
reads contains [kind, category, i] if {
	some kind, cats in words
	some category, ws in cats
	some blocks in object.filter(page.words, ws)
	some i in blocks
}

reads contains [kind, category, i] if {
	some kind, cats in stems
	some category, ss in cats
	some stem in ss
	some i in page.blocks_with_stem(stem)
}

# in_context is true when a block may carry claims of that kind: shop wordings anywhere,
# everyday words where something is sold or in a shop's badge ("Selling fast!").
in_context("shop", _, _, _)

in_context("context", category, b, m) if {
	commercial_or_badge(b)
	not shop_claim(category, b, m)
}

commercial_or_badge(b) if page.commercial(b)

commercial_or_badge(b) if page.badge(b)

# shop_claim is true when m is part of a shop wording found in the block already ("limited
# time" in "limited time offer"), so it is not reported twice.
shop_claim(category, b, m) if {
	some x in regex.find_n(patterns.shop[category], b.text, -1)
	contains(x, m)
}

warn contains finding if {
	some [kind, category, i] in reads
	pattern := patterns[kind][category]
	b := input.blocks[i]
	page.own(b)
	some m in regex.find_n(pattern, b.text, -1)
	in_context(kind, category, b, m)
	not a_year(m)
	page.claimed(b, m, look_alikes)
	finding := {
		"msg": sprintf("%s claim: %q", [category, m]),
		"evidence": page.evidence(b.text, b.selector, b.offset, lower(m)),
	}
}
