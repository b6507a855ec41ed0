package affwatch.rules.offers.expired_test

import data.affwatch.rules.offers.expired

# page is an offer beside a price and a call to action; prose is the same text with nothing sold near it.
page(text) := {"url": "u", "fetched_at": "2026-11-24T02:00:00Z", "text": text, "blocks": [{"offset": 0, "tag": "p", "text": text, "selector": "p", "hidden": false, "context": {"commercial": true, "signals": ["price"]}}]}

prose(text) := {"url": "u", "fetched_at": "2026-11-24T02:00:00Z", "text": text, "blocks": [{"offset": 0, "tag": "p", "text": text, "selector": "p", "hidden": false, "context": {}}]}

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
	count(expired.deny) == 0 with input as page("Last updated: June 1, 2015")
}

# dates in prose with nothing sold near them are not offers ("the exhibition runs through June 3, 2015")
test_dates_in_prose_pass if {
	count(expired.deny) == 0 with input as prose("The exhibition ran through June 3, 2015 at the city museum.")
}

# an Internet-Draft's header: "Expires: 18 June 2015" is when the document lapses
test_document_header_dates_pass if {
	count(expired.deny) == 0 with input as prose("Internet-Draft Example Co. Intended status: Informational 15 December 2014 Expires: 18 June 2015")
	count(expired.deny) == 0 with input as page("Network Working Group Internet-Draft Expires: 18 June 2015")
	count(expired.deny) == 0 with input as page("This Internet-Draft will expire on 18 June 2015.")
}

# the header's label alone in a table cell, on a page whose front matter names the draft
test_document_header_label_in_its_own_block_passes if {
	inp := {"url": "u", "fetched_at": "2026-11-24T02:00:00Z", "text": "Internet-Draft\nExpires: 18 June 2015", "blocks": [
		{"offset": 0, "tag": "td", "text": "Internet-Draft", "selector": "td", "hidden": false, "context": {}},
		{"offset": 15, "tag": "td", "text": "Expires: 18 June 2015", "selector": "td", "hidden": false, "context": {"commercial": true}},
	]}
	count(expired.deny) == 0 with input as inp
}

# an offer date quoted in a news story is not the page's offer
test_quoted_offer_passes if {
	text := `"The offer ends March 3, 2025," the retailer said.`
	inp := {"url": "u", "fetched_at": "2026-11-24T02:00:00Z", "text": text, "blocks": [{"offset": 0, "tag": "p", "text": text, "selector": "p", "hidden": false, "context": {"commercial": true, "quotes": [{"start": 0, "end": 30}]}}]}
	count(expired.deny) == 0 with input as inp
}
