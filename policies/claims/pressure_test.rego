package affwatch.rules.claims.pressure_test

import data.affwatch.rules.claims.pressure

# block is one visible paragraph with the given context.
block(text, context) := {"offset": 0, "tag": "p", "text": text, "selector": "p", "hidden": false, "context": context}

# page is prose with nothing sold near it; shop is the same text beside a price and a
# "Buy now" button; badge is a short block of its own.
page(text) := {"url": "u", "text": text, "blocks": [block(text, {})]}

shop(text) := {"url": "u", "text": text, "blocks": [block(text, {"commercial": true, "signals": ["cta", "price"]})]}

badge(text) := {"url": "u", "text": text, "blocks": [block(text, {"badge": true})]}

test_pressure_claims_warned if {
	every text in ["Hurry, only 3 left in stock!", "Offer ends tonight", "37 people are viewing this right now", "Selling fast"] {
		count(pressure.warn) > 0 with input as shop(text)
	}
}

test_calm_text_passes if {
	count(pressure.warn) == 0 with input as shop("We tested this grinder for three weeks.")
}

# Real shop wordings (Mathur et al. 2019): timers, activity notifications, stock counts.
# These only shops say: they count even with nothing sold near them.
test_real_shop_wordings_warned_anywhere if {
	every text in [
		"00DAYS02HRS14MINS1211SEC",
		"Sale ends in 1 Days, 4 Minutes, 44 Seconds",
		"Cart will expire in 04:53 minutes!",
		"Limited Time Sale - Buy Now!",
		"143 BOUGHT",
		"1,446 people have viewed this item",
		"Carol in St. Louis, Missouri bought Original USB Charging Anti-Theft Backpack",
		"1 LEFT IN THIS SIZE",
		"Only one item left in stock!",
		"90% offers claimed.",
	] {
		count(pressure.warn) > 0 with input as page(text)
	}
}

# Everyday words are claims in a shop's badge and beside a price, not in prose.
test_everyday_words_need_a_commercial_context if {
	every text in ["Hurry!", "Items in your cart are in VERY high-demand.", "Limited Time!", "Going fast", "Flash sale"] {
		count(pressure.warn) > 0 with input as badge(text)
		count(pressure.warn) > 0 with input as shop(text)
		count(pressure.warn) == 0 with input as page(text)
	}
}

# Recipe text has times and counts that are not pressure.
test_recipe_times_and_counts_pass if {
	every text in [
		"Total time: 8 h 30 m. Cook 1 hour 15 minutes.",
		"Posted at 23:07:10 by Anna",
		"Add 2 teaspoons active dry yeast.",
		"I just bought a new pan and the last one I had was better.",
		"Over the last few years I have made this for 12 people.",
	] {
		count(pressure.warn) == 0 with input as shop(text)
	}
}

# Issue 19's false positives on editorial pages, one per class.

# "hurry" in a 19th-century short story
test_hurry_in_a_story_passes if {
	count(pressure.warn) == 0 with input as page("She bade the coachman hurry, for the light was failing over the moor.")
}

# "going fast" about a car
test_going_fast_about_a_car_passes if {
	count(pressure.warn) == 0 with input as page("The sedan was going fast when it left the road near the bridge.")
}

# "flash sale" describing what dark-web vendors do
test_flash_sale_in_reporting_passes if {
	count(pressure.warn) == 0 with input as page("Vendors on the forum run a flash sale of stolen card numbers whenever a rival market closes.")
}

# "limited time" inside a quoted statement in a news story, even beside a price
test_limited_time_in_a_quotation_passes if {
	text := `"The discount is only for a limited time," the company's spokeswoman said of the $20 fare.`
	inp := {"url": "u", "text": text, "blocks": [block(text, {"commercial": true, "signals": ["price"], "quotes": [{"start": 0, "end": 50}]})]}
	count(pressure.warn) == 0 with input as inp
}

# a whole block that is a quotation (<blockquote>) is someone else's words
test_blockquote_passes if {
	inp := {"url": "u", "text": "Hurry, while supplies last!", "blocks": [block("Hurry, while supplies last!", {"commercial": true, "quote": true})]}
	count(pressure.warn) == 0 with input as inp
}

# a video player's remaining time, even on a shop page
test_media_player_times_pass if {
	count(pressure.warn) == 0 with input as shop("Remaining Time -0:00")
	count(pressure.warn) == 0 with input as shop("0:00 / 3:45")
	inp := {"url": "u", "text": "Remaining Time -0:00", "blocks": [block("Remaining Time -0:00", {"media": true, "badge": true})]}
	count(pressure.warn) == 0 with input as inp
}

# "order around 4:30" in a report on martial law
test_clock_time_in_reporting_passes if {
	count(pressure.warn) == 0 with input as page("Troops received the order around 4:30 and the streets emptied within the hour.")
}

# "in high demand" in a jobs-market headline and an encyclopedia's economics section
test_high_demand_in_headline_and_prose_passes if {
	count(pressure.warn) == 0 with input as page("Welders and nurses in high demand as retirements rise")
	inp := {"url": "u", "text": "Welders in high demand", "blocks": [{"offset": 0, "tag": "h2", "text": "Welders in high demand", "selector": "h2", "hidden": false, "context": {"headline": true}}]}
	count(pressure.warn) == 0 with input as inp
	count(pressure.warn) == 0 with input as page("When a good is in high demand and supply is fixed, its price rises until the market clears.")
}

# a year is not a stock count: "a snowstorm in 2016 left the streets coated"
test_years_are_not_counts if {
	count(pressure.warn) == 0 with input as shop("A snowstorm in 2016 left the streets coated in ice.")
	count(pressure.warn) > 0 with input as shop("Only 3 left in stock.")
}

# timestamps and build stamps are not countdowns
test_timestamps_are_not_timers if {
	every text in ["2022-09-30 00:49:50", "CDKitchen, Inc. 26:05:02:15:29:35", "Updated 00:12:09 UTC"] {
		count(pressure.warn) == 0 with input as page(text)
	}
	count(pressure.warn) > 0 with input as page("Deal ends in 00:15:07:45")
}

# the true promotions on those pages still fire
test_real_promotions_fire if {
	count(pressure.warn) > 0 with input as shop("$49.99 Limited Time")
	count(pressure.warn) > 0 with input as shop("Early bird discount ends today - register now")
}

# one wording found by a shop form and an everyday form is reported once
test_one_finding_per_wording if {
	count(pressure.warn) == 1 with input as shop("Limited time offer")
}

# With the extractor's word index the rule reads only the blocks listed under its words:
# the index is what finds the claim, and a block it does not list is not read.
test_word_index_finds_the_blocks if {
	text := "Only 3 left in stock!"
	indexed := object.union(shop(text), {"words": {"only": [0], "left": [0], "stock": [0]}})
	count(pressure.warn) > 0 with input as indexed
	count(pressure.warn) == 0 with input as object.union(shop(text), {"words": {"calm": [0]}})
}

# Forms that let a word go on are found by their stems: "hurrying" holds "hurry".
test_stems_find_words_that_go_on if {
	text := "Hurrying? Shop now"
	inp := {"url": "u", "text": text, "words": {"shop": [0], "now": [0]}, "blocks": [block(text, {"commercial": true})]}
	count(pressure.warn) > 0 with input as inp
}
