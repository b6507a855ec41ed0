package scorecard_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/detectors"
	"github.com/affwatch/affwatch/internal/scorecard"
	"github.com/affwatch/affwatch/internal/store"
)

// withViolations is the store with hand-made violations in place of the stored ones, so
// that the days to fix are known to the hour.
type withViolations struct {
	*store.DB
	vs []affwatch.Violation
}

func (w withViolations) Violations(context.Context, affwatch.ViolationFilter) ([]affwatch.Violation, error) {
	return w.vs, nil
}

func day(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func openFixtureStore(t *testing.T) *store.DB {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, f := range []string{"clicks", "conversions"} {
		r, err := os.Open(filepath.Join("testdata", f+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		var res detectors.IngestResult
		if f == "clicks" {
			res, err = detectors.IngestClicks(ctx, st, f+".csv", r, detectors.IngestOptions{})
		} else {
			res, err = detectors.IngestConversions(ctx, st, f+".csv", r, detectors.IngestOptions{})
		}
		r.Close()
		if err != nil || res.Rejected > 0 {
			t.Fatalf("ingest %s: %v %+v", f, err, res.Rejects)
		}
	}
	return st
}

// TestScorecardByHand checks every number of the scorecard against the hand-made program
// in testdata (clicks.csv, conversions.csv), computed by hand below.
//
// The period ends 2026-11-15T00:00Z and lasts 7 days: this period is [11-08, 11-15), the
// previous one [11-01, 11-08). x01 (10-31) is before both, x02 and its conversion vx
// (11-15T00:00) at the end, which is excluded: none of them counts.
func TestScorecardByHand(t *testing.T) {
	ctx := context.Background()
	st := openFixtureStore(t)

	// The last crawl scan saw two pages of alpha: one verified (a disclosure, a coupon,
	// an affiliate link of the program and one of another merchant) and one bot wall.
	scan, err := st.StartScan(ctx, affwatch.ScanKindCrawl)
	if err != nil {
		t.Fatal(err)
	}
	aff := affwatch.PageAffiliate{ID: "alpha"}
	pages := []affwatch.Page{
		{URL: "https://alpha.example/", FetchStatus: affwatch.FetchOK, Affiliate: aff, Program: "acme", FetchedAt: day("2026-11-14T02:00:00Z"),
			Disclosures: []affwatch.Disclosure{{Text: "We earn a commission."}}, Coupons: []affwatch.Coupon{{Code: "SAVE10"}},
			Links: []affwatch.Link{
				{Href: "https://www.awin1.com/cread.php?awinmid=1001&awinaffid=9", Affiliate: &affwatch.AffiliateLink{Network: "awin", Merchant: "1001", AffiliateID: "9"}},
				{Href: "https://www.awin1.com/cread.php?awinmid=2002&awinaffid=9", Affiliate: &affwatch.AffiliateLink{Network: "awin", Merchant: "2002", AffiliateID: "9"}},
			}},
		{URL: "https://alpha.example/deals", FetchStatus: affwatch.FetchBotWall, Affiliate: aff, Program: "acme", FetchedAt: day("2026-11-14T02:00:01Z")},
	}
	for _, p := range pages {
		if _, err := st.SavePage(ctx, scan.ID, affwatch.Snapshot{Page: p}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.FinishScan(ctx, scan.ID, affwatch.ScanPartial, "1 page(s) not verified"); err != nil {
		t.Fatal(err)
	}

	// alpha's violations: open DISC-001 (high), an open joined JOIN-003 (medium) and an
	// act-tier FRAUD-INJ-001 (high); a suppressed critical and a medium advisory, which
	// do not count; three resolved ones that took 2, 6 and 1.5 days to fix.
	vs := []affwatch.Violation{
		{RuleID: "DISC-001", Source: affwatch.SourcePolicy, Severity: affwatch.SeverityHigh, AffiliateID: "alpha", State: affwatch.StateOpen, URL: "https://alpha.example/"},
		{RuleID: "JOIN-003", Source: affwatch.SourceJoined, Severity: affwatch.SeverityMedium, AffiliateID: "alpha", State: affwatch.StateNew},
		{RuleID: "FRAUD-INJ-001", Source: affwatch.SourceDetector, Severity: affwatch.SeverityHigh, AffiliateID: "alpha", State: affwatch.StateNew,
			Evidence: affwatch.Evidence{Tier: "act", Numbers: map[string]float64{"value": 0.5, "baseline": 0.02}}},
		{RuleID: "STUFF-001", Source: affwatch.SourcePolicy, Severity: affwatch.SeverityCritical, AffiliateID: "alpha", State: affwatch.StateSuppressed},
		{RuleID: "CLAIM-002", Source: affwatch.SourcePolicy, Severity: affwatch.SeverityMedium, AffiliateID: "alpha", State: affwatch.StateOpen, Advisory: true},
		{RuleID: "LINK-001", Source: affwatch.SourcePolicy, Severity: affwatch.SeverityLow, AffiliateID: "alpha", State: affwatch.StateResolved,
			FirstSeen: day("2026-11-01T00:00:00Z"), ResolvedAt: day("2026-11-03T00:00:00Z")},
		{RuleID: "DISC-002", Source: affwatch.SourcePolicy, Severity: affwatch.SeverityMedium, AffiliateID: "alpha", State: affwatch.StateResolved,
			FirstSeen: day("2026-11-02T00:00:00Z"), ResolvedAt: day("2026-11-08T00:00:00Z")},
		{RuleID: "DISC-004", Source: affwatch.SourcePolicy, Severity: affwatch.SeverityMedium, AffiliateID: "alpha", State: affwatch.StateResolved,
			FirstSeen: day("2026-11-05T00:00:00Z"), ResolvedAt: day("2026-11-06T12:00:00Z")},
	}
	cards, err := scorecard.Build(ctx, withViolations{st, vs}, scorecard.Options{
		End: day("2026-11-15T00:00:00Z"), Period: 7 * 24 * time.Hour,
		Programs:   []affwatch.Program{{ID: "acme", MerchantIDs: map[string]string{"awin": "1001"}}},
		Affiliates: []affwatch.Affiliate{{ID: "alpha", Name: "Alpha", Program: "acme"}, {ID: "beta", Name: "Beta", Program: "acme"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(cards) != 2 || cards[0].Affiliate.ID != "alpha" {
		t.Fatalf("cards %d, first %q; want alpha first of 2", len(cards), cards[0].Affiliate.ID)
	}
	alpha, beta := cards[0], cards[1]

	// alpha, this period: clicks a01..a10 = 10. Conversions v1, v2, v3 = 3, so the
	// conversion rate is 3/10 = 0.3. v3 is reversed: revenue and commission count v1 and
	// v2 only, 100+50 = 150 and 10+5 = 15; EPC = 15/10 = 1.5; reversal rate 1/3. All three
	// have their click (timed 3); v1 came 5 s after a01 (fast, within 30 s), v2 an hour
	// after a04, v3 four hours after a08: fast share 1/3.
	want := affwatch.DocTraffic{Clicks: 10, Conversions: 3, ConversionRate: 0.3, Revenue: 150, Commission: 15, EPC: 1.5,
		Reversed: 1, ReversalRate: 1.0 / 3, TimedConversions: 3, Fast: 1, FastShare: 1.0 / 3}
	checkTraffic(t, "alpha current", alpha.Scorecard.Current, want)
	// alpha, previous period: p01..p04 = 4 clicks, v0 = 1 conversion (80, commission 8):
	// conversion rate 0.25, EPC 8/4 = 2, nothing reversed; v0 came an hour after p01.
	checkTraffic(t, "alpha previous", alpha.Scorecard.Previous, affwatch.DocTraffic{Clicks: 4, Conversions: 1, ConversionRate: 0.25,
		Revenue: 80, Commission: 8, EPC: 2, TimedConversions: 1})
	// beta: b01..b05 this period, nothing converted, nothing before.
	checkTraffic(t, "beta current", beta.Scorecard.Current, affwatch.DocTraffic{Clicks: 5})
	checkTraffic(t, "beta previous", beta.Scorecard.Previous, affwatch.DocTraffic{})

	// The trend, relative to the previous period: clicks (10-4)/4 = 1.5, conversions
	// (3-1)/1 = 2, conversion rate (0.3-0.25)/0.25 = 0.2, revenue and commission
	// (150-80)/80 = 0.875, EPC (1.5-2)/2 = -0.25; no reversal before: no trend (null).
	tr := alpha.Trend
	for _, c := range []struct {
		name string
		got  *float64
		want float64
	}{{"clicks", tr.Clicks, 1.5}, {"conversions", tr.Conversions, 2}, {"conversion_rate", tr.ConversionRate, 0.2},
		{"revenue", tr.Revenue, 0.875}, {"commission", tr.Commission, 0.875}, {"epc", tr.EPC, -0.25}} {
		if c.got == nil || math.Abs(*c.got-c.want) > 1e-9 {
			t.Errorf("alpha trend %s = %v, want %g", c.name, deref(c.got), c.want)
		}
	}
	if tr.ReversalRate != nil || beta.Trend.Clicks != nil {
		t.Errorf("trend against nothing: alpha reversal %v, beta clicks %v; want null", deref(tr.ReversalRate), deref(beta.Trend.Clicks))
	}

	// Nights 11-08..11-14: 11-08 has a01-a03 and v1 (100, 10); 11-10 a04-a07 and v2
	// (50, 5); 11-14 a08-a10 and v3, reversed (nothing paid); the other nights are empty.
	if len(alpha.Nights) != 7 || alpha.Nights[0].Date != "2026-11-08" || alpha.Nights[6].Date != "2026-11-14" {
		t.Fatalf("nights %+v", alpha.Nights)
	}
	nights := map[string][3]float64{"2026-11-08": {3, 1, 10}, "2026-11-10": {4, 1, 5}, "2026-11-14": {3, 1, 0}}
	for _, n := range alpha.Nights {
		w := nights[n.Date]
		if float64(n.Clicks) != w[0] || float64(n.Conversions) != w[1] || n.Commission != w[2] {
			t.Errorf("night %s: clicks %d, conversions %d, commission %g; want %v", n.Date, n.Clicks, n.Conversions, n.Commission, w)
		}
	}

	// Violations: open high 2 (DISC-001, FRAUD-INJ-001), medium 1 (JOIN-003); the
	// suppressed and the advisory do not count. Days to fix: 2, 6, 1.5: median 2.
	if got := alpha.Scorecard.OpenViolations; got["high"] != 2 || got["medium"] != 1 || got["critical"] != 0 || got["low"] != 0 {
		t.Errorf("open violations %v, want high 2, medium 1", got)
	}
	if m := alpha.Scorecard.MedianDaysToFix; m == nil || *m != 2 {
		t.Errorf("median days to fix %v, want 2", deref(m))
	}
	if beta.Scorecard.MedianDaysToFix != nil {
		t.Errorf("beta fixed nothing: median %v, want null", *beta.Scorecard.MedianDaysToFix)
	}
	// Pages: 2 checked, the bot wall not verified. Commission at risk: no verdicts yet.
	if alpha.Scorecard.PagesChecked != 2 || alpha.Scorecard.PagesNotVerified != 1 {
		t.Errorf("pages %d checked, %d not verified; want 2, 1", alpha.Scorecard.PagesChecked, alpha.Scorecard.PagesNotVerified)
	}
	if alpha.Scorecard.CommissionAtRisk != nil {
		t.Errorf("commission at risk %v without verdicts, want null (n/a)", *alpha.Scorecard.CommissionAtRisk)
	}
	// Promotions on the verified page: awin 1001 is the program's (ours), 2002 is not.
	if p := alpha.Promotions; len(p) != 2 || !p[0].Ours || p[1].Ours || p[1].Merchant != "2002" {
		t.Errorf("promotions %+v", p)
	}
	// The baseline is the program's: alpha and beta together, 15 clicks and 3
	// conversions this period: 0.2.
	if alpha.Baseline.Clicks != 15 || math.Abs(alpha.Baseline.ConversionRate-0.2) > 1e-9 {
		t.Errorf("baseline %+v", alpha.Baseline)
	}
	// Risk with the default weights: DISC-001 high 20 + JOIN-003 medium 8 + FRAUD-INJ-001
	// act 35 + one page not verified 3 = 66. No traffic signal: 3 conversions are under
	// the 10 a signal needs. beta: nothing, 0.
	if alpha.Risk.Score != 66 || len(alpha.Risk.Items) != 4 || alpha.Risk.Items[0].Name != "FRAUD-INJ-001" {
		t.Errorf("alpha risk %+v, want 66 from 4 items, FRAUD-INJ-001 first", alpha.Risk)
	}
	if beta.Risk.Score != 0 || len(beta.Risk.Items) != 0 {
		t.Errorf("beta risk %+v, want 0", beta.Risk)
	}

	// With per-event verdicts, commission at risk is the commission of the conversions in
	// review or rejected: v1 (10) in review, v2 (5) accepted, v3 (20) rejected: 30.
	verdicts := map[string]string{"v1": "review", "v2": "accept", "v3": "reject"}
	cards, err = scorecard.Build(ctx, withViolations{st, nil}, scorecard.Options{End: day("2026-11-15T00:00:00Z"),
		Affiliates: []affwatch.Affiliate{{ID: "alpha", Program: "acme"}},
		Verdict:    func(c affwatch.Conversion) string { return verdicts[c.ConversionID] }})
	if err != nil {
		t.Fatal(err)
	}
	if r := cards[0].Scorecard.CommissionAtRisk; cards[0].Affiliate.ID != "alpha" || r == nil || *r != 30 {
		t.Errorf("commission at risk %v, want 30", deref(r))
	}

	// The same from the verdicts stored in the store (what ingest and detect write): v1
	// in review, v2 ok, v3 rejected; vx, rejected, is at the period's end and not counted.
	stored := []affwatch.EventVerdict{
		{ConversionID: "v1", AffiliateID: "alpha", TS: day("2026-11-09T00:00:00Z"), Verdict: affwatch.VerdictReview},
		{ConversionID: "v2", AffiliateID: "alpha", TS: day("2026-11-09T00:00:00Z"), Verdict: affwatch.VerdictOK},
		{ConversionID: "v3", AffiliateID: "alpha", TS: day("2026-11-09T00:00:00Z"), Verdict: affwatch.VerdictReject},
		{ConversionID: "vx", AffiliateID: "alpha", TS: day("2026-11-15T00:00:00Z"), Verdict: affwatch.VerdictReject},
	}
	if err := st.SaveVerdicts(ctx, stored); err != nil {
		t.Fatal(err)
	}
	cards, err = scorecard.Build(ctx, withViolations{st, nil}, scorecard.Options{End: day("2026-11-15T00:00:00Z"),
		Affiliates: []affwatch.Affiliate{{ID: "alpha", Program: "acme"}}, Verdicts: st})
	if err != nil {
		t.Fatal(err)
	}
	if r := cards[0].Scorecard.CommissionAtRisk; cards[0].Affiliate.ID != "alpha" || r == nil || *r != 30 {
		t.Errorf("commission at risk from the stored verdicts %v, want 30", deref(r))
	}
}

func checkTraffic(t *testing.T, name string, got, want affwatch.DocTraffic) {
	t.Helper()
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if got.Clicks != want.Clicks || got.Conversions != want.Conversions || got.Reversed != want.Reversed ||
		got.TimedConversions != want.TimedConversions || got.Fast != want.Fast ||
		!near(got.ConversionRate, want.ConversionRate) || !near(got.Revenue, want.Revenue) || !near(got.Commission, want.Commission) ||
		!near(got.EPC, want.EPC) || !near(got.ReversalRate, want.ReversalRate) || !near(got.FastShare, want.FastShare) {
		t.Errorf("%s:\n got %+v\nwant %+v", name, got, want)
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestWeightsValidate(t *testing.T) {
	w := scorecard.Weights{Severity: map[string]float64{"hgh": 3, "low": -1}, FindingAct: -2}
	err := w.Validate()
	if err == nil {
		t.Fatal("bad weights accepted")
	}
	for _, want := range []string{"severity.hgh", "severity.low", "finding_act"} {
		if !contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if err := scorecard.DefaultWeights().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
