package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/internal/store"
)

func TestMigrationsApplyOnceAndReopen(t *testing.T) {
	ctx := context.Background()
	p := filepath.Join(t.TempDir(), "a.db")
	applied := -1
	for range 2 {
		st, err := store.OpenSQLite(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := st.DB().QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n < 2 || (applied >= 0 && n != applied) {
			t.Fatalf("schema_migrations: %d rows (before reopening %d), err %v", n, applied, err)
		}
		applied = n
		var mode string
		st.DB().QueryRow(`PRAGMA journal_mode`).Scan(&mode)
		var fk int
		st.DB().QueryRow(`PRAGMA foreign_keys`).Scan(&fk)
		if mode != "wal" || fk != 1 {
			t.Fatalf("journal_mode %s, foreign_keys %d", mode, fk)
		}
		st.Close()
	}
}

func TestSavePageKeepsSnapshotAndLifecycle(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC)
	st.Now = func() time.Time { return now }
	aff := affwatch.Affiliate{ID: "a", Program: "p"}
	page := func(status affwatch.FetchStatus) affwatch.Snapshot {
		return affwatch.Snapshot{Page: affwatch.Page{URL: "https://a.example/", FetchStatus: status, ContentSHA256: "abc",
			Affiliate: affwatch.PageAffiliate{ID: "a"}}, HTML: []byte("<html>same bytes</html>")}
	}
	v := affwatch.NewViolation(affwatch.Finding{RuleID: "DISC-001", Severity: affwatch.SeverityHigh, Message: "m",
		Evidence: affwatch.Evidence{Key: "page"}}, affwatch.SourcePolicy, aff, "https://a.example/")
	suppressed := affwatch.NewViolation(affwatch.Finding{RuleID: "DISC-002", Severity: affwatch.SeverityLow, Message: "m",
		Suppressed: "agreed by legal", Evidence: affwatch.Evidence{Key: "page"}}, affwatch.SourcePolicy, aff, "https://a.example/")

	steps := []struct {
		name   string
		status affwatch.FetchStatus
		vs     []affwatch.Violation
		want   affwatch.State
		out    affwatch.PageOutcome
	}{
		{"first sighting", affwatch.FetchOK, []affwatch.Violation{v, suppressed}, affwatch.StateNew, affwatch.PageOutcome{New: 1, Suppressed: 1, Seen: 2}},
		{"seen again", affwatch.FetchOK, []affwatch.Violation{v, suppressed}, affwatch.StateOpen, affwatch.PageOutcome{Seen: 2}},
		{"unverified page", affwatch.FetchBotWall, nil, affwatch.StateOpen, affwatch.PageOutcome{}},
		{"fixed", affwatch.FetchOK, nil, affwatch.StateResolved, affwatch.PageOutcome{Resolved: 2}},
		{"back", affwatch.FetchOK, []affwatch.Violation{v}, affwatch.StateReopened, affwatch.PageOutcome{Reopened: 1, Seen: 1}},
	}
	for _, s := range steps {
		scan, err := st.StartScan(ctx, affwatch.ScanKindCrawl)
		if err != nil {
			t.Fatal(err)
		}
		now = now.Add(24 * time.Hour)
		out, err := st.SavePage(ctx, scan.ID, page(s.status), s.vs)
		if err != nil {
			t.Fatal(err)
		}
		if out != s.out {
			t.Errorf("%s: outcome %+v, want %+v", s.name, out, s.out)
		}
		got, err := st.Violations(ctx, affwatch.ViolationFilter{RuleID: "DISC-001"})
		if err != nil || len(got) != 1 {
			t.Fatalf("%s: %d violations, err %v", s.name, len(got), err)
		}
		if got[0].State != s.want {
			t.Errorf("%s: state %s, want %s", s.name, got[0].State, s.want)
		}
		if _, err := st.FinishScan(ctx, scan.ID, affwatch.ScanSucceeded, ""); err != nil {
			t.Fatal(err)
		}
	}
	html, err := st.Snapshot(ctx, "abc")
	if err != nil || string(html) != "<html>same bytes</html>" {
		t.Fatalf("snapshot: %q %v", html, err)
	}
	var snaps int
	st.DB().QueryRow(`SELECT count(*) FROM snapshots`).Scan(&snaps)
	if snaps != 1 {
		t.Errorf("%d snapshot rows for one content hash", snaps)
	}
	sup, _ := st.Violations(ctx, affwatch.ViolationFilter{RuleID: "DISC-002"})
	// A finding a program exception covers is kept as suppressed, and resolves like any
	// other when the page no longer has it.
	if len(sup) != 1 || sup[0].State != affwatch.StateResolved {
		t.Errorf("exception-suppressed violation: %+v", sup)
	}
}

func TestManualSuppressionHoldsUntilExpiry(t *testing.T) {
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	cur := affwatch.Violation{State: affwatch.StateSuppressed, SuppressedBy: "alice", SuppressUntil: now.Add(48 * time.Hour), LastScan: 1}
	found := affwatch.Violation{State: affwatch.StateNew}
	if got := cur.Sighted(found, 2, now.Add(24*time.Hour)); got.State != affwatch.StateSuppressed {
		t.Errorf("before expiry: %s", got.State)
	}
	if got := cur.Sighted(found, 3, now.Add(72*time.Hour)); got.State != affwatch.StateOpen || got.SuppressedBy != "" {
		t.Errorf("after expiry: %s by %q", got.State, got.SuppressedBy)
	}
	if cur.Resolvable(now) {
		t.Error("a live manual suppression was resolvable")
	}
}

func TestUnjudgedRulesResolveNothing(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	aff := affwatch.Affiliate{ID: "a"}
	snap := affwatch.Snapshot{Page: affwatch.Page{URL: "https://a.example/", FetchStatus: affwatch.FetchOK, Affiliate: affwatch.PageAffiliate{ID: "a"}}}
	v := affwatch.NewViolation(affwatch.Finding{RuleID: "DISC-001", Severity: affwatch.SeverityHigh, Evidence: affwatch.Evidence{Key: "page"}},
		affwatch.SourcePolicy, aff, "https://a.example/")
	s1, _ := st.StartScan(ctx, affwatch.ScanKindCrawl)
	if _, err := st.SavePage(ctx, s1.ID, snap, []affwatch.Violation{v}); err != nil {
		t.Fatal(err)
	}
	s2, _ := st.StartScan(ctx, affwatch.ScanKindCrawl)
	snap.Judged = []string{"DISC-002"} // DISC-001 failed on the page
	out, err := st.SavePage(ctx, s2.ID, snap, nil)
	if err != nil || out.Resolved != 0 {
		t.Fatalf("a rule that failed on the page resolved its violation: %+v %v", out, err)
	}
	snap.Judged = nil
	s3, _ := st.StartScan(ctx, affwatch.ScanKindCrawl)
	if out, err := st.SavePage(ctx, s3.ID, snap, nil); err != nil || out.Resolved != 1 {
		t.Fatalf("once judged again, the violation resolves: %+v %v", out, err)
	}
}

// A lock that expired half a second ago is free, even when it expired on the second:
// times are stored at a fixed width, so comparing them as text orders them as times.
func TestLockExpiryWithinASecond(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "l.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 11, 25, 6, 59, 59, 500_000_000, time.UTC)
	st.Now = func() time.Time { return t0 }
	if err := st.Lock(ctx, "job:scan", "a", 500*time.Millisecond); err != nil { // expires at 07:00:00.000
		t.Fatal(err)
	}
	st.Now = func() time.Time { return t0.Add(time.Second) } // 07:00:00.500
	if err := st.Lock(ctx, "job:scan", "b", time.Minute); err != nil {
		t.Fatalf("an expired lock was not taken over: %v", err)
	}
	if err := st.Lock(ctx, "job:scan", "a", time.Minute); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("a held lock was taken: %v", err)
	}
}

// Migration 0004 moves clicks stored before it (user agent in every row, clicks keyed by
// click id) into the rowid table with user agents stored once, losing nothing.
func TestClicksMigrationKeepsEveryClick(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m.db")
	st, err := store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	// Put the database back as it was before 0004, with clicks in the old table.
	for _, q := range []string{
		`DROP TABLE clicks`, `DROP TABLE user_agents`, `DELETE FROM schema_migrations WHERE version = 4`,
		`CREATE TABLE clicks (click_id TEXT PRIMARY KEY, ts INTEGER NOT NULL, affiliate_id TEXT NOT NULL, sub_id TEXT NOT NULL DEFAULT '',
			ip TEXT NOT NULL DEFAULT '', user_agent TEXT NOT NULL DEFAULT '', referrer TEXT NOT NULL DEFAULT '',
			country TEXT NOT NULL DEFAULT '', landing_url TEXT NOT NULL DEFAULT '') WITHOUT ROWID`,
		`CREATE INDEX clicks_by_ts ON clicks (ts)`,
		`INSERT INTO clicks VALUES ('c2', 2000, 'a', 's', '10.0.0.2', 'python-requests/2.31', 'r', 'DE', 'https://shop.example/'),
			('c1', 1000, 'a', '', '10.0.0.1', 'Mozilla/5.0 Firefox', '', '', ''), ('c3', 3000, 'b', '', '', '', '', '', '')`,
	} {
		if _, err := st.DB().ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	st.Close()

	st, err = store.OpenSQLite(ctx, path) // applies 0004 again
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var got []affwatch.Click
	if err := st.EachClick(ctx, time.UnixMilli(0), func(c affwatch.Click) error { got = append(got, c); return nil }); err != nil {
		t.Fatal(err)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].ClickID < got[j].ClickID })
	if len(got) != 3 || got[0].UserAgent != "Mozilla/5.0 Firefox" || got[1].UserAgent != "python-requests/2.31" ||
		got[1].LandingURL != "https://shop.example/" || got[1].TS.UnixMilli() != 2000 || got[2].UserAgent != "" || got[2].AffiliateID != "b" {
		t.Fatalf("clicks after the migration: %+v", got)
	}
	// and new clicks keep going in, a known user agent reused, a duplicate id ignored
	n, err := st.AddClicks(ctx, []affwatch.Click{{ClickID: "c4", TS: time.UnixMilli(4000), AffiliateID: "a", UserAgent: "Mozilla/5.0 Firefox"},
		{ClickID: "c1", TS: time.UnixMilli(1000), AffiliateID: "a"}})
	if err != nil || n != 1 {
		t.Fatalf("add after the migration: %d, %v", n, err)
	}
	var uas int
	st.DB().QueryRowContext(ctx, `SELECT count(*) FROM user_agents`).Scan(&uas)
	if uas != 3 {
		t.Errorf("%d user agents stored, want 3 (each once)", uas)
	}
}
