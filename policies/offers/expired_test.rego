package affwatch.rules.offers.expired_test

import data.affwatch.rules.offers.expired

page(text) := {"url": "u", "fetched_at": "2026-11-24T02:00:00Z", "text": text, "blocks": [{"offset": 0, "tag": "p", "text": text, "selector": "p", "hidden": false}]}

test_past_offer_dates_denied if {
	every text in ["Offer ends March 3, 2025.", "Valid until 2026-10-31", "Deal expires 5th June 2026", "Sale ends Sept. 30 2026"] {
		count(expired.deny) == 1 with input as page(text)
	}
}

test_future_or_current_dates_pass if {
	every text in ["Offer ends December 31, 2026.", "Valid until 2026-11-24", "Sale ends Nov 30 2026"] {
		count(expired.deny) == 0 with input as page(text)
	}
}

test_dates_that_are_not_offers_pass if {
	count(expired.deny) == 0 with input as page("Published March 3, 2025. Updated 2026-01-02.")
}
