package affwatch.rules.stuffing.hidden_embed_test

import data.affwatch.rules.stuffing.hidden_embed

cj := {"network": "cj", "affiliate_id": "1234567", "destination": ""}

embed(kind, hidden, aff) := {
	"kind": kind, "src": "https://www.anrdoezrs.net/click-1234567-89", "width": 1, "height": 1,
	"offset": 0, "selector": "body > img", "hidden": hidden, "affiliate": aff,
}

test_hidden_pixel_to_click_url_denied if {
	findings := hidden_embed.deny with input as {"url": "u", "embeds": [embed("image", true, cj)], "redirects": []}
	count(findings) == 1
	some f in findings
	contains(f.msg, "hidden image")
	f.evidence.key == "https://www.anrdoezrs.net/click-1234567-89"
}

test_visible_banner_passes if {
	count(hidden_embed.deny) == 0 with input as {"url": "u", "embeds": [embed("image", false, cj)], "redirects": []}
}

test_hidden_tag_manager_iframe_passes if {
	count(hidden_embed.deny) == 0 with input as {"url": "u", "embeds": [embed("iframe", true, null)], "redirects": []}
}

test_meta_refresh_to_click_url_denied if {
	r := {"from": "u", "to": "https://www.anrdoezrs.net/click-1234567-89", "status": 0, "kind": "meta", "affiliate": cj}
	count(hidden_embed.deny) == 1 with input as {"url": "u", "embeds": [], "redirects": [r]}
}

test_http_redirect_is_not_stuffing if {
	r := {"from": "u", "to": "https://www.anrdoezrs.net/click-1234567-89", "status": 302, "kind": "http", "affiliate": cj}
	count(hidden_embed.deny) == 0 with input as {"url": "u", "embeds": [], "redirects": [r]}
}
