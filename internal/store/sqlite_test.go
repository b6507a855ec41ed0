package store_test

import (
	"context"
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

// Migration 0004 moves clicks stored before it (user agent in every row, clicks keyed by
// click id) into the rowid table with user agents stored once, losing nothing.
func TestClicksMigrationKeepsEveryClick(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m.db")
	st, err := store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	// Put the database back as it was before 0004, with clicks in the old table (and
	// before 0012, which adds the clicks' verdict columns).
	for _, q := range []string{
		`DROP TABLE conversion_verdicts`, `DROP INDEX conversions_by_order`, `DELETE FROM schema_migrations WHERE version = 12`,
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

	st, err = store.OpenSQLite(ctx, path) // applies 0004 and 0012 again
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
