package store_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/internal/store"
)

// TestPageDecisionsAreRecorded: every stored page keeps its decision record (revision,
// rules judged, rules that found something), so "was this page checked under rule X as
// of scan N?" has an answer, also for a page that failed to fetch (judged by nothing).
func TestPageDecisionsAreRecorded(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const url = "https://a.example/"
	aff := affwatch.Affiliate{ID: "a"}
	v := affwatch.NewViolation(affwatch.Finding{RuleID: "DISC-001", Severity: affwatch.SeverityHigh, Evidence: affwatch.Evidence{Key: "page"}},
		affwatch.SourcePolicy, aff, url)
	ok := affwatch.Snapshot{Page: affwatch.Page{URL: url, FetchStatus: affwatch.FetchOK, Affiliate: affwatch.PageAffiliate{ID: "a"}},
		Judged: []string{"LINK-001", "DISC-001"}, PolicyRevision: "rev1", EvalErrors: "rule CLAIM-001: timeout"}
	s1, _ := st.StartScan(ctx, affwatch.ScanKindCrawl)
	if _, err := st.SavePage(ctx, s1.ID, ok, []affwatch.Violation{v, v}); err != nil {
		t.Fatal(err)
	}
	down := affwatch.Snapshot{Page: affwatch.Page{URL: url, FetchStatus: affwatch.FetchTimeout, FetchError: "timeout", Affiliate: affwatch.PageAffiliate{ID: "a"}}}
	s2, _ := st.StartScan(ctx, affwatch.ScanKindCrawl)
	if _, err := st.SavePage(ctx, s2.ID, down, nil); err != nil {
		t.Fatal(err)
	}
	ds, err := st.PageDecisions(ctx, url, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[0].ScanID != s2.ID || ds[1].ScanID != s1.ID {
		t.Fatalf("decisions %+v, want scans %d then %d", ds, s2.ID, s1.ID)
	}
	if d := ds[1]; d.PolicyRevision != "rev1" || !slices.Equal(d.Judged, []string{"DISC-001", "LINK-001"}) ||
		!slices.Equal(d.Violated, []string{"DISC-001"}) || d.EvalErrors == "" || d.FetchStatus != affwatch.FetchOK || d.ScanStarted.IsZero() {
		t.Errorf("the judged page's record: %+v", d)
	}
	if d := ds[0]; d.Judged != nil || len(d.Violated) != 0 || d.FetchStatus != affwatch.FetchTimeout || d.FetchError != "timeout" {
		t.Errorf("the page that timed out was judged by nothing: %+v", d)
	}
	if ds, err := st.PageDecisions(ctx, "https://other.example/", 10); err != nil || len(ds) != 0 {
		t.Errorf("another page: %v %v", ds, err)
	}
}
