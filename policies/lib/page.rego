# METADATA
# description: Helpers over the Page document shared by the rules. Not a rule itself.
package affwatch.lib.page

# affiliate_links are the page's affiliate links a reader can see, in document order.
affiliate_links := [l | some l in input.links; l.affiliate != null; not l.hidden]

# clear_disclosures are the sentences that state a material connection, seen or not.
clear_disclosures := [d | some d in input.disclosures; not d.vague]

# invisible is true for a disclosure a reader cannot see: hidden in the HTML, or, on a
# rendered page, laid out where no reader sees it (layout.visible false: a stylesheet's
# display:none, off-screen, clipped, transparent...). An element the browser did not find
# again (hidden_by "missing") is not judged invisible.
invisible(d) if d.hidden

invisible(d) if {
	d.layout.visible == false
	d.layout.hidden_by != "missing"
}

# disclosures are the clear disclosure sentences a reader can see, in document order.
disclosures := [d | some d in clear_disclosures; not invisible(d)]

# hidden_disclosures are clear disclosure sentences present in the page but hidden from readers.
hidden_disclosures := [d | some d in clear_disclosures; invisible(d)]

# vague_disclosures are visible sentences that only hint at a connection ("#sp", "partner").
vague_disclosures := [d | some d in input.disclosures; d.vague; not invisible(d)]

# first_affiliate_link is the first affiliate link a reader meets.
first_affiliate_link := affiliate_links[0] if count(affiliate_links) > 0

# program is the advertiser's parameters for this page's program ({} when none).
default program := {}

program := data.programs[input.program]

# brand_terms are the program's trademarks, lower-cased.
brand_terms := {lower(t) | some t in object.get(program, "brand_terms", []); t != ""}

# landing_domains are the program's own domains, lower-cased.
landing_domains := {lower(d) | some d in object.get(program, "landing_domains", []); d != ""}

# host is the lower-cased host name of a URL ("" when it has none).
host(url) := lower(m[0][1]) if {
	m := regex.find_all_string_submatch_n(`^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?([^/:?#]+)`, url, 1)
	count(m) == 1
} else := ""

# on_domain is true when host is domain or one of its subdomains.
on_domain(h, domain) if h == domain

on_domain(h, domain) if endswith(h, concat("", [".", domain]))

# on_landing_domain is true when a URL's host is one of the program's landing domains.
on_landing_domain(url) if {
	some d in landing_domains
	on_domain(host(url), d)
}

# for_program is true when an affiliate link is for this page's program: it carries the
# program's merchant ID in its network, or it points straight at a landing domain.
for_program(link) if {
	link.affiliate.merchant != ""
	link.affiliate.merchant == object.get(object.get(program, "merchant_ids", {}), link.affiliate.network, "")
}

for_program(link) if on_landing_domain(link.href)

# visible_blocks are the text blocks a reader sees.
visible_blocks := [b | some b in input.blocks; not b.hidden]

# evidence builds the evidence object of a finding.
evidence(snippet, selector, offset, key) := {
	"snippet": snippet,
	"selector": selector,
	"offset": offset,
	"url": input.url,
	"key": key,
}

# now_ns is when the page was fetched (so findings are reproducible), else the clock.
now_ns := time.parse_rfc3339_ns(input.fetched_at) if {
	is_string(input.fetched_at)
	input.fetched_at != ""
	not startswith(input.fetched_at, "0001-")
} else := time.now_ns()

# date_ns reads a date written 2006-01-02, or an RFC 3339 time; undefined otherwise.
date_ns(s) := time.parse_ns("2006-01-02", s) if regex.match(`^\d{4}-\d{2}-\d{2}$`, s)

date_ns(s) := time.parse_rfc3339_ns(s) if regex.match(`^\d{4}-\d{2}-\d{2}T`, s)

# day_ns is a day in nanoseconds.
day_ns := ((24 * 60) * 60) * 1000000000

# commercial is true when something is sold in or near a block: a price tag, a discount, a
# coupon, a call to action, a product or affiliate link, the program's brand, or a
# promotional container (the extractor's blocks[].context.signals say which). Everyday
# words ("hurry", "in high demand", "offer ends") are a claim only there.
commercial(b) if b.context.commercial

# badge is true for a short block of its own that is not a headline, a menu or a sign-up
# form: a shop's badge or banner ("Selling fast!", "Limited Time!"), not a sentence of
# prose or a headline about the world.
badge(b) if b.context.badge

# own_blocks are the visible blocks whose words are the page's own: not quotations and not
# a media player's controls.
own_blocks := [b | some b in input.blocks; own(b)]

# own is true for a block of the page's own visible words (one of own_blocks).
own(b) if {
	not b.hidden
	not b.context.quote
	not b.context.media
}

# words is the page's word index: each lower-case word of its blocks (a run of letters, or
# one character that is neither a letter, a digit nor a space: ":" of a clock), with the
# indexes of the blocks that hold it. A pattern rule whose every match holds one of a few
# words reads only the blocks listed under them, so it costs what its words cost, not
# what the page's text does (object.filter looks up a set of words in one step):
#
#	some blocks in object.filter(page.words, words[category])
#	some i in blocks
#	b := input.blocks[i]
#	page.own(b)
#
# The extractor writes the index (input.words); on a document without one (a hand-written
# test input) it is built here from the blocks' text.
words := input.words if {
	is_object(input.words)
} else := {w: [i | some i, b in input.blocks; w in tokens(b.text)] |
	some b in input.blocks
	some w in tokens(b.text)
}

# tokens are the words of a text as the index has them (and, inside a word that mixes
# ASCII letters with others, its runs of ASCII letters: a pattern's \b is an ASCII boundary).
tokens(text) := {w | some w in regex.find_n(`\pL+|[^\pL\d\s]`, lower(text), -1)} | {w | some w in regex.find_n(`[a-z]+`, lower(text), -1)}

# blocks_with_stem(stem) are the indexes of the blocks whose lower-cased text holds stem,
# for a pattern that lets a word go on ("hurry" of "hurrying"): found by reading the text,
# so a rule should need few.
blocks_with_stem(stem) := {i |
	contains(lower_text, stem)
	some i, b in input.blocks
	contains(lower(b.text), stem)
}

# lower_text is the page's visible text lower-cased, once per page.
lower_text := lower(input.text)

# quoted is true when the n characters at offset i of block b are inside a quoted passage
# (quotation marks, <q>, <cite>, a title of a work).
quoted(b, i, n) if {
	some q in b.context.quotes
	q.start <= i
	i + n <= q.end
}

# unquoted is true when the text m occurs in block b outside its quoted passages.
unquoted(b, m) if {
	some i in indexof_n(b.text, m)
	not quoted(b, i, count(m))
}

# claimed is true when the text m occurs in block b as the page's own words at least once:
# outside quoted passages and outside every match of look_alikes, a pattern of text that
# looks like a claim and is not ("in 2016 left", "2022-09-30 00:49:50", "Remaining Time
# -0:00").
claimed(b, m, look_alikes) if {
	some i in indexof_n(b.text, m)
	not quoted(b, i, count(m))
	not look_alike(b.text, i, count(m), look_alikes)
}

# look_alike is true when the n characters at offset i of text lie inside a match of pattern.
look_alike(text, i, n, pattern) if {
	some x in regex.find_n(pattern, text, -1)
	some j in indexof_n(text, x)
	j <= i
	i + n <= j + count(x)
}
