package crawler_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/crawler"
)

// flaky answers the first `fail` requests for / with status (and its Retry-After), then
// the page.
func flaky(fail int32, status int, retryAfter string, hang time.Duration) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		if n.Add(1) <= fail {
			if hang > 0 {
				time.Sleep(hang)
			}
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			w.WriteHeader(status)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(`<html><body><p>We earn a commission.</p></body></html>`))
	}))
	return srv, &n
}

func TestRetriesBusyAndFailingServers(t *testing.T) {
	cfg := crawler.Config{AllowPrivate: true, RetryBackoff: 10 * time.Millisecond, RequestTimeout: 300 * time.Millisecond}
	cases := []struct {
		name       string
		fail       int32
		status     int
		retryAfter string
		hang       time.Duration
		want       affwatch.FetchStatus
		requests   int32
		minElapsed time.Duration
	}{
		{"503 then ok, honouring Retry-After", 1, 503, "1", 0, affwatch.FetchOK, 2, time.Second},
		{"429 twice then ok", 2, 429, "0", 0, affwatch.FetchOK, 3, 0},
		{"always 500: recorded after the retries", 100, 500, "", 0, affwatch.FetchHTTPError, 3, 0},
		{"Retry-After too long: not waited for", 100, 503, "3600", 0, affwatch.FetchHTTPError, 1, 0},
		{"a timeout, then ok", 1, 200, "", time.Second, affwatch.FetchOK, 2, 0},
		{"404 is not retried", 100, 404, "", 0, affwatch.FetchHTTPError, 1, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, n := flaky(tc.fail, tc.status, tc.retryAfter, tc.hang)
			defer srv.Close()
			start := time.Now()
			pages := crawl(t, cfg, srv.URL+"/")
			p := pages[srv.URL+"/"]
			if p.FetchStatus != tc.want || n.Load() != tc.requests {
				t.Fatalf("status %s after %d requests (%s), want %s after %d", p.FetchStatus, n.Load(), p.FetchError, tc.want, tc.requests)
			}
			if el := time.Since(start); el < tc.minElapsed {
				t.Errorf("retried after %s, before the server's Retry-After", el)
			}
		})
	}
}

// A site that is too slow for its time budget is cut off: the pages fetched are kept, and
// the ones it did not get to are recorded as timeouts (not verified), so the scan says what
// it did not check.
func TestSiteTimeBudget(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" || r.URL.Path == "/sitemap.xml" {
			http.NotFound(w, r)
			return
		}
		time.Sleep(150 * time.Millisecond)
		w.Header().Set("Content-Type", "text/html")
		body := "<html><body>"
		if r.URL.Path == "/" {
			for i := range 10 {
				body += fmt.Sprintf(`<a href="/p%d">p</a>`, i)
			}
		}
		w.Write([]byte(body + "</body></html>"))
	}))
	defer srv.Close()
	start := time.Now()
	pages := crawl(t, crawler.Config{AllowPrivate: true, MaxDepth: 1, Parallelism: 1, SiteTimeout: time.Second}, srv.URL+"/")
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("the site took %s past its 1s budget", el)
	}
	ok, timedOut := 0, 0
	for _, p := range pages {
		switch p.FetchStatus {
		case affwatch.FetchOK:
			ok++
		case affwatch.FetchTimeout:
			timedOut++
			if !strings.Contains(p.FetchError, "crawl.site_timeout") {
				t.Errorf("%s: %q does not say the site's budget ran out", p.URL, p.FetchError)
			}
		}
	}
	if ok == 0 || timedOut == 0 || ok+timedOut != 11 {
		t.Fatalf("%d fetched and %d timed out of 11 pages: %v", ok, timedOut, pages)
	}
}
