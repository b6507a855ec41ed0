package affwatch.rules.claims.prohibited_test

import data.affwatch.rules.claims.prohibited

page(text) := {"url": "u", "program": "acme", "text": text, "blocks": [{"offset": 0, "tag": "p", "text": text, "selector": "p", "hidden": false}]}

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
