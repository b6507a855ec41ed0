package affwatch.rules.disclosure.conspicuous_test

import data.affwatch.rules.disclosure.conspicuous

layout(y, font, contrast) := {
	"x": 24, "y": y, "width": 300, "height": 20, "visible": true, "font_size": font, "font_weight": 400,
	"color": "rgb(0, 0, 0)", "background": "rgb(255, 255, 255)", "contrast": contrast,
}

link := {
	"href": "https://www.amazon.com/dp/B0?tag=p-20", "text": "buy", "rel": [], "offset": 50, "selector": "a#buy", "hidden": false,
	"affiliate": {"network": "amazon", "affiliate_id": "p-20", "destination": ""},
	"layout": layout(400, 16, 21),
}

d(l) := {"text": "We earn a commission.", "phrase": "earn a commission", "offset": 0, "selector": "p#d", "hidden": false, "vague": false, "layout": l}

page(ds) := {"url": "u", "program": "p", "viewport_height": 900, "links": [link], "disclosures": ds}

test_small_font_denied if {
	fs := conspicuous.deny with input as page([d(layout(100, 7, 21))])
	count(fs) == 1
	some f in fs
	contains(f.msg, "its text is 7 px, under 10 px")
	f.evidence.selector == "p#d"
}

test_low_contrast_denied if {
	fs := conspicuous.deny with input as page([d(layout(100, 16, 1.1))])
	count(fs) == 1
	some f in fs
	contains(f.msg, "contrast with the background is 1.1:1, under 4.5:1")
}

test_large_text_needs_three_to_one if {
	big := object.union(layout(100, 24, 3.5), {"font_weight": 400})
	count(conspicuous.deny) == 0 with input as page([d(big)])
	bold := object.union(layout(100, 19, 3.5), {"font_weight": 700})
	count(conspicuous.deny) == 0 with input as page([d(bold)])
	count(conspicuous.deny) == 1 with input as page([d(layout(100, 19, 3.5))])
}

test_far_below_first_link_denied if {
	fs := conspicuous.deny with input as page([d(layout(400 + 3600, 16, 21))])
	count(fs) == 1
	some f in fs
	contains(f.msg, "4 screens below the first affiliate link (at most 2)")
}

test_within_two_screens_passes if {
	count(conspicuous.deny) == 0 with input as page([d(layout(400 + 1700, 16, 21))])
}

test_program_parameters if {
	prog := {"disclosure_min_font_px": 6, "disclosure_min_contrast": 1.05, "disclosure_max_screens": 5}
	count(conspicuous.deny) == 0 with input as page([d(layout(4000, 7, 1.1))]) with data.programs.p as prog
	strict := {"disclosure_min_font_px": 18}
	count(conspicuous.deny) == 1 with input as page([d(layout(100, 16, 21))]) with data.programs.p as strict
}

test_one_clear_disclosure_is_enough if {
	count(conspicuous.deny) == 0 with input as page([d(layout(100, 7, 21)), d(layout(120, 16, 21))])
}

test_static_page_not_judged if {
	count(conspicuous.deny) == 0 with input as page([d(null)])
}

test_unknown_contrast_not_judged if {
	count(conspicuous.deny) == 0 with input as page([d(layout(100, 16, null))])
}

test_unmeasured_disclosure_not_judged if {
	count(conspicuous.deny) == 0 with input as page([d(layout(100, 7, 21)), d(null)])
}

test_no_affiliate_link_passes if {
	count(conspicuous.deny) == 0 with input as {"url": "u", "viewport_height": 900, "links": [], "disclosures": [d(layout(100, 7, 21))]}
}
