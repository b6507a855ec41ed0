package crawler_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/crawler"
)

// With resolve_clicks, each affiliate link records where its click really lands (through
// the redirects), once per click URL; robots.txt of the click's host is obeyed.
func TestClickURLsAreResolvedToTheirLanding(t *testing.T) {
	var clicks atomic.Int32
	network := http.NewServeMux()
	network.HandleFunc("/robots.txt", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "User-agent: *\nDisallow: /private\n") })
	network.HandleFunc("/click", func(w http.ResponseWriter, r *http.Request) {
		clicks.Add(1)
		http.Redirect(w, r, "/hop?to="+r.URL.Query().Get("to"), http.StatusFound)
	})
	network.HandleFunc("/hop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusMovedPermanently)
	})
	network.HandleFunc("/private", func(w http.ResponseWriter, r *http.Request) { t.Error("a click robots.txt disallows was followed") })
	network.HandleFunc("/product", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<html>product</html>") })
	nsrv := httptest.NewServer(network)
	defer nsrv.Close()
	landing := nsrv.URL + "/product"
	page := fmt.Sprintf(`<html><body><p>We earn a commission.</p>
<a href="%[1]s/click?ref=partner7&to=%[2]s">buy</a> <a href="%[1]s/click?ref=partner7&to=%[2]s">buy again</a>
<a href="%[1]s/private?ref=partner7">private</a></body></html>`, nsrv.URL, landing)
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, page)
	}))
	defer site.Close()

	prog := affwatch.Program{ID: "acme", LandingDomains: []string{"127.0.0.1"}}
	c := crawler.New(crawler.Config{AllowPrivate: true, ResolveClicks: true}, []affwatch.Program{prog})
	c.Logger = slog.New(slog.DiscardHandler)
	defer c.Close()
	var got affwatch.Page
	err := c.Crawl(context.Background(), affwatch.Affiliate{ID: "a", Program: "acme", Sites: []string{site.URL + "/"}}, func(s affwatch.Snapshot) error {
		got = s.Page
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	links := got.AffiliateLinks()
	if len(links) != 3 {
		t.Fatalf("%d affiliate links: %+v", len(links), got.Links)
	}
	for _, l := range links[:2] {
		if l.Affiliate.Landing != landing || l.Affiliate.Hops != 2 {
			t.Errorf("%s: landing %q after %d hops, want %s after 2", l.Href, l.Affiliate.Landing, l.Affiliate.Hops, landing)
		}
	}
	if links[2].Affiliate.Landing != "" {
		t.Errorf("the disallowed click was resolved to %q", links[2].Affiliate.Landing)
	}
	if clicks.Load() != 1 {
		t.Errorf("the same click URL was asked %d times, want once", clicks.Load())
	}
}

// Without resolve_clicks no click URL is asked for.
func TestClicksAreNotAskedByDefault(t *testing.T) {
	var asked atomic.Int32
	nsrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { asked.Add(1) }))
	defer nsrv.Close()
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<html><body><a href="%s/click?ref=p">buy</a></body></html>`, nsrv.URL)
	}))
	defer site.Close()
	c := crawler.New(crawler.Config{AllowPrivate: true}, []affwatch.Program{{ID: "acme", LandingDomains: []string{"127.0.0.1"}}})
	c.Logger = slog.New(slog.DiscardHandler)
	defer c.Close()
	c.Crawl(context.Background(), affwatch.Affiliate{ID: "a", Program: "acme", Sites: []string{site.URL + "/"}}, func(affwatch.Snapshot) error { return nil })
	if asked.Load() != 0 {
		t.Fatalf("the click host was asked %d times", asked.Load())
	}
}
