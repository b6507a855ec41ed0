package queue_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
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
	if len(seen) != 2 {
		t.Errorf("requests per worker: %v; want both to take turns", seen)
	}
	t.Logf("requests per worker: %v", seen)
}
