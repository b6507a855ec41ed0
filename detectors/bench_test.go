package detectors_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/detectors"
	"github.com/affwatch/affwatch/internal/store"
	"github.com/affwatch/affwatch/internal/testkit"
)

// discard is an event store that keeps nothing: ingest's parsing cost alone.
type discard struct{}

func (discard) AddClicks(_ context.Context, cs []affwatch.Click) (int, error) { return len(cs), nil }
func (discard) AddConversions(_ context.Context, cs []affwatch.Conversion) (int, error) {
	return len(cs), nil
}

// ClicksByID and ConversionsByID are never asked: every row is new to discard.
func (discard) ClicksByID(context.Context, []string) ([]affwatch.Click, error) { return nil, nil }
func (discard) ConversionsByID(context.Context, []string) ([]affwatch.Conversion, error) {
	return nil, nil
}

// clickCSV generates a synthetic program's clicks as one CSV file in memory.
func clickCSV(b *testing.B, opt detectors.GenOptions) ([]byte, int) {
	b.Helper()
	var buf bytes.Buffer
	w := detectors.NewClickCSV(&buf)
	n := 0
	if _, err := detectors.Generate(opt, func(c affwatch.Click) error { n++; return w.Click(c) },
		func(affwatch.Conversion) error { return nil }); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes(), n
}

// BenchmarkIngestClicks measures clicks per second from CSV: parsing alone, into the
// SQLite store (a fresh database on disk, in the test's temporary directory, each round,
// so every row is a real insert), and into the store with every click judged on the way
// (reason codes and verdicts). The last two report their rate as a share of parsing
// alone, and the verdicts their cost beside the plain store's, from the same run.
func BenchmarkIngestClicks(b *testing.B) {
	ctx := context.Background()
	raw, n := clickCSV(b, detectors.GenOptions{Seed: 1, Affiliates: 200, FraudPerPattern: 2, Days: 10, ClicksPerDay: 250})
	rates := map[string]float64{}
	// cpu is the CPU time per click (user and system, every thread, SQLite's C code
	// included): on a machine shared with other work it varies far less than the rate.
	cpu := map[string]float64{}
	b.Run("parse-only", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		c0 := processCPU()
		for b.Loop() {
			if _, err := detectors.IngestClicks(ctx, discard{}, "clicks.csv", bytes.NewReader(raw), detectors.IngestOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		rates["parse"] = float64(n*b.N) / b.Elapsed().Seconds()
		cpu["parse"] = float64(processCPU()-c0) / float64(n*b.N)
		b.ReportMetric(rates["parse"], "clicks/s")
		b.ReportMetric(cpu["parse"], "cpu-ns/click")
	})
	for _, judged := range []bool{false, true} {
		name := "sqlite"
		if judged {
			name = "sqlite-verdicts"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			var elapsed, used time.Duration
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				st, err := store.OpenSQLite(ctx, filepath.Join(b.TempDir(), fmt.Sprintf("i%d.db", i)))
				if err != nil {
					b.Fatal(err)
				}
				opt := detectors.IngestOptions{}
				if judged {
					opt.Judge = detectors.NewJudge(detectors.VerdictRules{}, nil)
				}
				b.StartTimer()
				t0, c0 := time.Now(), processCPU()
				res, err := detectors.IngestClicks(ctx, st, "clicks.csv", bytes.NewReader(raw), opt)
				elapsed, used = elapsed+time.Since(t0), used+processCPU()-c0
				if err != nil || res.Loaded != n {
					b.Fatalf("%v %+v", err, res)
				}
				b.StopTimer()
				st.Close()
				b.StartTimer()
			}
			rate := float64(n*b.N) / elapsed.Seconds()
			rates[name], cpu[name] = rate, float64(used)/float64(n*b.N)
			b.ReportMetric(rate, "clicks/s")
			b.ReportMetric(cpu[name], "cpu-ns/click")
			if p := rates["parse"]; p > 0 {
				b.ReportMetric(100*rate/p, "%-of-parse-only")
				b.ReportMetric(cpu[name]/cpu["parse"], "cpu-x-parse-only")
			}
			if plain := rates["sqlite"]; judged && plain > 0 {
				b.ReportMetric(100*(plain/rate-1), "%-verdict-cost")
				b.ReportMetric(100*(cpu[name]/cpu["sqlite"]-1), "%-verdict-cpu-cost")
			}
		})
	}
}

// benchProgram is the program the detection benchmark judges: AFFWATCH_BENCH_CLICKS sets
// its size (default 2 million clicks; the closing-note figure is 10 million).
func benchProgram() detectors.GenOptions {
	clicks := 2_000_000.0
	if s := os.Getenv("AFFWATCH_BENCH_CLICKS"); s != "" {
		fmt.Sscan(s, &clicks)
	}
	// 500 affiliates over 35 days; the median affiliate's day, given the spread of
	// volumes and the click spammers, yields about the number asked for.
	return detectors.GenOptions{Seed: 42, Affiliates: 500, FraudPerPattern: 10, Days: 35,
		ClicksPerDay: clicks / 500 / 35 / 1.35, ConversionRate: 0.05, End: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
}

// benchStore returns a SQLite store holding the benchmark program, built once and kept in
// the temporary directory (building 10 million clicks takes about a minute).
func benchStore(b *testing.B) (*store.DB, detectors.GenOptions, int) {
	b.Helper()
	ctx := context.Background()
	opt := benchProgram()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("affwatch-bench-%d-%.0f.db", opt.Seed, opt.ClicksPerDay))
	_, statErr := os.Stat(path + ".done")
	st, err := store.OpenSQLite(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	if statErr != nil {
		var cs []affwatch.Click
		var vs []affwatch.Conversion
		flush := func() error {
			if _, err := st.AddClicks(ctx, cs); err != nil {
				return err
			}
			cs = cs[:0]
			return nil
		}
		if _, err := detectors.Generate(opt, func(c affwatch.Click) error {
			cs = append(cs, c)
			if len(cs) == 50_000 {
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
		os.WriteFile(path+".done", nil, 0o644)
	}
	var n int
	st.DB().QueryRow(`SELECT count(*) FROM clicks`).Scan(&n)
	return st, opt, n
}

// BenchmarkDetect runs every detector over the benchmark program, and beside it computes
// the same per-affiliate aggregates with plain SQL GROUP BY queries on the same store.
func BenchmarkDetect(b *testing.B) {
	ctx := context.Background()
	st, opt, clicks := benchStore(b)
	defer st.Close()
	b.Logf("%d clicks in the store", clicks)
	b.Run("affwatch", func(b *testing.B) {
		var heap uint64
		for b.Loop() {
			heap = max(heap, testkit.PeakHeap(func() {
				if _, err := detectors.Detect(ctx, st, detectors.Options{End: opt.End}, nil); err != nil {
					b.Fatal(err)
				}
			}))
		}
		b.ReportMetric(float64(heap)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(clicks)*float64(b.N)/b.Elapsed().Seconds(), "clicks/s")
	})
	b.Run("sql-group-by", func(b *testing.B) {
		from := opt.End.AddDate(0, 0, -opt.Days).UnixMilli()
		win := opt.End.AddDate(0, 0, -7).UnixMilli()
		queries := []string{
			// clicks, bot clicks and the hour histogram per affiliate in the window
			`SELECT c.affiliate_id, (c.ts/3600000)%24, count(*), sum(u.ua = '' OR u.ua LIKE '%bot%' OR u.ua LIKE '%headless%' OR u.ua LIKE 'python%' OR u.ua LIKE 'curl%')
			 FROM clicks c JOIN user_agents u ON u.id = c.ua_id WHERE c.ts >= ? GROUP BY 1, 2`,
			// the busiest address per affiliate
			`SELECT affiliate_id, max(n) FROM (SELECT affiliate_id, ip, count(*) n FROM clicks WHERE ts >= ? GROUP BY 1, 2) GROUP BY 1`,
			// daily clicks per affiliate over the history
			`SELECT affiliate_id, ts/86400000, count(*) FROM clicks WHERE ts >= ? GROUP BY 1, 2`,
			// conversions, reversals and click-to-conversion times per affiliate
			`SELECT v.affiliate_id, count(*), sum(v.status = 'reversed'), sum(v.ts - c.ts <= 10000), sum(v.ts - c.ts > 86400000)
			 FROM conversions v LEFT JOIN clicks c ON c.click_id = v.click_id WHERE v.ts >= ? GROUP BY 1`,
		}
		args := []int64{win, win, from, win}
		var heap uint64
		for b.Loop() {
			heap = max(heap, testkit.PeakHeap(func() {
				for i, q := range queries {
					if err := drain(ctx, st.DB(), q, args[i]); err != nil {
						b.Fatal(err)
					}
				}
			}))
		}
		b.ReportMetric(float64(heap)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(clicks)*float64(b.N)/b.Elapsed().Seconds(), "clicks/s")
	})
}

// processCPU is the CPU time this process has used so far, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func drain(ctx context.Context, db *sql.DB, q string, arg int64) error {
	rows, err := db.QueryContext(ctx, q, arg)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]any, len(cols))
	for i := range vals {
		vals[i] = new(sql.RawBytes)
	}
	for rows.Next() {
		if err := rows.Scan(vals...); err != nil {
			return err
		}
	}
	return rows.Err()
}
