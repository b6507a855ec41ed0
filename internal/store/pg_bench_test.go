package store_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/detectors"
	"github.com/affwatch/affwatch/internal/store"
	"github.com/affwatch/affwatch/internal/testkit"
)

// benchClicks is the size of a benchmark's click log: the environment variable name, else
// def (under -short, a fiftieth of it).
func benchClicks(name string, def int) int {
	if s := os.Getenv(name); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	if testing.Short() {
		return def / 50
	}
	return def
}

// benchProgram is a synthetic program of about n clicks: 500 affiliates over 35 days (as
// the detectors' benchmark), fraud of every pattern included.
func benchProgram(n int) detectors.GenOptions {
	return detectors.GenOptions{Seed: 42, Affiliates: 500, FraudPerPattern: 10, Days: 35,
		ClicksPerDay: float64(n) / 500 / 35 / 1.35, ConversionRate: 0.05, End: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
}

// writeClickCSV writes the program's clicks to a CSV file as a network would export them,
// and returns how many it wrote.
func writeClickCSV(b *testing.B, path string, opt detectors.GenOptions) int {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	w := detectors.NewClickCSV(bw)
	n := 0
	if _, err := detectors.Generate(opt, func(c affwatch.Click) error { n++; return w.Click(c) },
		func(affwatch.Conversion) error { return nil }); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkIngestClicksPostgres loads one generated click log (AFFWATCH_BENCH_INGEST_CLICKS
// clicks, default 5 million) three ways, each into a fresh database, and reports clicks/s:
//   - psql-copy, the anchor: psql's \copy of the CSV into a plain table (the columns of the
//     file, no index, no key), the fastest way PostgreSQL takes a file;
//   - postgres: affwatch ingest's path (detectors.IngestClicks with every click judged)
//     into the PostgreSQL store: parse and check each row, COPY the ids into click_keys
//     and the clicks into their day's partition, count them per hour;
//   - sqlite: the same path into the SQLite store.
//
// The last two report their rate as a fraction of the anchor's, measured in the same run.
func BenchmarkIngestClicksPostgres(b *testing.B) {
	ctx := context.Background()
	csvPath := filepath.Join(b.TempDir(), "clicks.csv")
	n := writeClickCSV(b, csvPath, benchProgram(benchClicks("AFFWATCH_BENCH_INGEST_CLICKS", 5_000_000)))
	b.Logf("%d clicks in %s", n, csvPath)
	opt := func() detectors.IngestOptions {
		return detectors.IngestOptions{Judge: detectors.NewJudge(detectors.VerdictRules{}, nil)}
	}
	ingest := func(b *testing.B, st *store.DB) {
		f, err := os.Open(csvPath)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		res, err := detectors.IngestClicks(ctx, st, "clicks.csv", f, opt())
		if err != nil || res.Loaded != n {
			b.Fatalf("ingest: %v; %d of %d loaded, %d rejected %v", err, res.Loaded, n, res.Rejected, res.Rejects)
		}
	}
	var anchor float64
	b.Run("psql-copy", func(b *testing.B) {
		var elapsed time.Duration
		for b.Loop() {
			b.StopTimer()
			dsn := testkit.Postgres(b)
			if out, err := exec.Command("psql", dsn, "-v", "ON_ERROR_STOP=1", "-c", `CREATE TABLE plain_clicks (click_id TEXT, ts TIMESTAMPTZ,
				affiliate_id TEXT, sub_id TEXT, ip TEXT, user_agent TEXT, referrer TEXT, country TEXT, landing_url TEXT)`).CombinedOutput(); err != nil {
				b.Fatalf("psql: %v\n%s", err, out)
			}
			b.StartTimer()
			t0 := time.Now()
			out, err := exec.Command("psql", dsn, "-v", "ON_ERROR_STOP=1", "-c", `\copy plain_clicks FROM '`+csvPath+`' CSV HEADER`).CombinedOutput()
			elapsed += time.Since(t0)
			if err != nil || string(out) != fmt.Sprintf("COPY %d\n", n) {
				b.Fatalf("psql \\copy: %v\n%s", err, out)
			}
		}
		anchor = float64(n*b.N) / elapsed.Seconds()
		b.ReportMetric(anchor, "clicks/s")
	})
	for _, dialect := range []string{"postgres", "sqlite"} {
		b.Run(dialect, func(b *testing.B) {
			var elapsed time.Duration
			for b.Loop() {
				b.StopTimer()
				var (
					st  *store.DB
					err error
				)
				if dialect == "postgres" {
					st, err = store.OpenPostgres(ctx, testkit.Postgres(b), "")
				} else {
					st, err = store.OpenSQLite(ctx, filepath.Join(b.TempDir(), "ingest.db"))
				}
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				t0 := time.Now()
				ingest(b, st)
				elapsed += time.Since(t0)
				b.StopTimer()
				st.Close()
				b.StartTimer()
			}
			rate := float64(n*b.N) / elapsed.Seconds()
			b.ReportMetric(rate, "clicks/s")
			if anchor > 0 {
				b.ReportMetric(rate/anchor, "x-psql-copy")
			}
		})
	}
}

// BenchmarkDetectPostgres runs every detector over AFFWATCH_BENCH_DETECT_CLICKS clicks
// (default 10 million) stored in PostgreSQL, and reports the run's seconds, the peak Go
// heap during it and the process's peak resident memory (which includes loading the
// clicks before; the targets are under 30 s and under 1 GiB).
func BenchmarkDetectPostgres(b *testing.B) {
	ctx := context.Background()
	opt := benchProgram(benchClicks("AFFWATCH_BENCH_DETECT_CLICKS", 10_000_000))
	st, err := store.OpenPostgres(ctx, testkit.Postgres(b), "")
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var (
		cs []affwatch.Click
		vs []affwatch.Conversion
	)
	flush := func() error {
		_, err := st.AddClicks(ctx, cs)
		cs = cs[:0]
		return err
	}
	t0 := time.Now()
	if _, err := detectors.Generate(opt, func(c affwatch.Click) error {
		if cs = append(cs, c); len(cs) == 50_000 {
			return flush()
		}
		return nil
	}, func(v affwatch.Conversion) error { vs = append(vs, v); return nil }); err != nil {
		b.Fatal(err)
	}
	if err := flush(); err != nil {
		b.Fatal(err)
	}
	if _, err := st.AddConversions(ctx, vs); err != nil {
		b.Fatal(err)
	}
	vs = nil
	if _, err := st.DB().ExecContext(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	var clicks int
	st.DB().QueryRow(`SELECT count(*) FROM clicks`).Scan(&clicks)
	b.Logf("%d clicks loaded in %s", clicks, time.Since(t0).Round(time.Second))
	// pgx: the store as it reads clicks; database-sql, the anchor: the same query through
	// database/sql, as on SQLite.
	var anchor float64
	for _, via := range []string{"database-sql", "pgx"} {
		b.Run(via, func(b *testing.B) {
			store.SetSignalViaSQL(st, via == "database-sql")
			var heap uint64
			for b.Loop() {
				heap = max(heap, testkit.PeakHeap(func() {
					if _, err := detectors.Detect(ctx, st, detectors.Options{End: opt.End}, nil); err != nil {
						b.Fatal(err)
					}
				}))
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(sec, "s/run")
			b.ReportMetric(float64(clicks)/sec, "clicks/s")
			b.ReportMetric(float64(heap)/(1<<20), "peak-heap-MiB")
			if via == "database-sql" {
				anchor = sec
			} else if anchor > 0 {
				b.ReportMetric(anchor/sec, "x-database-sql")
			}
			var ru syscall.Rusage
			if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
				b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB") // Linux gives KiB
			}
		})
	}
}
