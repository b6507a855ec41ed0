# METADATA
# description: Helpers over the Page document shared by the rules. Not a rule itself.
package affwatch.lib.page

# affiliate_links are the page's affiliate links a reader can see, in document order.
affiliate_links := [l | some l in input.links; l.affiliate != null; not l.hidden]

# disclosures are the disclosure sentences a reader can see, in document order.
disclosures := [d | some d in input.disclosures; not d.hidden]

# hidden_disclosures are disclosure sentences present in the HTML but hidden from readers.
hidden_disclosures := [d | some d in input.disclosures; d.hidden]

# first_affiliate_link is the first affiliate link a reader meets.
first_affiliate_link := affiliate_links[0] if count(affiliate_links) > 0

# program is the advertiser's parameters for this page's program ({} when none).
default program := {}

program := data.programs[input.program]

# evidence builds the evidence object of a finding.
evidence(snippet, selector, offset, key) := {
	"snippet": snippet,
	"selector": selector,
	"offset": offset,
	"url": input.url,
	"key": key,
}
