package queue_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/crawler"
	"github.com/affwatch/affwatch/internal/queue"
	"github.com/affwatch/affwatch/internal/store"
	"github.com/affwatch/affwatch/internal/testkit"
	"github.com/affwatch/affwatch/policies"
	"github.com/affwatch/affwatch/rules"
)

// benchPage is a review page of a few KB: a disclosure on two pages of three, affiliate
// links, links to its neighbours.
func benchPage(h, i, perHost int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<!DOCTYPE html><html lang="en"><head><title>Review %d of host %d</title></head><body>`, i, h)
	fmt.Fprintf(&b, `<nav><a href="/">Home</a> <a href="/p%d.html">Next</a></nav><article><h1>Grinder review %d</h1>`, (i+1)%perHost, i)
	if (h+i)%3 != 0 {
		b.WriteString(`<p>We earn a commission if you buy through links on this page.</p>`)
	}
	for k := range 12 {
		fmt.Fprintf(&b, `<h2>Section %d</h2><p>We tested this grinder for three weeks with light and dark roasts. The burrs stayed sharp,
the static was low and the dosing cup fit most portafilters; paragraph %d goes on about grind consistency.</p>`, k, k)
		if k%4 == 0 {
			fmt.Fprintf(&b, `<p><a href="https://www.amazon.com/dp/B0%02d%02d?tag=farm-20" rel="sponsored">Check the price</a></p>`, h, i)
		}
	}
	b.WriteString(`</article></body></html>`)
	return b.String()
}

// benchFarm serves hosts × perHost pages and an index per host, each host on a server of
// its own.
func benchFarm(hosts, perHost int) ([]*httptest.Server, int) {
	var servers []*httptest.Server
	for h := range hosts {
		pages := make([]string, perHost)
		var index strings.Builder
		index.WriteString(`<html><head><title>Index</title></head><body><p>We earn a commission from links.</p>`)
		for i := range perHost {
			pages[i] = benchPage(h, i, perHost)
			fmt.Fprintf(&index, `<a href="/p%d.html">Review %d</a> `, i, i)
		}
		index.WriteString(`</body></html>`)
		idx := index.String()
		servers = append(servers, httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			if r.URL.Path == "/" {
				w.Write([]byte(idx))
				return
			}
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/p"), ".html"))
			if err != nil || n < 0 || n >= perHost {
				http.NotFound(w, r)
				return
			}
			w.Write([]byte(pages[n]))
		})))
	}
	return servers, hosts * (perHost + 1)
}

// BenchmarkScanOnQueue scans a loopback farm (50 hosts, 1,000 review pages and 50
// indexes; AFFWATCH_BENCH_PAGES for more) three ways in each iteration, every page
// extracted, judged by the built-in policy pack and stored: in-process on SQLite (what
// `affwatch scan` does on the embedded store), in-process on PostgreSQL, and through the
// job queue on PostgreSQL with one worker (in this process, 4 sites at once like the
// in-process scan's 4 affiliates at once). It reports pages/s of each and the ratio of the
// queue's to the in-process scan's on the same PostgreSQL server. The farm's servers and
// PostgreSQL run on the same two cores.
func BenchmarkScanOnQueue(b *testing.B) {
	pages := 1000
	if s := os.Getenv("AFFWATCH_BENCH_PAGES"); s != "" {
		pages, _ = strconv.Atoi(s)
	}
	const hosts = 50
	servers, want := benchFarm(hosts, pages/hosts)
	defer func() {
		for _, s := range servers {
			s.Close()
		}
	}()
	ctx := context.Background()
	progs := []affwatch.Program{{ID: "acme"}}
	var affs []affwatch.Affiliate
	for i, s := range servers {
		affs = append(affs, affwatch.Affiliate{ID: fmt.Sprintf("aff%02d", i), Program: "acme", Sites: []string{s.URL + "/"}})
	}
	eng, err := rules.Load(ctx, []rules.Source{{Name: "policies", FS: policies.FS}}, rules.Options{Programs: progs, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	newCrawler := func() *crawler.Crawler {
		c := crawler.New(crawler.Config{AllowPrivate: true, MaxDepth: 1, MaxPages: pages, Parallelism: 2, NoSitemaps: true,
			RequestTimeout: 10 * time.Second}, progs)
		c.Logger = slog.New(slog.DiscardHandler)
		return c
	}
	quiet := slog.New(slog.DiscardHandler)
	check := func(st affwatch.Store, scan affwatch.Scan, err error) {
		if err != nil {
			b.Fatal(err)
		}
		if scan.Counts.Pages != want || scan.Status != affwatch.ScanSucceeded {
			b.Fatalf("scan %d: %s, %d pages, want %d", scan.ID, scan.Status, scan.Counts.Pages, want)
		}
	}
	var inSQLite, inPG, onQueue time.Duration
	for b.Loop() {
		// In-process, SQLite.
		b.StopTimer()
		sq, err := store.OpenSQLite(ctx, filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		c := newCrawler()
		b.StartTimer()
		t0 := time.Now()
		scan, err := (&affwatch.Scanner{Crawler: c, Evaluator: eng, Store: sq, Workers: 4, Logger: quiet}).Run(ctx, affs)
		inSQLite += time.Since(t0)
		check(sq, scan, err)
		c.Close()
		sq.Close()

		// In-process, PostgreSQL.
		b.StopTimer()
		pg, err := store.OpenPostgres(ctx, testkit.Postgres(b), "")
		if err != nil {
			b.Fatal(err)
		}
		c = newCrawler()
		b.StartTimer()
		t0 = time.Now()
		scan, err = (&affwatch.Scanner{Crawler: c, Evaluator: eng, Store: pg, Workers: 4, Logger: quiet}).Run(ctx, affs)
		inPG += time.Since(t0)
		check(pg, scan, err)
		c.Close()
		pg.Close()

		// The queue, one worker, PostgreSQL.
		b.StopTimer()
		pg, err = store.OpenPostgres(ctx, testkit.Postgres(b), "")
		if err != nil {
			b.Fatal(err)
		}
		c = newCrawler()
		wctx, stop := context.WithCancel(ctx)
		w := &queue.Worker{Pool: pg.Pool(), Scanner: &affwatch.Scanner{Crawler: c, Evaluator: eng, Store: pg, Logger: quiet},
			Concurrency: 4, Logger: quiet}
		werr := make(chan error, 1)
		go func() { werr <- w.Run(wctx) }()
		b.StartTimer()
		t0 = time.Now()
		scan, err = (&queue.Dispatch{Pool: pg.Pool(), Scanner: &affwatch.Scanner{Store: pg, Evaluator: eng, Logger: quiet},
			Poll: 100 * time.Millisecond, Logger: quiet}).Run(ctx, affs)
		onQueue += time.Since(t0)
		b.StopTimer()
		check(pg, scan, err)
		stop()
		if err := <-werr; err != nil {
			b.Fatal(err)
		}
		c.Close()
		pg.Close()
		b.StartTimer()
	}
	n := float64(want * b.N)
	b.ReportMetric(n/inSQLite.Seconds(), "inprocess-sqlite-pages/s")
	b.ReportMetric(n/inPG.Seconds(), "inprocess-pg-pages/s")
	b.ReportMetric(n/onQueue.Seconds(), "queue-1worker-pages/s")
	b.ReportMetric(inPG.Seconds()/onQueue.Seconds(), "queue/inprocess-pg")
	b.ReportMetric(inSQLite.Seconds()/onQueue.Seconds(), "queue/inprocess-sqlite")
	b.ReportMetric(0, "ns/op")
}
