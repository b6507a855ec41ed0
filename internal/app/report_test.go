package app_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/internal/app"
	"github.com/affwatch/affwatch/internal/store"
)

// A report lists as new what was first seen since the previous report of the same name,
// not within a fixed 24 hours: a violation first seen a day and a half before the
// nightly report, after the last report, is news to the manager (the daemon's report
// job, with its hard-coded now-24h, called it open). The next report calls it open.
func TestReportsAreSinceThePreviousReport(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "affwatch.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	clock := time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC)
	st.Now = func() time.Time { return clock }
	aff := affwatch.Affiliate{ID: "deals", Program: "acme", ManagerEmail: "bob@acme.example"}
	opt := app.ReportOptions{Affiliates: []affwatch.Affiliate{aff}, Now: func() time.Time { return clock }}
	out := filepath.Join(dir, "reports")

	// reports writes the reports once and returns them by name.
	reports := func() map[string]app.NamedReport {
		t.Helper()
		set, files, err := app.WriteReports(ctx, st, opt, out)
		if err != nil {
			t.Fatal(err)
		}
		if len(set.Reports) != 2 || len(files) != 8 {
			t.Fatalf("%d reports in %d files, want 2 (all, bob's) in 8", len(set.Reports), len(files))
		}
		byName := map[string]app.NamedReport{}
		for _, r := range set.Reports {
			byName[r.Name] = r
		}
		return byName
	}
	report := func(name string) app.NamedReport { return reports()[name] }
	if r := report("all"); len(r.New)+len(r.Open) != 0 {
		t.Fatalf("the first report, of an empty store: %d new, %d open", len(r.New), len(r.Open))
	}

	page := affwatch.Snapshot{Page: affwatch.Page{URL: "https://deals.example/", FetchStatus: affwatch.FetchOK,
		Affiliate: affwatch.PageAffiliate{ID: aff.ID}}, HTML: []byte("<html></html>")}
	v := affwatch.NewViolation(affwatch.Finding{RuleID: "DISC-001", Severity: affwatch.SeverityHigh, Message: "no disclosure",
		Evidence: affwatch.Evidence{Key: "page"}}, affwatch.SourcePolicy, aff, page.Page.URL)
	for _, at := range []time.Duration{1 * time.Hour, 30 * time.Hour} { // first seen, then seen again (open)
		clock = time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC).Add(at)
		scan, err := st.StartScan(ctx, affwatch.ScanKindCrawl)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.SavePage(ctx, scan.ID, page, []affwatch.Violation{v}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.FinishScan(ctx, scan.ID, affwatch.ScanSucceeded, ""); err != nil {
			t.Fatal(err)
		}
	}

	clock = time.Date(2026, 11, 3, 6, 0, 0, 0, time.UTC) // 48 hours after the first report
	rs := reports()
	for _, name := range []string{"all", "bob@acme.example"} {
		if r := rs[name]; len(r.New) != 1 || len(r.Open) != 0 {
			t.Errorf("report %s, 47 hours after the violation was first seen and 48 after the previous report: %d new, %d open; want it new",
				name, len(r.New), len(r.Open))
		}
	}
	if at, err := st.LastReport(ctx, "bob@acme.example"); err != nil || !at.Equal(clock) {
		t.Errorf("bob's report recorded at %v, %v; want %v", at, err, clock)
	}

	clock = clock.Add(time.Hour)
	if r := report("all"); len(r.New) != 0 || len(r.Open) != 1 {
		t.Errorf("the next report: %d new, %d open; want it open (reported as new before)", len(r.New), len(r.Open))
	}

	// An explicit since overrides the previous report's time.
	opt.Since = clock.Add(-72 * time.Hour)
	if r := report("all"); len(r.New) != 1 {
		t.Errorf("report since 72 hours: %d new, want 1", len(r.New))
	}
	if _, err := os.Stat(filepath.Join(out, "report-bob@acme.example.html")); err != nil {
		t.Error(err)
	}
}
