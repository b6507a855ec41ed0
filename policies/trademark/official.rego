# METADATA
# title: Partner claims to be the brand's official site
# description: >-
#   The page calls itself the brand's "official site" (or store, website, shop). Only the
#   advertiser may say that; on a partner's page it deceives readers.
# custom:
#   id: TM-002
#   severity: high
#   remediation: Remove "official" claims; say clearly that the site is an independent partner.
package affwatch.rules.trademark.official

import data.affwatch.lib.page

deny contains finding if {
	not page.on_landing_domain(input.url)
	contains(lower(input.text), "official")
	some term in page.brand_terms
	some b in page.visible_blocks
	t := regex.replace(term, `([\\.^$|?*+()\[\]{}])`, `\$1`)
	pattern := sprintf(`(?i)\bofficial\s+(?:%s\s+)?(?:site|web ?site|store|shop|page|online store)\b[^.]*\b%s\b|\b%s(?:'s)?\s+official\s+(?:site|web ?site|store|shop|page|online store)\b|\bofficial\s+%s\s+(?:site|web ?site|store|shop|page)\b`, [t, t, t, t])
	some m in regex.find_n(pattern, b.text, 1)
	finding := {
		"msg": sprintf("the page claims to be official: %q", [m]),
		"evidence": page.evidence(b.text, b.selector, b.offset, lower(m)),
	}
}
