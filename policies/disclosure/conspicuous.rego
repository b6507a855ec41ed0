# METADATA
# title: Disclosure not clear and conspicuous
# description: >-
#   On a rendered page (crawl.render), every disclosure a reader can see is too small, too
#   faint against its background, or too far below the first affiliate link for a reader to
#   notice: under the program's minimum font size (disclosure_min_font_px, default 10 px),
#   under its minimum contrast (disclosure_min_contrast, default 4.5:1, WCAG 2.x AA for
#   normal text; large text, 24 px or 18.66 px bold, needs 3:1), or more than
#   disclosure_max_screens viewport heights (default 2) below the link. FTC guidance asks
#   for disclosures that are clear and conspicuous, near the claim they qualify. A
#   disclosure hidden altogether is DISC-003; static pages carry no layout and are not
#   judged here.
# custom:
#   id: DISC-005
#   severity: medium
#   remediation: >-
#     Show the disclosure in body-size text (at least the program's minimum), in a colour
#     that contrasts with its background, close to (ideally above) the first affiliate link.
package affwatch.rules.disclosure.conspicuous

import data.affwatch.lib.page

# min_font, min_contrast and max_screens are the program's parameters, or their defaults.
min_font := object.get(page.program, "disclosure_min_font_px", 10)

min_contrast := object.get(page.program, "disclosure_min_contrast", 4.5)

max_screens := object.get(page.program, "disclosure_max_screens", 2)

# large is true for text WCAG counts as large: 24 px, or 18.66 px (14 pt) bold.
large(l) if l.font_size >= 24

large(l) if {
	l.font_size >= 18.66
	l.font_weight >= 700
}

# needed_contrast is the contrast a disclosure's text needs: the program's minimum, at
# most 3:1 for large text.
needed_contrast(l) := min({min_contrast, 3}) if large(l)

else := min_contrast

# measured are the visible disclosures whose layout the browser measured.
measured := [d | some d in page.disclosures; d.layout != null; d.layout.visible]

# too_small, too_faint and too_far say what keeps a disclosure from being noticed.
too_small(d) := {sprintf("its text is %v px, under %v px", [d.layout.font_size, min_font])} if {
	d.layout.font_size < min_font
} else := set()

too_faint(d) := {sprintf("its contrast with the background is %v:1, under %v:1 (%s on %s)", [
	d.layout.contrast, needed_contrast(d.layout), d.layout.color, d.layout.background,
])} if {
	d.layout.contrast != null
	d.layout.contrast < needed_contrast(d.layout)
} else := set()

too_far(d) := {sprintf("it is %v screens below the first affiliate link (at most %v)", [round(screens * 10) / 10, max_screens])} if {
	link := page.first_affiliate_link
	link.layout != null
	input.viewport_height > 0
	screens := (d.layout.y - link.layout.y) / input.viewport_height
	screens > max_screens
} else := set()

problems(d) := (too_small(d) | too_faint(d)) | too_far(d)

deny contains finding if {
	page.first_affiliate_link
	count(measured) > 0
	count(measured) == count(page.disclosures) # every visible one measured: else nothing is known
	every d in measured {
		count(problems(d)) > 0
	}
	d := measured[0]
	finding := {
		"msg": sprintf("the disclosure is not clear and conspicuous: %s: %q", [concat("; ", sort(problems(d))), d.text]),
		"evidence": page.evidence(d.text, d.selector, d.offset, "page"),
	}
}
