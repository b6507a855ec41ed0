package affwatch.rules.cloaking.reader_view_test

import data.affwatch.rules.cloaking.reader_view

link(id) := {
	"href": sprintf("https://www.awin1.com/cread.php?awinmid=1001&awinaffid=%s", [id]), "text": "buy", "rel": [], "offset": 50,
	"selector": "a", "hidden": false, "affiliate": {"network": "awin", "affiliate_id": id, "destination": ""},
}

disclosure := {"text": "We earn a commission.", "phrase": "earn a commission", "offset": 0, "selector": "p", "hidden": false, "vague": false}

view(ids, disclosures, text) := {
	"persona": "google-desktop", "user_agent": "Mozilla/5.0 Chrome", "final_url": "u", "fetch_status": "ok", "text": text,
	"affiliate_links": [{"href": "h", "network": "awin", "affiliate_id": id} | some id in ids],
	"disclosures": disclosures,
}

crawler_page(v) := {
	"url": "u", "program": "p", "text": "We earn a commission. A fine grinder.",
	"links": [link("998877")], "disclosures": [disclosure], "views": [v],
}

test_same_page_passes if {
	count(reader_view.deny) == 0 with input as crawler_page(view(["998877"], ["We earn a commission."], "We earn a commission. A fine grinder, shown differently."))
}

test_other_affiliate_id_denied if {
	fs := reader_view.deny with input as crawler_page(view(["112233"], ["We earn a commission."], "A fine grinder."))
	count(fs) == 1
	some f in fs
	contains(f.msg, "other affiliate links")
	contains(f.evidence.snippet, "crawler saw: affiliate links awin:998877")
	contains(f.evidence.snippet, "reader saw: affiliate links awin:112233")
	f.evidence.key == "google-desktop"
}

test_disclosure_only_crawler_saw_denied if {
	fs := reader_view.deny with input as crawler_page(view(["998877"], [], "A fine grinder."))
	some f in fs
	contains(f.msg, "a disclosure only the crawler saw")
}

test_claim_only_reader_read_denied if {
	fs := reader_view.deny with input as crawler_page(view(["998877"], ["We earn a commission."], "Guaranteed results in a week."))
	some f in fs
	contains(f.msg, "other claims")
	contains(f.evidence.snippet, "claims guarantee")
}

test_program_claim_only_reader_read_denied if {
	fs := reader_view.deny with input as crawler_page(view(["998877"], ["We earn a commission."], "The best coffee in the world."))
		with data.programs.p as {"prohibited_claims": ["best coffee in the world"]}
	count(fs) == 1
}

test_failed_view_proves_nothing if {
	v := object.union(view([], [], ""), {"fetch_status": "render_failed"})
	count(reader_view.deny) == 0 with input as crawler_page(v)
}

test_no_views_passes if {
	count(reader_view.deny) == 0 with input as {"url": "u", "text": "", "links": [link("1")], "disclosures": []}
}

test_disclosure_only_reader_saw_denied if {
	p := object.union(crawler_page(view(["998877"], ["We earn a commission."], "We earn a commission. A fine grinder.")), {"disclosures": []})
	fs := reader_view.deny with input as p
	some f in fs
	contains(f.msg, "a disclosure only the reader saw")
	contains(f.evidence.snippet, "crawler saw: affiliate links awin:998877; no disclosure")
}
