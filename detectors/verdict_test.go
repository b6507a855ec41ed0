package detectors_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/detectors"
)

// Every conversion is judged at ingest with its codes and the numbers behind them; each
// code gives its verdict, two review codes reject, and the config's overrides apply.
func TestVerdictsAtIngest(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	stuffed := []detectors.StuffedPage{{AffiliateID: "s", URL: "https://stuffer.example/deals/", RuleID: "STUFF-001",
		Since: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)}}
	judge := detectors.NewJudge(detectors.VerdictRules{}, stuffed)
	opt := detectors.IngestOptions{Judge: judge, Now: func() time.Time { return time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC) }}
	const ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/132.0"
	var clicks strings.Builder
	clicks.WriteString("click_id,ts,affiliate_id,ip,user_agent,referrer\n")
	for _, c := range []struct{ id, ts, aff, ip, ua, ref string }{
		{"c-ok", "2026-11-01T10:00:00Z", "a", "81.2.69.1", ua, ""},
		{"c-fast", "2026-11-01T10:00:00Z", "a", "81.2.69.2", ua, ""},
		{"c-bot", "2026-11-01T10:00:00Z", "a", "81.2.69.3", "python-requests/2.32", ""},
		{"c-dc", "2026-11-01T10:00:00Z", "a", "5.9.10.11", ua, ""},   // Hetzner
		{"c-late", "2026-11-01T12:00:00Z", "a", "81.2.69.5", ua, ""}, // converts before it
		{"c-stuff", "2026-11-01T10:00:00Z", "s", "81.2.69.6", ua, "https://www.stuffer.example/deals?x=1"},
		{"c-other", "2026-11-01T10:00:00Z", "t", "81.2.69.6", ua, "https://stuffer.example/deals"}, // another affiliate
	} {
		fmt.Fprintf(&clicks, "%s,%s,%s,%s,%s,%s\n", c.id, c.ts, c.aff, c.ip, c.ua, c.ref)
	}
	// a flood: 25 clicks from one address and user agent in 5 s
	for i := range 25 {
		fmt.Fprintf(&clicks, "f%d,2026-11-01T11:00:0%d.%03dZ,a,81.2.69.9,%s,\n", i, i/5, 200*(i%5), ua)
	}
	res, err := detectors.IngestClicks(ctx, st, "clicks.csv", strings.NewReader(clicks.String()), opt)
	if err != nil || res.Loaded != 32 {
		t.Fatalf("clicks: %+v %v", res, err)
	}
	if res.Verdicts[affwatch.VerdictReject] != 2 || res.Verdicts[affwatch.VerdictReview] != 1+6 {
		t.Errorf("click verdicts %v, want 2 reject (bot, stuffed), 7 review (datacenter, 6 flood clicks from the 20th on)", res.Verdicts)
	}
	convs := "conversion_id,click_id,ts,affiliate_id,order_id,commission\n" +
		"v-ok,c-ok,2026-11-01T10:30:00Z,a,o1,1\n" +
		"v-fast,c-fast,2026-11-01T10:00:03Z,a,o2,2\n" +
		"v-bot,c-bot,2026-11-01T10:30:00Z,a,o3,4\n" +
		"v-dc,c-dc,2026-11-01T10:30:00Z,a,o4,8\n" +
		"v-before,c-late,2026-11-01T11:00:00Z,a,o5,16\n" +
		"v-ghost,nope,2026-11-01T10:30:00Z,a,o6,32\n" +
		"v-dup,c-ok,2026-11-01T11:30:00Z,a,o1,64\n" +
		"v-stuff,c-stuff,2026-11-01T10:30:00Z,s,o8,128\n" +
		"v-other,c-other,2026-11-01T10:30:00Z,t,o9,256\n" +
		"v-flood,f24,2026-11-01T11:30:00Z,a,o10,512\n"
	res, err = detectors.IngestConversions(ctx, st, "conversions.csv", strings.NewReader(convs), opt)
	if err != nil || res.Loaded != 10 {
		t.Fatalf("conversions: %+v %v", res, err)
	}
	got := map[string]affwatch.EventVerdict{}
	if err := st.EachVerdict(ctx, affwatch.VerdictFilter{}, func(v affwatch.EventVerdict) error { got[v.ConversionID] = v; return nil }); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{
		"v-ok":     "ok ",
		"v-fast":   "reject CTIT_FAST",
		"v-bot":    "reject BOT_UA",
		"v-dc":     "review DATACENTER_IP",
		"v-before": "reject CONV_BEFORE_CLICK",
		"v-ghost":  "review UNKNOWN_CLICK",
		"v-dup":    "reject DUP_ORDER", // c-ok's address converted twice: no REPEAT_IP yet
		"v-stuff":  "reject STUFFED_PAGE",
		"v-other":  "ok ",
		"v-flood":  "review CLICK_FLOOD",
	} {
		v := got[id]
		if g := string(v.Verdict) + " " + v.Codes(); g != want {
			t.Errorf("%s: %q, want %q (%s)", id, g, want, v.ReasonText())
		}
	}
	if r := got["v-fast"].Reasons[0]; r.Numbers["ctit_seconds"] != 3 || r.Numbers["floor_seconds"] != 10 || !strings.Contains(r.Detail, "3 s after its click (floor 10 s)") {
		t.Errorf("CTIT_FAST reason: %+v", r)
	}
	if d := got["v-dup"].ReasonText(); !strings.Contains(d, "order o1 was credited 1 h earlier to conversion v-ok of this affiliate") {
		t.Errorf("DUP_ORDER reason: %s", d)
	}
	if res.Verdicts[affwatch.VerdictOK] != 2 || res.Verdicts[affwatch.VerdictReview] != 3 || res.Verdicts[affwatch.VerdictReject] != 5 {
		t.Errorf("conversion verdicts %v", res.Verdicts)
	}

	// A third conversion from one address within a day is REPEAT_IP; with the datacenter
	// code too, two review codes reject it. Loading the file again changes no verdict.
	more := "conversion_id,click_id,ts,affiliate_id,order_id,commission\n" +
		"v-dc2,c-dc,2026-11-01T13:00:00Z,a,o11,1\n" +
		"v-dc3,c-dc,2026-11-01T14:00:00Z,a,o12,1\n"
	for range 2 {
		if _, err := detectors.IngestConversions(ctx, st, "more.csv", strings.NewReader(more), opt); err != nil {
			t.Fatal(err)
		}
	}
	got = map[string]affwatch.EventVerdict{}
	st.EachVerdict(ctx, affwatch.VerdictFilter{}, func(v affwatch.EventVerdict) error { got[v.ConversionID] = v; return nil })
	if g := string(got["v-dc2"].Verdict) + " " + got["v-dc2"].Codes(); g != "review DATACENTER_IP" {
		t.Errorf("second conversion from the address: %s", g)
	}
	if g := string(got["v-dc3"].Verdict) + " " + got["v-dc3"].Codes(); g != "reject REPEAT_IP,DATACENTER_IP" {
		t.Errorf("third conversion from the address: %s (%s)", g, got["v-dc3"].ReasonText())
	}

	// The config can mute a code or make it reject alone.
	strict := detectors.NewJudge(detectors.VerdictRules{Codes: map[string]affwatch.Verdict{
		detectors.CodeDatacenter: affwatch.VerdictOK, detectors.CodeUnknownClick: affwatch.VerdictReject}}, nil)
	sum, err := strict.JudgeStored(ctx, st, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC), 0)
	if err != nil {
		t.Fatal(err)
	}
	got = map[string]affwatch.EventVerdict{}
	st.EachVerdict(ctx, affwatch.VerdictFilter{}, func(v affwatch.EventVerdict) error { got[v.ConversionID] = v; return nil })
	if got["v-dc"].Verdict != affwatch.VerdictOK || got["v-ghost"].Verdict != affwatch.VerdictReject || got["v-dc3"].Verdict != affwatch.VerdictReview {
		t.Errorf("with overrides: dc %s, ghost %s, dc3 %s", got["v-dc"].Verdict, got["v-ghost"].Verdict, got["v-dc3"].Verdict)
	}
	if sum.Counts[affwatch.VerdictOK]+sum.Counts[affwatch.VerdictReview]+sum.Counts[affwatch.VerdictReject] != 12 {
		t.Errorf("judged again: %v, want 12 conversions", sum.Counts)
	}
}

// Conversions that arrive before their clicks are unknown-click at ingest; detect judges
// them again once the clicks are in, and an order claimed again out of order is caught.
func TestDetectJudgesLateDataAgain(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	judge := detectors.NewJudge(detectors.VerdictRules{}, nil)
	opt := detectors.IngestOptions{Judge: judge, Now: func() time.Time { return time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC) }}
	convs := "conversion_id,click_id,ts,affiliate_id,order_id,commission\n" +
		"v2,c2,2026-11-01T12:00:00Z,a,o1,3\n"
	if _, err := detectors.IngestConversions(ctx, st, "c.csv", strings.NewReader(convs), opt); err != nil {
		t.Fatal(err)
	}
	clicks := "click_id,ts,affiliate_id,ip,user_agent\nc1,2026-11-01T09:00:00Z,a,81.2.69.1,Mozilla/5.0 (X11; Linux) Firefox/132.0\n" +
		"c2,2026-11-01T11:59:58Z,a,81.2.69.2,Mozilla/5.0 (X11; Linux) Firefox/132.0\n"
	if _, err := detectors.IngestClicks(ctx, st, "k.csv", strings.NewReader(clicks), opt); err != nil {
		t.Fatal(err)
	}
	late := "conversion_id,click_id,ts,affiliate_id,order_id,commission\nv1,c1,2026-11-01T10:00:00Z,a,o1,3\n"
	if _, err := detectors.IngestConversions(ctx, st, "late.csv", strings.NewReader(late), opt); err != nil {
		t.Fatal(err)
	}
	verdictOf := func(id string) string {
		var out string
		st.EachVerdict(ctx, affwatch.VerdictFilter{}, func(v affwatch.EventVerdict) error {
			if v.ConversionID == id {
				out = string(v.Verdict) + " " + v.Codes()
			}
			return nil
		})
		return out
	}
	if g := verdictOf("v2"); g != "review UNKNOWN_CLICK" {
		t.Fatalf("v2 at ingest: %s", g)
	}
	if _, err := judge.JudgeStored(ctx, st, time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC), 0); err != nil {
		t.Fatal(err)
	}
	if g := verdictOf("v2"); g != "reject DUP_ORDER,CTIT_FAST" && g != "reject CTIT_FAST,DUP_ORDER" {
		t.Errorf("v2 judged again: %s (its click is in now, 2 s before it, and v1 claimed o1 earlier)", g)
	}
	if g := verdictOf("v1"); g != "ok " {
		t.Errorf("v1: %s", g)
	}
}

// The shipped datacenter list parses, names a source and a date, and finds providers.
func TestDatacenterRanges(t *testing.T) {
	d := detectors.DefaultDatacenters()
	if d.Len() < 50 {
		t.Fatalf("%d ranges", d.Len())
	}
	for ip, want := range map[string]string{"5.9.10.11": "hetzner", "2a01:4f8:1::1": "hetzner", "34.100.1.1": "gcp",
		"52.1.2.3": "aws", "81.2.69.1": "", "1234567": "", "::ffff:5.9.10.11": "hetzner", "164.90.1.1": "digitalocean"} {
		if got := d.Provider(ip); got != want {
			t.Errorf("%s: %q, want %q", ip, got, want)
		}
	}
}

// A detector finding shows the affiliate's events behind it: an affiliate with 2 of 2
// conversions under the floor has both listed, with their numbers, under its injection
// finding (and none under a rule whose codes it did not earn).
func TestFindingsCarryTheirEvents(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	judge := detectors.NewJudge(detectors.VerdictRules{}, nil)
	opt := detectors.IngestOptions{Judge: judge, Now: func() time.Time { return time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC) }}
	clicks := "click_id,ts,affiliate_id,ip,user_agent\n" +
		"c1,2026-11-01T10:00:00Z,a,81.2.69.1,Mozilla/5.0 (X11; Linux) Firefox/132.0\n" +
		"c2,2026-11-01T11:00:00Z,a,81.2.69.2,Mozilla/5.0 (X11; Linux) Firefox/132.0\n"
	convs := "conversion_id,click_id,ts,affiliate_id,order_id,commission\n" +
		"v1,c1,2026-11-01T10:00:02Z,a,o1,3\nv2,c2,2026-11-01T11:00:05Z,a,o2,3\n"
	if _, err := detectors.IngestClicks(ctx, st, "k.csv", strings.NewReader(clicks), opt); err != nil {
		t.Fatal(err)
	}
	if _, err := detectors.IngestConversions(ctx, st, "v.csv", strings.NewReader(convs), opt); err != nil {
		t.Fatal(err)
	}
	sum, err := judge.JudgeStored(ctx, st, time.Date(2026, 10, 26, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC), 0)
	if err != nil {
		t.Fatal(err)
	}
	vs := []affwatch.Violation{{RuleID: detectors.RuleClickInjection, AffiliateID: "a"}, {RuleID: detectors.RuleBots, AffiliateID: "a"}}
	sum.Attach(vs)
	ev := vs[0].Evidence
	if len(ev.Events) != 2 || ev.Numbers["events"] != 2 || ev.Events[0].ConversionID != "v1" || ev.Events[1].Reasons[0].Numbers["ctit_seconds"] != 5 {
		t.Fatalf("injection finding's events: %+v %v", ev.Events, ev.Numbers)
	}
	if len(vs[1].Evidence.Events) != 0 {
		t.Fatalf("the bots finding lists events: %+v", vs[1].Evidence.Events)
	}
}
