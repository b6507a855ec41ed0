package store_test

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/detectors"
	"github.com/affwatch/affwatch/internal/store"
	"github.com/affwatch/affwatch/internal/testkit"
)

func openPG(t testing.TB, dsn string) *store.DB {
	t.Helper()
	st, err := store.OpenPostgres(context.Background(), dsn, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// partitions lists the clicks partitions of a PostgreSQL store.
func partitions(t *testing.T, st *store.DB) []string {
	t.Helper()
	rows, err := st.DB().Query(`SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'clicks'::regclass ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		out = append(out, n)
	}
	return out
}

var day0 = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

// clicksOver makes n clicks spread over days days from day0, ids prefixed.
func clicksOver(prefix string, n, days int) []affwatch.Click {
	cs := make([]affwatch.Click, n)
	for i := range cs {
		cs[i] = affwatch.Click{ClickID: fmt.Sprintf("%s%d", prefix, i), TS: day0.Add(time.Duration(i%days)*24*time.Hour + time.Duration(i)*time.Second),
			AffiliateID: "a" + fmt.Sprint(i%3), IP: fmt.Sprintf("192.0.2.%d", i%250), UserAgent: "ua/" + fmt.Sprint(i%4), Country: "DE"}
	}
	return cs
}

// Clicks on PostgreSQL go into one partition per UTC day, created on demand; loading the
// same clicks again adds nothing, and an id repeated within a batch is stored once (the
// first row), as on SQLite.
func TestPostgresClicksGoIntoDayPartitions(t *testing.T) {
	ctx := context.Background()
	st := openPG(t, testkit.Postgres(t))
	cs := clicksOver("c", 30, 3)
	cs = append(cs, affwatch.Click{ClickID: "c0", TS: day0.Add(time.Hour), AffiliateID: "other"}) // same id, other values
	n, err := st.AddClicks(ctx, cs)
	if err != nil || n != 30 {
		t.Fatalf("first load: %d new, %v; want 30", n, err)
	}
	if got, want := partitions(t, st), []string{"clicks_p20261120", "clicks_p20261121", "clicks_p20261122"}; !slices.Equal(got, want) {
		t.Fatalf("partitions %v, want %v", got, want)
	}
	if n, err := st.AddClicks(ctx, cs); err != nil || n != 0 {
		t.Fatalf("second load: %d new, %v; want 0", n, err)
	}
	byID, err := st.ClicksByID(ctx, []string{"c0", "c29"})
	if err != nil || len(byID) != 2 {
		t.Fatalf("by id: %+v %v", byID, err)
	}
	for _, c := range byID {
		if c.ClickID == "c0" && (c.AffiliateID != "a0" || c.UserAgent != "ua/0" || !c.TS.Equal(day0)) {
			t.Errorf("c0 stored as %+v, want the first row", c)
		}
	}
	// the detectors' stream (pgx) gives the signal fields of the same clicks as EachClick
	var signal, full []string
	key := func(c affwatch.Click) string {
		return fmt.Sprint(c.TS.UnixMilli(), c.TS.Location(), c.AffiliateID, c.IP, c.UserAgent)
	}
	if err := st.EachClickSignal(ctx, day0.Add(24*time.Hour), func(c affwatch.Click) error { signal = append(signal, key(c)); return nil }); err != nil {
		t.Fatal(err)
	}
	st.EachClick(ctx, day0.Add(24*time.Hour), func(c affwatch.Click) error { full = append(full, key(c)); return nil })
	slices.Sort(signal)
	slices.Sort(full)
	if len(signal) != 20 || !slices.Equal(signal, full) {
		t.Errorf("signal stream since the second day (%d clicks):\n%v\nwant\n%v", len(signal), signal, full)
	}
}

// Ingest through the COPY path still tells a click loaded again from one whose id is
// stored with other values: the first is a duplicate, the second a conflict naming the
// line and what differs.
func TestPostgresIngestReportsConflicts(t *testing.T) {
	ctx := context.Background()
	st := openPG(t, testkit.Postgres(t))
	first := "click_id,ts,affiliate_id,ip\nk1,2026-11-20T10:00:00Z,a,192.0.2.1\nk2,2026-11-21T10:00:00Z,a,192.0.2.2\n"
	opt := detectors.IngestOptions{Now: func() time.Time { return day0.Add(72 * time.Hour) }}
	res, err := detectors.IngestClicks(ctx, st, "first.csv", strings.NewReader(first), opt)
	if err != nil || res.Loaded != 2 {
		t.Fatalf("first file: %+v %v", res, err)
	}
	again := "click_id,ts,affiliate_id,ip\nk1,2026-11-20T10:00:00Z,a,192.0.2.1\nk2,2026-11-22T10:00:00Z,b,192.0.2.2\nk3,2026-11-22T11:00:00Z,a,192.0.2.3\n"
	res, err = detectors.IngestClicks(ctx, st, "again.csv", strings.NewReader(again), opt)
	if err != nil || res.Loaded != 1 || res.Duplicates != 1 || res.Conflicts != 1 {
		t.Fatalf("second file: %+v %v; want 1 loaded, 1 duplicate, 1 conflict", res, err)
	}
	if len(res.Rejects) != 1 || res.Rejects[0].Line != 3 || !res.Rejects[0].Conflict || !strings.Contains(res.Rejects[0].Reason, "affiliate_id") {
		t.Errorf("conflict reported as %+v", res.Rejects)
	}
}

// Two processes loading the same clicks at once store each click once.
func TestPostgresConcurrentIngestStoresEachClickOnce(t *testing.T) {
	ctx := context.Background()
	dsn := testkit.Postgres(t)
	a, b := openPG(t, dsn), openPG(t, dsn)
	cs := clicksOver("x", 2000, 5)
	var (
		wg    sync.WaitGroup
		added [2]int
		errs  [2]error
	)
	for i, st := range []*store.DB{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for start := 0; start < len(cs); start += 250 {
				n, err := st.AddClicks(ctx, cs[start:start+250])
				added[i] += n
				if err != nil {
					errs[i] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil || added[0]+added[1] != len(cs) {
		t.Fatalf("added %v (want %d in all), errors %v", added, len(cs), errs)
	}
	var stored int
	a.DB().QueryRow(`SELECT count(*) FROM clicks`).Scan(&stored)
	if stored != len(cs) {
		t.Errorf("%d clicks stored, want %d", stored, len(cs))
	}
}

// Retention removes whole UTC days before the cut, the same on both stores: on PostgreSQL
// by dropping their partitions. A click of a dropped day loaded again is new again, also
// through another process that had seen its day before it was dropped.
func TestRetentionDropsWholeDays(t *testing.T) {
	ctx := context.Background()
	pgDSN := testkit.Postgres(t)
	sq, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	pg, other := openPG(t, pgDSN), openPG(t, pgDSN)
	cs := clicksOver("r", 50, 5) // 10 clicks on each of 5 days
	for _, st := range []*store.DB{sq, pg} {
		if n, err := st.AddClicks(ctx, cs); err != nil || n != 50 {
			t.Fatalf("load: %d %v", n, err)
		}
		// the cut is in the middle of the third day: the first two go, the third stays whole
		ret, err := st.DropClicksBefore(ctx, day0.Add(2*24*time.Hour+13*time.Hour))
		if err != nil || ret.Clicks != 20 || len(ret.Days) != 2 || !ret.Days[0].Equal(day0) || !ret.Before.Equal(day0.Add(48*time.Hour)) {
			t.Fatalf("retention: %+v %v; want the 2 first days, 20 clicks", ret, err)
		}
		var left []affwatch.Click
		if err := st.EachClick(ctx, time.UnixMilli(0), func(c affwatch.Click) error { left = append(left, c); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(left) != 30 || slices.ContainsFunc(left, func(c affwatch.Click) bool { return c.TS.Before(day0.Add(48 * time.Hour)) }) {
			t.Fatalf("%d clicks left, some before the cut", len(left))
		}
		// the clicks counted per hour are those left, and none before the cut
		counted := 0
		if err := st.EachClickHour(ctx, day0, day0.Add(5*24*time.Hour), func(_ string, hour time.Time, n int) error {
			if hour.Before(day0.Add(48 * time.Hour)) {
				t.Errorf("hour %s still counted after retention", hour)
			}
			counted += n
			return nil
		}); err != nil || counted != 30 {
			t.Errorf("%d clicks counted per hour after retention (%v), want 30", counted, err)
		}
		if ret, err := st.DropClicksBefore(ctx, day0.Add(48*time.Hour)); err != nil || ret.Clicks != 0 || len(ret.Days) != 0 {
			t.Errorf("retention again: %+v %v; want nothing", ret, err)
		}
	}
	if got := partitions(t, pg); !slices.Equal(got, []string{"clicks_p20261122", "clicks_p20261123", "clicks_p20261124"}) {
		t.Errorf("partitions after retention: %v", got)
	}
	// other had not seen the days dropped; it loads a click of a dropped day after it
	// learned of that day, then pg drops the day again, and other loads once more
	if n, err := other.AddClicks(ctx, cs[:1]); err != nil || n != 1 {
		t.Fatalf("reload of a dropped day: %d %v", n, err)
	}
	if _, err := pg.DropClicksBefore(ctx, day0.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, err := other.AddClicks(ctx, cs[:1]); err != nil || n != 1 {
		t.Fatalf("reload after another process dropped the day: %d %v", n, err)
	}
}

// Migration 0017 moves the clicks of a PostgreSQL database from before it into day
// partitions, ids and verdicts kept, and ingest goes on idempotently.
func TestPostgresClicksMigrationKeepsEveryClick(t *testing.T) {
	ctx := context.Background()
	dsn := testkit.Postgres(t)
	st := openPG(t, dsn)
	for _, q := range []string{
		`DROP TABLE clicks`, `DROP TABLE click_keys`, `DELETE FROM schema_migrations WHERE version = 17`,
		`CREATE TABLE clicks (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, click_id TEXT NOT NULL UNIQUE, ts BIGINT NOT NULL,
			affiliate_id TEXT NOT NULL, sub_id TEXT NOT NULL DEFAULT '', ip TEXT NOT NULL DEFAULT '', ua_id BIGINT NOT NULL REFERENCES user_agents(id),
			referrer TEXT NOT NULL DEFAULT '', country TEXT NOT NULL DEFAULT '', landing_url TEXT NOT NULL DEFAULT '',
			verdict TEXT NOT NULL DEFAULT '', codes TEXT NOT NULL DEFAULT '')`,
		`CREATE INDEX clicks_by_ts ON clicks (ts)`,
		`INSERT INTO user_agents (ua) VALUES ('Mozilla/5.0'), ('curl/8')`,
		fmt.Sprintf(`INSERT INTO clicks (click_id, ts, affiliate_id, ip, ua_id, verdict, codes) VALUES
			('m1', %d, 'a', '192.0.2.1', (SELECT id FROM user_agents WHERE ua = 'Mozilla/5.0'), 'review', 'DATACENTER_IP'),
			('m2', %d, 'a', '192.0.2.2', (SELECT id FROM user_agents WHERE ua = 'curl/8'), '', ''),
			('m3', %d, 'b', '', (SELECT id FROM user_agents WHERE ua = 'Mozilla/5.0'), '', '')`,
			day0.UnixMilli(), day0.Add(25*time.Hour).UnixMilli(), day0.Add(26*time.Hour).UnixMilli()),
	} {
		if _, err := st.DB().ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	st.Close()
	st = openPG(t, dsn) // applies 0017
	if got := partitions(t, st); !slices.Equal(got, []string{"clicks_p20261120", "clicks_p20261121"}) {
		t.Fatalf("partitions after the migration: %v", got)
	}
	got, err := st.ClicksByID(ctx, []string{"m1", "m2", "m3"})
	slices.SortFunc(got, func(a, b affwatch.Click) int { return strings.Compare(a.ClickID, b.ClickID) })
	if err != nil || len(got) != 3 || got[0].Verdict != "review" || got[0].UserAgent != "Mozilla/5.0" || got[1].UserAgent != "curl/8" ||
		got[2].AffiliateID != "b" || !got[1].TS.Equal(day0.Add(25*time.Hour)) {
		t.Fatalf("clicks after the migration: %+v %v", got, err)
	}
	n, err := st.AddClicks(ctx, []affwatch.Click{{ClickID: "m1", TS: day0, AffiliateID: "a"}, {ClickID: "m4", TS: day0.Add(50 * time.Hour), AffiliateID: "a"}})
	if err != nil || n != 1 {
		t.Fatalf("load after the migration: %d new, %v; want 1", n, err)
	}
}

// hourCounts reads a store's clicks counted per affiliate and hour.
func hourCounts(t *testing.T, st *store.DB) map[string]int {
	t.Helper()
	out := map[string]int{}
	if err := st.EachClickHour(context.Background(), day0, day0.Add(10*24*time.Hour), func(aff string, hour time.Time, n int) error {
		out[aff+" "+hour.Format(time.RFC3339)] += n
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// A copy between the dialects keeps the clicks counted per hour: a copy does not carry
// click_hours, the target counts the clicks it brought.
func TestCopyKeepsClickHours(t *testing.T) {
	ctx := context.Background()
	pg := openPG(t, testkit.Postgres(t))
	a, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "b.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := a.AddClicks(ctx, clicksOver("h", 90, 3)); err != nil {
		t.Fatal(err)
	}
	want := hourCounts(t, a)
	if len(want) == 0 {
		t.Fatal("no hours counted in the source")
	}
	if _, err := store.Copy(ctx, a, pg, store.CopyOptions{}); err != nil {
		t.Fatalf("SQLite to PostgreSQL: %v", err)
	}
	if got := hourCounts(t, pg); !maps.Equal(got, want) {
		t.Errorf("hours on PostgreSQL %v, want %v", got, want)
	}
	if _, err := store.Copy(ctx, pg, b, store.CopyOptions{}); err != nil {
		t.Fatalf("PostgreSQL to SQLite: %v", err)
	}
	if got := hourCounts(t, b); !maps.Equal(got, want) {
		t.Errorf("hours on SQLite after the copy %v, want %v", got, want)
	}
}

// PostgreSQL's click_hours (migration 0019) counts every stored click once: a large batch
// (copied as two halves at once), a batch part of which was stored before (the ON CONFLICT
// path, which counts only the new ones), and a batch loaded again; and a click found by id
// (through click_keys, clicks keep no click_id index) is the one stored.
func TestPostgresClickHoursCountEveryStoredClick(t *testing.T) {
	ctx := context.Background()
	st := openPG(t, testkit.Postgres(t))
	cs := clicksOver("h", 20_000, 4)
	steps := []struct {
		batch []affwatch.Click
		added int
	}{{cs[:12_000], 12_000}, {cs[8_000:], 8_000}, {cs, 0}}
	for i, step := range steps {
		if n, err := st.AddClicks(ctx, step.batch); err != nil || n != step.added {
			t.Fatalf("batch %d: %d added, %v; want %d", i, n, err, step.added)
		}
	}
	want := map[string]int{}
	rows, err := st.DB().Query(`SELECT affiliate_id, (ts - ((ts % 3600000) + 3600000) % 3600000) / 3600000, count(*) FROM clicks GROUP BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for rows.Next() {
		var (
			aff     string
			hour, n int64
		)
		if err := rows.Scan(&aff, &hour, &n); err != nil {
			t.Fatal(err)
		}
		want[aff+" "+time.UnixMilli(hour*3_600_000).UTC().Format(time.RFC3339)] = int(n)
		total += int(n)
	}
	rows.Close()
	if total != len(cs) {
		t.Fatalf("%d clicks stored, want %d", total, len(cs))
	}
	if got := hourCounts(t, st); !maps.Equal(got, want) {
		t.Fatalf("click_hours holds %d affiliate-hours, the clicks %d; they differ", len(got), len(want))
	}
	got, err := st.ClicksByID(ctx, []string{"h0", "h19999", "nope"})
	slices.SortFunc(got, func(a, b affwatch.Click) int { return strings.Compare(a.ClickID, b.ClickID) })
	if err != nil || len(got) != 2 || got[0].ClickID != "h0" || !got[1].TS.Equal(cs[19_999].TS) || got[1].UserAgent != cs[19_999].UserAgent {
		t.Fatalf("clicks by id: %+v %v", got, err)
	}
}
