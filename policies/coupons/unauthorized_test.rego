package affwatch.rules.coupons.unauthorized_test

import data.affwatch.rules.coupons.unauthorized

programs := {"acme": {"brand_terms": ["Acme"], "coupons": [
	{"code": "BREW20", "valid_from": "2026-01-01", "valid_until": "2026-12-31"},
	{"code": "VIP50", "affiliates": ["vip-partner"]},
]}}

coupon(code, ctx) := {"code": code, "offset": 3, "context": ctx}

page(coupons) := {"url": "u", "program": "acme", "affiliate": {"id": "p"}, "coupons": coupons}

test_invented_code_for_the_brand_denied if {
	fs := unauthorized.deny with input as page([coupon("ACME70", "Use ACME70 for 70% off Acme grinders")]) with data.programs as programs
	count(fs) == 1
	some f in fs
	f.evidence.key == "ACME70"
}

test_issued_code_passes if {
	count(unauthorized.deny) == 0 with input as page([coupon("brew20", "Acme code brew20")]) with data.programs as programs
}

test_code_for_another_brand_ignored if {
	count(unauthorized.deny) == 0 with input as page([coupon("SHOES10", "Use SHOES10 at Shoe Shop")]) with data.programs as programs
}

test_code_issued_to_other_partners_denied if {
	fs := unauthorized.deny with input as page([coupon("VIP50", "Acme VIP50")]) with data.programs as programs
	count(fs) == 1
	some f in fs
	contains(f.msg, "other partners")
}
