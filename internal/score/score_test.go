package score_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/detectors"
	"github.com/affwatch/affwatch/internal/score"
	"github.com/affwatch/affwatch/internal/store"
)

const browser = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

var t0 = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)

// newServer stores n clicks (c0..c<n-1>, one address each but every 10th click sharing
// one) and returns the endpoint on loopback.
func newServer(tb testing.TB, n int) (*httptest.Server, *store.DB) {
	tb.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(tb.TempDir(), "score.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	var cs []affwatch.Click
	for i := range n {
		ip := fmt.Sprintf("81.%d.%d.%d", 2+i/65536%200, i/256%256, 1+i%250)
		if i%10 == 0 {
			ip = "81.2.69.10"
		}
		cs = append(cs, affwatch.Click{ClickID: fmt.Sprintf("c%d", i), TS: t0.Add(time.Duration(i) * time.Millisecond), AffiliateID: "a", IP: ip, UserAgent: browser})
		if len(cs) == 50_000 || i == n-1 {
			if _, err := st.AddClicks(ctx, cs); err != nil {
				tb.Fatal(err)
			}
			cs = cs[:0]
		}
	}
	srv := httptest.NewServer((&score.Server{Store: st, Judge: detectors.NewJudge(detectors.VerdictRules{}, nil)}).Handler())
	tb.Cleanup(srv.Close)
	return srv, st
}

func post(tb testing.TB, c *http.Client, url string, body any) (int, score.Response) {
	tb.Helper()
	b, _ := json.Marshal(body)
	resp, err := c.Post(url+score.Path, "application/json", bytes.NewReader(b))
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var r score.Response
	json.NewDecoder(resp.Body).Decode(&r)
	return resp.StatusCode, r
}

// A postback is judged against its stored click, the orders scored or stored before it and
// the recent conversions from its address; bad requests are 400 and other machines 403.
func TestScoreEndpoint(t *testing.T) {
	srv, _ := newServer(t, 100)
	c := srv.Client()
	for _, tc := range []struct {
		name  string
		req   score.Request
		want  affwatch.Verdict
		codes []string
	}{
		{"ok", score.Request{ConversionID: "v1", ClickID: "c1", TS: "2026-11-01T10:30:00Z", AffiliateID: "a", OrderID: "o1"}, affwatch.VerdictOK, nil},
		{"injection", score.Request{ConversionID: "v2", ClickID: "c2", TS: "2026-11-01T10:00:03Z", AffiliateID: "a", OrderID: "o2"}, affwatch.VerdictReject, []string{"CTIT_FAST"}},
		{"unknown click", score.Request{ConversionID: "v3", ClickID: "nope", TS: "2026-11-01T10:30:00Z", AffiliateID: "a", OrderID: "o3"}, affwatch.VerdictReview, []string{"UNKNOWN_CLICK"}},
		{"order again", score.Request{ConversionID: "v4", ClickID: "c4", TS: "2026-11-01T11:00:00Z", AffiliateID: "b", OrderID: "o1"}, affwatch.VerdictReject, []string{"DUP_ORDER"}},
		{"retried postback", score.Request{ConversionID: "v1", ClickID: "c1", TS: "2026-11-01T10:30:00Z", AffiliateID: "a", OrderID: "o1"}, affwatch.VerdictOK, nil},
		{"address 1", score.Request{ConversionID: "v10", ClickID: "c10", TS: "2026-11-01T12:00:00Z", AffiliateID: "a"}, affwatch.VerdictOK, nil},
		{"address 2", score.Request{ConversionID: "v20", ClickID: "c20", TS: "2026-11-01T12:10:00Z", AffiliateID: "a"}, affwatch.VerdictOK, nil},
		{"address 3", score.Request{ConversionID: "v30", ClickID: "c30", TS: "2026-11-01T12:20:00Z", AffiliateID: "a"}, affwatch.VerdictReview, []string{"REPEAT_IP"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, r := post(t, c, srv.URL, tc.req)
			if code != http.StatusOK || r.Verdict != tc.want || !slices.Equal(r.Codes, append([]string{}, tc.codes...)) {
				t.Fatalf("%d %+v, want %s %v", code, r, tc.want, tc.codes)
			}
			if len(r.Reasons) != len(r.Codes) || (len(r.Reasons) > 0 && r.Reasons[0].Detail == "") {
				t.Fatalf("reasons without their details: %+v", r)
			}
		})
	}
	for _, body := range []any{"not an object", score.Request{ClickID: "c1"}, score.Request{ConversionID: "x", AffiliateID: "a", TS: "yesterday"}} {
		if code, _ := post(t, c, srv.URL, body); code != http.StatusBadRequest {
			t.Errorf("%v: %d, want 400", body, code)
		}
	}
	// A client that is not on loopback is refused.
	req := httptest.NewRequest(http.MethodPost, score.Path, strings.NewReader(`{"conversion_id":"v","affiliate_id":"a"}`))
	req.RemoteAddr = "192.0.2.7:40000"
	rec := httptest.NewRecorder()
	(&score.Server{}).Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Errorf("a remote client: %d, want 403", rec.Code)
	}
}

// BenchmarkScoreLoad drives the endpoint on loopback at AFFWATCH_SCORE_RPS requests a
// second (default 2,000) for AFFWATCH_SCORE_SECONDS (default 30), open loop (requests are
// sent on schedule whether or not earlier ones have been answered), against a store of
// 200,000 clicks; it reports the latency percentiles, errors and the heap. Run it with
//
//	go test -run XXX -bench ScoreLoad -benchtime 1x ./internal/score
func BenchmarkScoreLoad(b *testing.B) {
	rps, seconds := 2000, 30
	if s := os.Getenv("AFFWATCH_SCORE_RPS"); s != "" {
		fmt.Sscan(s, &rps)
	}
	if s := os.Getenv("AFFWATCH_SCORE_SECONDS"); s != "" {
		fmt.Sscan(s, &seconds)
	}
	const clicks = 200_000
	srv, _ := newServer(b, clicks)
	tr := &http.Transport{MaxIdleConnsPerHost: 512, MaxConnsPerHost: 512}
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	bodies := make([][]byte, 10_000)
	for i := range bodies {
		k := (i * 7919) % clicks
		ts := t0.Add(time.Duration(k)*time.Millisecond + time.Duration(2+i%3600)*time.Second)
		bodies[i], _ = json.Marshal(score.Request{ConversionID: fmt.Sprintf("v%d", i), ClickID: fmt.Sprintf("c%d", k),
			TS: ts.Format(time.RFC3339Nano), AffiliateID: "a", OrderID: fmt.Sprintf("o%d", i%9000), Commission: 4})
	}
	for b.Loop() {
		total := rps * seconds
		lat := make([]time.Duration, total)
		var errs, non200 atomic.Int64
		var peakHeap atomic.Uint64
		var wg sync.WaitGroup
		stop := make(chan struct{})
		go func() { // sample the heap while the load runs
			var ms runtime.MemStats
			for {
				select {
				case <-stop:
					return
				case <-time.After(200 * time.Millisecond):
					runtime.ReadMemStats(&ms)
					if ms.HeapAlloc > peakHeap.Load() {
						peakHeap.Store(ms.HeapAlloc)
					}
				}
			}
		}()
		start := time.Now()
		interval := time.Second / time.Duration(rps)
		for i := range total {
			due := start.Add(time.Duration(i) * interval)
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				t := time.Now()
				resp, err := client.Post(srv.URL+score.Path, "application/json", bytes.NewReader(bodies[i%len(bodies)]))
				if err != nil {
					errs.Add(1)
					lat[i] = time.Since(t)
					return
				}
				var r score.Response
				if json.NewDecoder(resp.Body).Decode(&r) != nil || resp.StatusCode != http.StatusOK || r.Verdict == "" {
					non200.Add(1)
				}
				resp.Body.Close()
				lat[i] = time.Since(t)
			}(i)
		}
		wg.Wait()
		elapsed := time.Since(start)
		close(stop)
		slices.Sort(lat)
		q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
		b.ReportMetric(float64(total)/elapsed.Seconds(), "req/s")
		b.ReportMetric(q(0.5), "p50-ms")
		b.ReportMetric(q(0.99), "p99-ms")
		b.ReportMetric(q(0.999), "p99.9-ms")
		b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
		b.ReportMetric(float64(errs.Load()+non200.Load()), "errors")
		b.ReportMetric(float64(peakHeap.Load())/(1<<20), "peak-heap-MiB")
		b.Logf("%d requests in %s: p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms, %d errors, %d bad answers, peak heap %.0f MiB",
			total, elapsed.Round(time.Millisecond), q(0.5), q(0.99), q(0.999), float64(lat[len(lat)-1].Microseconds())/1000,
			errs.Load(), non200.Load(), float64(peakHeap.Load())/(1<<20))
	}
}
