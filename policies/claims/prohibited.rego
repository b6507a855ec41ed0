# METADATA
# title: Prohibited claim
# description: >-
#   The page makes a claim that advertisers may not make and so partners may not make for
#   them: health cures and treatment, guaranteed results, income promises, "risk-free",
#   miracle products, and the program's own list of prohibited phrases. The built-in
#   claims count in a commercial context (near a price, a call to action, a product or
#   affiliate link, a coupon, the program's brand, or in a promotional block), where they
#   sell something; the program's phrases count anywhere. Quotations and titles of works
#   ("The Prevent and Reverse Heart Disease Cookbook") are not the page's claims.
# custom:
#   id: CLAIM-001
#   severity: high
#   remediation: Remove the claim, or replace it with wording the program's guidelines allow.
package affwatch.rules.claims.prohibited

import data.affwatch.lib.page

# patterns are the built-in prohibited claims by category.
patterns := {
	"health": `(?i)\b(?:cures?|cured|heals?|healing)\s+(?:your\s+|the\s+)?(?:cancer|diabetes|arthritis|insomnia|anxiety|depression|acne|covid|disease|illness|pain|infections?|alzheimer'?s|hair loss|obesity)\b|\bcure for\b|\b(?:treats?|prevents?|reverses?)\s+(?:cancer|diabetes|covid|alzheimer'?s|heart disease|disease)\b|\bno side[- ]effects\b|\bfda[- ]approved\b`,
	"guarantee": `(?i)\bguaranteed\s+(?:results?|weight loss|to (?:work|lose|cure|make|earn)|income|returns?|profits?|success)\b|\b(?:results|success|weight loss)\s+guaranteed\b|\b100\s?%\s+guaranteed\b`,
	"income": `(?i)\bmake\s+\$\s?[\d,]+(?:k)?\s+(?:a|per|every)\s+(?:day|week|month|hour)\b|\bearn\s+\$\s?[\d,]+(?:k)?\s+(?:a|per|every)\s+(?:day|week|month|hour)\b|\bget rich\b|\bquit your (?:day )?job\b|\bguaranteed (?:passive )?income\b`,
	"risk": `(?i)\brisk[- ]free\b|\bno risk\b|\bzero risk\b|\bcan'?t lose\b`,
	"miracle": `(?i)\bmiracle\s+(?:cure|pill|product|diet|supplement)\b|\bmagic pill\b|\blose\s+\d+\s+(?:lbs|pounds|kg|kilos)\s+in\s+\d+\s+(?:days?|weeks?)\b`,
}

# words are, by category, the words every match of its pattern holds (one of them at
# least): only blocks holding one are read (page.words).
words := {
	"health": {
		"cure", "cures", "cured", "heal", "heals", "healing", "treat", "treats", "prevent", "prevents",
		"reverse", "reverses", "effects", "fda",
	},
	"guarantee": {"guaranteed"},
	"income": {"make", "earn", "rich", "quit", "income"},
	"risk": {"risk", "lose"},
	"miracle": {"miracle", "pill", "lose"},
}

deny contains finding if {
	some category, ws in words
	some blocks in object.filter(page.words, ws)
	pattern := patterns[category]
	some i in blocks
	b := input.blocks[i]
	page.own(b)
	page.commercial(b)
	some m in regex.find_n(pattern, b.text, -1)
	page.unquoted(b, m)
	finding := {
		"msg": sprintf("prohibited %s claim: %q", [category, m]),
		"evidence": page.evidence(b.text, b.selector, b.offset, lower(m)),
	}
}

# phrases are the program's prohibited phrases the page's visible text holds (lower-cased):
# only for those are the blocks read, so a page without one costs a look at its text.
phrases contains phrase if {
	some phrase in object.get(page.program, "prohibited_claims", [])
	phrase != ""
	contains(page.lower_text, lower(phrase))
}

deny contains finding if {
	some phrase in phrases
	some b in page.own_blocks
	contains(lower(b.text), lower(phrase))
	page.unquoted({"text": lower(b.text), "context": object.get(b, "context", {})}, lower(phrase))
	finding := {
		"msg": sprintf("claim the program prohibits: %q", [phrase]),
		"evidence": page.evidence(b.text, b.selector, b.offset, lower(phrase)),
	}
}
