package affwatch.rules.stuffing.script_request_test

import data.affwatch.rules.stuffing.script_request

awin := {"network": "awin", "affiliate_id": "445566", "merchant": "1001"}

click := "https://www.awin1.com/cread.php?awinmid=1001&awinaffid=445566"

req(over) := object.union(
	{
		"url": click, "type": "image", "initiator": "script", "navigation": false, "initial": false,
		"in_page": false, "blocked": false, "affiliate": awin,
	},
	over,
)

test_script_image_to_click_url_denied if {
	findings := script_request.deny with input as {"url": "u", "requests": [req({})]}
	count(findings) == 1
	some f in findings
	contains(f.msg, "image request (made by script)")
	f.evidence.key == click
}

test_failed_or_blocked_request_still_counts if {
	count(script_request.deny) == 1 with input as {"url": "u", "requests": [req({"blocked": true, "blocked_reason": "address"})]}
}

test_forced_navigation_denied if {
	findings := script_request.deny with input as {"url": "u", "requests": [req({"type": "document", "navigation": true, "blocked": true, "blocked_reason": "navigation"})]}
	count(findings) == 1
	some f in findings
	contains(f.msg, "sent the reader")
}

test_own_navigation_passes if {
	count(script_request.deny) == 0 with input as {"url": "u", "requests": [req({"type": "document", "navigation": true, "initial": true, "initiator": "other"})]}
}

test_element_of_the_page_left_to_stuff_001 if {
	count(script_request.deny) == 0 with input as {"url": "u", "requests": [req({"in_page": true})]}
}

test_ordinary_requests_pass if {
	count(script_request.deny) == 0 with input as {"url": "u", "requests": [req({"url": "https://cdn.example/app.js", "type": "script", "affiliate": null})]}
}

test_static_page_has_no_requests if {
	count(script_request.deny) == 0 with input as {"url": "u", "requests": []}
}
