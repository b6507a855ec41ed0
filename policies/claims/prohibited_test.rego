package affwatch.rules.claims.prohibited_test

import data.affwatch.rules.claims.prohibited

# page is a claim beside a product link; prose is the same text with nothing sold near it.
page(text) := {"url": "u", "program": "acme", "text": text, "blocks": [{"offset": 0, "tag": "p", "text": text, "selector": "p", "hidden": false, "context": {"commercial": true, "signals": ["product_link"]}}]}

prose(text) := {"url": "u", "program": "acme", "text": text, "blocks": [{"offset": 0, "tag": "p", "text": text, "selector": "p", "hidden": false, "context": {}}]}

programs := {"acme": {"prohibited_claims": ["cures insomnia", "best coffee in the world"]}}

test_built_in_claims_denied if {
	every text in [
		"This tea cures cancer.", "Guaranteed weight loss in a month!", "Make $500 a day from home",
		"Try it risk-free for 30 days", "A miracle pill for sleep", "No side effects at all", "Lose 10 pounds in 7 days",
	] {
		count(prohibited.deny) > 0 with input as page(text) with data.programs as {}
	}
}

test_each_category_named if {
	fs := prohibited.deny with input as page("It is risk-free and guaranteed results.") with data.programs as {}
	msgs := {f.msg | some f in fs}
	count(msgs) == 2
}

test_program_phrases_denied if {
	fs := prohibited.deny with input as page("The best coffee in the world!") with data.programs as programs
	count(fs) == 1
}

test_ordinary_text_passes if {
	count(prohibited.deny) == 0 with input as page("A solid grinder that makes good coffee and is easy to clean.")
		with data.programs as programs
}

test_hidden_text_ignored if {
	inp := {"url": "u", "blocks": [{"offset": 0, "tag": "p", "text": "cures cancer", "selector": "p", "hidden": true}]}
	count(prohibited.deny) == 0 with input as inp with data.programs as {}
}

# Built-in claims sell something only in a commercial context: a news story on a drug's
# approval is not a partner's claim.
test_built_in_claims_in_prose_pass if {
	count(prohibited.deny) == 0 with input as prose("The FDA-approved drug was shown to treat cancer in two trials, the agency said.")
		with data.programs as {}
}

# The program's own phrases count anywhere the page says them.
test_program_phrases_count_in_prose if {
	count(prohibited.deny) == 1 with input as prose("The best coffee in the world!") with data.programs as programs
}

# A title of a work ("The Prevent and Reverse Heart Disease Cookbook") and a quotation are
# not the page's claims.
test_titles_and_quotations_pass if {
	text := "Her recipes appear in The Prevent and Reverse Heart Disease Cookbook."
	inp := {"url": "u", "program": "acme", "text": text, "blocks": [{"offset": 0, "tag": "p", "text": text, "selector": "p", "hidden": false, "context": {"commercial": true, "signals": ["affiliate_link"], "quotes": [{"start": 22, "end": 68}]}}]}
	count(prohibited.deny) == 0 with input as inp with data.programs as {}
	q := `"It is the best coffee in the world," a reader wrote.`
	inq := {"url": "u", "program": "acme", "text": q, "blocks": [{"offset": 0, "tag": "p", "text": q, "selector": "p", "hidden": false, "context": {"quotes": [{"start": 0, "end": 37}]}}]}
	count(prohibited.deny) == 0 with input as inq with data.programs as programs
}
