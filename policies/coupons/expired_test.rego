package affwatch.rules.coupons.expired_test

import data.affwatch.rules.coupons.expired

programs := {"acme": {"coupons": [{"code": "BREW20", "valid_from": "2026-01-01", "valid_until": "2026-06-30"}]}}

page(fetched) := {"url": "u", "program": "acme", "fetched_at": fetched, "coupons": [{"code": "BREW20", "offset": 1, "context": "code BREW20"}]}

test_expired_code_denied if {
	fs := expired.deny with input as page("2026-11-24T02:00:00Z") with data.programs as programs
	count(fs) == 1
	some f in fs
	contains(f.msg, "expired on 2026-06-30")
}

test_valid_on_its_last_day if {
	count(expired.deny) == 0 with input as page("2026-06-30T23:00:00Z") with data.programs as programs
}

test_not_yet_valid_denied if {
	fs := expired.deny with input as page("2025-12-24T02:00:00Z") with data.programs as programs
	some f in fs
	contains(f.msg, "not valid before")
}
