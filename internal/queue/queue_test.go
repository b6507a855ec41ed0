package queue_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
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

// Eight affiliates whose sites are pages of one host, scanned by two workers of two
// sites each: the host is only ever crawled by one worker at a time (the server sees no
// requests of the two user agents in flight together), both workers take their turns, and
// every page is stored.
func TestOneHostIsCrawledByOneWorkerAtATime(t *testing.T) {
	// Which worker claims the host next is a race: one may win every turn of a run, which
	// proves nothing about overlaps, so a run like that is done again (at most three).
	for attempt := 1; ; attempt++ {
		n := oneHostRun(t)
		if n >= 2 {
			return
		}
		if attempt == 3 {
			t.Fatalf("one worker took every turn in %d runs; want both to take turns", attempt)
		}
		t.Logf("attempt %d: one worker took every turn; again", attempt)
	}
}

// oneHostRun scans the eight sites once with two workers and returns how many workers
// took part (reporting overlaps and the last attempt's lone worker as failures).
func oneHostRun(t *testing.T) int {
	var (
		mu       sync.Mutex
		inflight = map[string]int{}
		seen     = map[string]int{}
		overlaps []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ua := r.UserAgent()
		mu.Lock()
		for other, n := range inflight {
			if other != ua && n > 0 {
				overlaps = append(overlaps, fmt.Sprintf("%s %s while %s had %d in flight", ua, r.URL.Path, other, n))
			}
		}
		inflight[ua]++
		seen[ua]++
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		inflight[ua]--
		mu.Unlock()
		fmt.Fprintf(w, `<html><body><p>Page %s.</p><a href="/next%s">next</a></body></html>`, r.URL.Path, strings.TrimPrefix(r.URL.Path, "/"))
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := store.OpenPostgres(ctx, testkit.Postgres(t), "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	progs := []affwatch.Program{{ID: "acme"}}
	eng, err := rules.Load(ctx, []rules.Source{{Name: "policies", FS: policies.FS}}, rules.Options{Programs: progs, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var affs []affwatch.Affiliate
	for i := range 8 {
		affs = append(affs, affwatch.Affiliate{ID: fmt.Sprint("a", i), Program: "acme", Sites: []string{fmt.Sprintf("%s/p%d", srv.URL, i)}})
	}
	quiet := slog.New(slog.DiscardHandler)
	var wg sync.WaitGroup
	for i := range 2 {
		c := crawler.New(crawler.Config{UserAgent: fmt.Sprint("worker-", i), AllowPrivate: true, MaxDepth: 1, Parallelism: 2, NoSitemaps: true}, progs)
		c.Logger = quiet
		defer c.Close()
		w := &queue.Worker{Pool: st.Pool(), Scanner: &affwatch.Scanner{Crawler: c, Evaluator: eng, Store: st, Logger: quiet},
			Concurrency: 2, HostBusyRetry: 100 * time.Millisecond, FetchPoll: 100 * time.Millisecond, Logger: quiet}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Run(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	scan, err := (&queue.Dispatch{Pool: st.Pool(), Scanner: &affwatch.Scanner{Store: st, Evaluator: eng, Logger: quiet},
		Poll: 100 * time.Millisecond, Logger: quiet}).Run(ctx, affs)
	cancel()
	wg.Wait()
	if err != nil || scan.Status != affwatch.ScanSucceeded || scan.Counts.Pages != 16 {
		t.Fatalf("scan: %s, %d pages, %v", scan.Status, scan.Counts.Pages, err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, o := range overlaps {
		t.Errorf("two workers on one host at once: %s", o)
	}
	t.Logf("requests per worker: %v", seen)
	return len(seen)
}

// setup is a PostgreSQL store, the built-in policies and a server of slow pages (each
// links to a deeper one), for the tests of workers stopping and scans interrupted.
func setup(t *testing.T, delay time.Duration) (*store.DB, *rules.Engine, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		fmt.Fprintf(w, `<html><body><p>Page %s.</p><a href="%sx">next</a></body></html>`, r.URL.Path, r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	st, err := store.OpenPostgres(context.Background(), testkit.Postgres(t), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	eng, err := rules.Load(context.Background(), []rules.Source{{Name: "policies", FS: policies.FS}},
		rules.Options{Programs: []affwatch.Program{{ID: "acme"}}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return st, eng, srv
}

func startWorker(t *testing.T, ctx context.Context, st *store.DB, eng *rules.Engine, depth int) <-chan error {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	c := crawler.New(crawler.Config{AllowPrivate: true, MaxDepth: depth, Parallelism: 1, NoSitemaps: true}, []affwatch.Program{{ID: "acme"}})
	c.Logger = quiet
	t.Cleanup(c.Close)
	w := &queue.Worker{Pool: st.Pool(), Scanner: &affwatch.Scanner{Crawler: c, Evaluator: eng, Store: st, Logger: quiet},
		Concurrency: 2, FetchPoll: 100 * time.Millisecond, Logger: quiet}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	return done
}

// A worker told to stop (SIGTERM) in the middle of its sites hands their jobs back at
// once: another worker finishes the scan without waiting for River's rescuer, and no
// attempt was counted against them.
func TestAStoppedWorkerHandsItsSitesBack(t *testing.T) {
	st, eng, srv := setup(t, 100*time.Millisecond)
	affs := []affwatch.Affiliate{
		{ID: "a", Program: "acme", Sites: []string{srv.URL + "/a"}},
		{ID: "b", Program: "acme", Sites: []string{srv.URL + "/b"}},
	}
	ctx := context.Background()
	first, stopFirst := context.WithCancel(ctx)
	firstDone := startWorker(t, first, st, eng, 8)
	quiet := slog.New(slog.DiscardHandler)
	var once sync.Once
	var second <-chan error
	secondCtx, stopSecond := context.WithCancel(ctx)
	defer stopSecond()
	start := time.Now()
	scan, err := (&queue.Dispatch{Pool: st.Pool(), Scanner: &affwatch.Scanner{Store: st, Evaluator: eng, Logger: quiet},
		Poll: 100 * time.Millisecond, Logger: quiet, OnProgress: func(p queue.Progress) {
			if p.Pages >= 2 {
				once.Do(func() {
					stopFirst()
					if err := <-firstDone; err != nil {
						t.Error(err)
					}
					second = startWorker(t, secondCtx, st, eng, 8)
				})
			}
		}}).Run(ctx, affs)
	if err != nil || scan.Status != affwatch.ScanSucceeded || scan.Counts.Pages != 2*9 {
		t.Fatalf("scan: %s, %d pages, %v", scan.Status, scan.Counts.Pages, err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("the scan took %s: the stopped worker's sites waited for the rescuer", took)
	}
	var errs int
	if err := st.DB().QueryRow(`SELECT count(*) FROM river_job WHERE cardinality(errors) > 0 OR attempt > 1`).Scan(&errs); err != nil || errs != 0 {
		t.Errorf("%d job(s) counted a failed attempt (%v)", errs, err)
	}
	stopSecond()
	if err := <-second; err != nil {
		t.Error(err)
	}
}

// A scan on the queue interrupted (SIGINT) before the workers are done: its jobs not yet
// done are cancelled, and the scan is recorded failed: interrupted.
func TestAnInterruptedScanCancelsItsJobs(t *testing.T) {
	st, eng, srv := setup(t, 0)
	var affs []affwatch.Affiliate
	for i := range 3 {
		affs = append(affs, affwatch.Affiliate{ID: fmt.Sprint("a", i), Program: "acme", Sites: []string{fmt.Sprintf("%s/%d", srv.URL, i)}})
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	quiet := slog.New(slog.DiscardHandler)
	scan, err := (&queue.Dispatch{Pool: st.Pool(), Scanner: &affwatch.Scanner{Store: st, Evaluator: eng, Logger: quiet},
		Poll: 50 * time.Millisecond, Logger: quiet, OnProgress: func(p queue.Progress) {
			cancel(fmt.Errorf("interrupt"))
		}}).Run(ctx, affs)
	if !errors.Is(err, affwatch.ErrScanFailed) || scan.Status != affwatch.ScanFailed || !strings.Contains(scan.Error, "interrupted") {
		t.Fatalf("scan: %s %q, %v", scan.Status, scan.Error, err)
	}
	var states []string
	rows, err := st.DB().Query(`SELECT state FROM river_job ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		rows.Scan(&s)
		states = append(states, s)
	}
	if len(states) != 3 || slices.ContainsFunc(states, func(s string) bool { return s != "cancelled" }) {
		t.Errorf("the scan's jobs: %v, want 3 cancelled", states)
	}
}
