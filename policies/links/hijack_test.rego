package affwatch.rules.links.hijack_test

import data.affwatch.rules.links.hijack

programs := {"acme": {"merchant_ids": {"awin": "1001"}, "landing_domains": ["acme.example"], "affiliate_ids": {"awin": ["555"]}}}

awin(id, mid) := {
	"href": sprintf("https://www.awin1.com/cread.php?awinmid=%s&awinaffid=%s", [mid, id]), "text": "x", "rel": [],
	"offset": 1, "selector": "a", "hidden": false, "affiliate": {"network": "awin", "affiliate_id": id, "merchant": mid, "destination": ""},
}

page(links) := {"url": "u", "program": "acme", "affiliate": {"id": "p", "network_ids": {"awin": "777"}}, "links": links}

test_foreign_id_on_program_link_denied if {
	fs := hijack.deny with input as page([awin("999", "1001")]) with data.programs as programs
	count(fs) == 1
	some f in fs
	contains(f.msg, "\"999\"")
	f.evidence.key == "awin:999"
}

test_own_id_passes if {
	count(hijack.deny) == 0 with input as page([awin("777", "1001")]) with data.programs as programs
}

test_id_the_program_accepts_passes if {
	count(hijack.deny) == 0 with input as page([awin("555", "1001")]) with data.programs as programs
}

test_other_merchants_links_are_not_our_business if {
	count(hijack.deny) == 0 with input as page([awin("999", "2002")]) with data.programs as programs
}

test_direct_link_to_landing_domain_with_foreign_ref if {
	l := {
		"href": "https://shop.acme.example/p?ref=999", "text": "x", "rel": [], "offset": 1, "selector": "a", "hidden": false,
		"affiliate": {"network": "direct", "affiliate_id": "999", "merchant": "", "destination": ""},
	}
	inp := object.union(page([l]), {"affiliate": {"id": "p", "network_ids": {"direct": "p"}}})
	count(hijack.deny) == 1 with input as inp with data.programs as programs
}
