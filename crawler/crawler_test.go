package crawler_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/crawler"
	"github.com/affwatch/affwatch/fixtures"
)

// crawl runs the crawler over one affiliate and returns the pages by URL.
func crawl(t *testing.T, cfg crawler.Config, sites ...string) map[string]affwatch.Page {
	t.Helper()
	c := crawler.New(cfg, []affwatch.Program{{ID: "acme", LandingDomains: []string{"shop.acme.example"}}})
	c.Logger = slog.New(slog.DiscardHandler)
	defer c.Close()
	var mu sync.Mutex
	pages := map[string]affwatch.Page{}
	err := c.Crawl(context.Background(), affwatch.Affiliate{ID: "a", Program: "acme", Sites: sites}, func(s affwatch.Snapshot) error {
		mu.Lock()
		defer mu.Unlock()
		if _, dup := pages[s.Page.URL]; dup {
			t.Errorf("page %s handed over twice", s.Page.URL)
		}
		pages[s.Page.URL] = s.Page
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pages
}

func TestCrawlFollowsSameSiteLinksOnce(t *testing.T) {
	srv, err := fixtures.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	base := srv.URL("good-reviews")
	pages := crawl(t, crawler.Config{AllowPrivate: true, MaxDepth: 1}, base)
	if len(pages) != 2 {
		t.Fatalf("crawled %d pages, want the index and about.html: %v", len(pages), pages)
	}
	about, ok := pages[base+"about.html"]
	if !ok || about.FetchStatus != affwatch.FetchOK || about.Title != "How we test" {
		t.Fatalf("about page: %+v", about)
	}
	idx := pages[base]
	if len(idx.AffiliateLinks()) != 2 || idx.ContentSHA256 == "" || idx.Affiliate.ID != "a" || idx.Program != "acme" {
		t.Fatalf("index page: %+v", idx)
	}
}

func TestGuardRefusesLoopbackUnlessAllowed(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer srv.Close()
	pages := crawl(t, crawler.Config{}, srv.URL+"/")
	p := pages[srv.URL+"/"]
	if p.FetchStatus != affwatch.FetchRefused || !strings.Contains(p.FetchError, "forbidden address") {
		t.Fatalf("loopback page: status %s, error %q; want refused", p.FetchStatus, p.FetchError)
	}
	if hits != 0 {
		t.Fatalf("the guarded crawler reached the loopback server %d times", hits)
	}
	for _, a := range []string{"127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254", "100.64.0.1", "::1", "fd00:ec2::254", "::ffff:127.0.0.1"} {
		if !crawler.Forbidden(netip.MustParseAddr(a)) {
			t.Errorf("%s is not forbidden", a)
		}
	}
	for _, a := range []string{"93.184.215.14", "2606:4700::1111"} {
		if crawler.Forbidden(netip.MustParseAddr(a)) {
			t.Errorf("public %s is forbidden", a)
		}
	}
}

func TestRobotsAndFailuresAreRecordedNotDropped(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/robots.txt", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("User-agent: *\nDisallow: /private/\n")) })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`<html><body><a href="/private/deals.html">deals</a> <a href="/gone.html">gone</a> <a href="/wall.html">wall</a> <a href="/loop">loop</a></body></html>`))
	})
	mux.HandleFunc("/gone.html", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "gone", http.StatusGone) })
	mux.HandleFunc("/wall.html", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`<html><title>Just a moment...</title><div id="cf-chl-widget">Checking your browser</div></html>`))
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop2", http.StatusFound) })
	mux.HandleFunc("/loop2", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	pages := crawl(t, crawler.Config{AllowPrivate: true, MaxDepth: 1}, srv.URL+"/")
	want := map[string]affwatch.FetchStatus{
		"/":                   affwatch.FetchOK,
		"/private/deals.html": affwatch.FetchBlockedByRobots,
		"/gone.html":          affwatch.FetchHTTPError,
		"/wall.html":          affwatch.FetchBotWall,
		"/loop":               affwatch.FetchRedirectLoop,
	}
	for path, status := range want {
		p, ok := pages[srv.URL+path]
		if !ok {
			t.Errorf("%s: not recorded", path)
			continue
		}
		if p.FetchStatus != status {
			t.Errorf("%s: fetch_status %s (%s), want %s", path, p.FetchStatus, p.FetchError, status)
		}
		if status != affwatch.FetchOK && p.FetchStatus.Verified() {
			t.Errorf("%s: an unverifiable page counts as verified", path)
		}
	}
	if loop := pages[srv.URL+"/loop"]; len(loop.Redirects) < 2 {
		t.Errorf("the redirect loop's chain was not kept: %+v", loop.Redirects)
	}
}

func TestRedirectChainIsKept(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/new", http.StatusMovedPermanently) })
	mux.HandleFunc("/new", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`<html><body><p>moved</p></body></html>`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	p := crawl(t, crawler.Config{AllowPrivate: true}, srv.URL+"/old")[srv.URL+"/old"]
	if p.FetchStatus != affwatch.FetchOK || p.FinalURL != srv.URL+"/new" {
		t.Fatalf("page: %s final %s", p.FetchStatus, p.FinalURL)
	}
	if len(p.Redirects) != 1 || p.Redirects[0].Status != 301 || p.Redirects[0].Kind != "http" || p.Redirects[0].To != srv.URL+"/new" {
		t.Fatalf("redirects: %+v", p.Redirects)
	}
}
