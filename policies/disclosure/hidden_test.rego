package affwatch.rules.disclosure.hidden_test

import data.affwatch.rules.disclosure.hidden

link := {
	"href": "https://www.amazon.com/dp/B0?tag=p-20", "text": "buy", "rel": [], "offset": 50, "selector": "a", "hidden": false,
	"affiliate": {"network": "amazon", "affiliate_id": "p-20", "destination": ""},
}

d(is_hidden, vague) := {"text": "We earn a commission.", "phrase": "earn a commission", "offset": 0, "selector": "div.x", "hidden": is_hidden, "vague": vague}

test_only_hidden_disclosure_denied if {
	fs := hidden.deny with input as {"url": "u", "links": [link], "disclosures": [d(true, false)]}
	count(fs) == 1
	some f in fs
	f.evidence.selector == "div.x"
}

test_visible_disclosure_as_well_passes if {
	count(hidden.deny) == 0 with input as {"url": "u", "links": [link], "disclosures": [d(true, false), d(false, false)]}
}

test_no_affiliate_links_passes if {
	count(hidden.deny) == 0 with input as {"url": "u", "links": [], "disclosures": [d(true, false)]}
}

laid_out(visible, by) := {
	"x": 0, "y": 0, "width": 0, "height": 0, "visible": visible, "hidden_by": by, "font_size": 16, "font_weight": 400,
	"color": "rgb(0, 0, 0)", "background": "rgb(255, 255, 255)", "contrast": 21,
}

test_laid_out_invisible_disclosure_denied if {
	offpage := object.union(d(false, false), {"layout": laid_out(false, "offscreen")})
	fs := hidden.deny with input as {"url": "u", "links": [link], "disclosures": [offpage]}
	count(fs) == 1
}

test_disclosure_not_found_again_is_not_hidden if {
	missing := object.union(d(false, false), {"layout": laid_out(false, "missing")})
	count(hidden.deny) == 0 with input as {"url": "u", "links": [link], "disclosures": [missing]}
}
