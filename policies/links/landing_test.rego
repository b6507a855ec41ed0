package affwatch.rules.links.landing_test

import data.affwatch.rules.links.landing

programs := {"acme": {"merchant_ids": {"awin": "1001"}, "landing_domains": ["acme.example"]}}

link(dest) := {
	"href": "https://www.awin1.com/cread.php?awinmid=1001&awinaffid=1", "text": "x", "rel": [], "offset": 1, "selector": "a",
	"hidden": false, "affiliate": {"network": "awin", "affiliate_id": "1", "merchant": "1001", "destination": dest},
}

test_destination_outside_program_domains_denied if {
	fs := landing.deny with input as {"url": "u", "program": "acme", "links": [link("https://acme-deals.example.net/x")]}
		with data.programs as programs
	count(fs) == 1
	some f in fs
	contains(f.msg, "acme-deals.example.net")
}

test_subdomain_of_landing_domain_passes if {
	count(landing.deny) == 0 with input as {"url": "u", "program": "acme", "links": [link("https://shop.acme.example/x")]}
		with data.programs as programs
}

test_unknown_destination_passes if {
	count(landing.deny) == 0 with input as {"url": "u", "program": "acme", "links": [link("")]} with data.programs as programs
}

# A resolved click is judged by where it really lands, whatever its URL says.
test_resolved_landing_outside_denied if {
	l := object.union(link("https://shop.acme.example/x"), {"affiliate": object.union(link("").affiliate, {
		"destination": "https://shop.acme.example/x",
		"landing": "https://cheap-copies.example.org/acme",
		"hops": 2,
	})})
	fs := landing.deny with input as {"url": "u", "program": "acme", "links": [l]} with data.programs as programs
	count(fs) == 1
	some f in fs
	contains(f.msg, "cheap-copies.example.org")
}

test_resolved_landing_inside_passes if {
	l := object.union(link("https://elsewhere.example/"), {"affiliate": object.union(link("").affiliate, {"landing": "https://www.acme.example/p", "hops": 1})})
	count(landing.deny) == 0 with input as {"url": "u", "program": "acme", "links": [l]} with data.programs as programs
}
