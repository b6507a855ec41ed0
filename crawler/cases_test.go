package crawler_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/crawler"
	"github.com/affwatch/affwatch/fixtures"
)

// TestCrawlCasesSite crawls fixtures/sites/crawl-cases and checks what was extracted from
// each of its pages: the sitemap's extra page (and not its disallowed or off-site ones), a
// Windows-1252 page read as what it says, broken HTML still judged, and every network's
// link form classified with its affiliate ID.
func TestCrawlCasesSite(t *testing.T) {
	srv, err := fixtures.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	base := srv.URL("crawl-cases")
	pages := crawl(t, crawler.Config{AllowPrivate: true, MaxDepth: 1}, base)

	if p, ok := pages[base+"only-in-sitemap.html"]; !ok || p.FetchStatus != affwatch.FetchOK || p.Title != "Only in the sitemap" {
		t.Errorf("the page only the sitemap names: %+v (found %v)", p, ok)
	}
	if p := pages[base+"private/hidden-deals.html"]; p.FetchStatus != affwatch.FetchBlockedByRobots {
		t.Errorf("a sitemap page robots.txt disallows: %q", p.FetchStatus)
	}
	for u := range pages {
		if strings.Contains(u, "elsewhere.example") {
			t.Errorf("followed a sitemap entry off the site: %s", u)
		}
	}

	cafe := pages[base+"cafe.html"]
	if cafe.Title != "Café crème – notre avis" || !strings.Contains(cafe.Text, "Le café “parfait” – test") {
		t.Errorf("Windows-1252 page read as title %q, text %q", cafe.Title, cafe.Text)
	}
	if len(cafe.Prices) == 0 || !strings.Contains(cafe.Prices[0].Context, "12,90") {
		t.Errorf("the euro price on the Windows-1252 page: %+v", cafe.Prices)
	}
	if len(cafe.AffiliateLinks()) != 1 || cafe.AffiliateLinks()[0].Affiliate.AffiliateID != "cafe-21" || len(cafe.Disclosures) != 1 {
		t.Errorf("Windows-1252 page: links %+v disclosures %+v", cafe.AffiliateLinks(), cafe.Disclosures)
	}

	broken := pages[base+"broken.html"]
	if broken.FetchStatus != affwatch.FetchOK || len(broken.AffiliateLinks()) != 1 || broken.AffiliateLinks()[0].Affiliate.Network != "awin" ||
		len(broken.Disclosures) != 1 || broken.Disclosures[0].Offset < broken.AffiliateLinks()[0].Offset {
		t.Errorf("broken HTML: status %s, links %+v, disclosures %+v", broken.FetchStatus, broken.AffiliateLinks(), broken.Disclosures)
	}

	// networks.html says on each link what it is; the extractor must agree.
	raw, err := fixtures.Sites.ReadFile("sites/crawl-cases/networks.html")
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := goquery.NewDocumentFromReader(strings.NewReader(string(raw)))
	want := map[string][2]string{}
	doc.Find("a[data-network]").Each(func(_ int, a *goquery.Selection) {
		href, _ := a.Attr("href")
		net, _ := a.Attr("data-network")
		id, _ := a.Attr("data-id")
		want[href] = [2]string{net, id}
	})
	nets := pages[base+"networks.html"]
	got := map[string][2]string{}
	for _, l := range nets.AffiliateLinks() {
		got[l.Href] = [2]string{l.Affiliate.Network, l.Affiliate.AffiliateID}
	}
	if len(want) < 15 {
		t.Fatalf("the networks page lists %d links", len(want))
	}
	for href, w := range want {
		if got[href] != w {
			t.Errorf("%s: extracted %v, want %v", href, got[href], w)
		}
	}
}

// A page over the size limit is recorded as too large (unverified), not judged in part.
func TestHugePageIsTooLarge(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html><body>")
		for range 20000 {
			fmt.Fprint(w, "<p>filler text that goes on and on, as some link farms do.</p>\n")
		}
		fmt.Fprint(w, "</body></html>")
	}))
	defer srv.Close()
	p := crawl(t, crawler.Config{AllowPrivate: true, MaxBodyBytes: 256 << 10}, srv.URL+"/")[srv.URL+"/"]
	if p.FetchStatus != affwatch.FetchTooLarge || p.FetchStatus.Verified() || len(p.Links) != 0 {
		t.Fatalf("huge page: %s %q, %d links", p.FetchStatus, p.FetchError, len(p.Links))
	}
}

// However many affiliates are crawled at once, no more than MaxConcurrent requests are in
// flight across all their hosts.
func TestRequestsInFlightAreCappedAcrossHosts(t *testing.T) {
	var inFlight, peak atomic.Int32
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(30 * time.Millisecond)
		if r.URL.Path == "/" {
			w.Header().Set("Content-Type", "text/html")
			var b strings.Builder
			for i := range 6 {
				fmt.Fprintf(&b, `<a href="/p%d">p</a>`, i)
			}
			w.Write([]byte("<html><body>" + b.String() + "</body></html>"))
			return
		}
		if r.URL.Path == "/robots.txt" || r.URL.Path == "/sitemap.xml" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("<html><body>page</body></html>"))
	})
	var sites []string
	for range 4 {
		srv := httptest.NewServer(handler)
		defer srv.Close()
		sites = append(sites, srv.URL+"/")
	}
	c := crawler.New(crawler.Config{AllowPrivate: true, MaxDepth: 1, Parallelism: 4, MaxConcurrent: 3}, nil)
	c.Logger = slog.New(slog.DiscardHandler)
	defer c.Close()
	var wg sync.WaitGroup
	var pages atomic.Int32
	for i, site := range sites {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Crawl(context.Background(), affwatch.Affiliate{ID: fmt.Sprint("a", i), Sites: []string{site}}, func(affwatch.Snapshot) error {
				pages.Add(1)
				return nil
			})
		}()
	}
	wg.Wait()
	if pages.Load() != 28 {
		t.Fatalf("%d pages crawled, want 28", pages.Load())
	}
	if peak.Load() > 3 || peak.Load() < 2 {
		t.Fatalf("%d requests in flight at once, want at most 3 (and some overlap)", peak.Load())
	}
}
