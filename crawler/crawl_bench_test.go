package crawler_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gocolly/colly/v2"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/crawler"
	"github.com/affwatch/affwatch/internal/testkit"
)

// farmPage is a review page of about 12 KB: headings, paragraphs, a disclosure, affiliate
// links of two networks, an image, same-site links to its neighbours.
func farmPage(host string, i, perHost int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Review %d on %s</title>
<style>.hide{display:none}</style></head><body><header><nav><a href="/">Home</a> <a href="/p%d.html">Next</a></nav></header>
<article><h1>The best grinder, review %d</h1><p>We earn a commission if you buy through links on this page.</p>`, i, host, (i+1)%perHost, i)
	for k := range 14 {
		fmt.Fprintf(&b, `<h2>Section %d</h2><p>We tested this grinder for three weeks with light and dark roasts. The burrs stayed sharp, the
static was low and the dosing cup fit most portafilters. Paragraph %d of the review goes on about grind consistency, noise
and how easy it is to clean, because readers ask.</p>`, k, k)
		if k%4 == 0 {
			fmt.Fprintf(&b, `<p><a href="https://www.amazon.com/dp/B0%04d?tag=farm-20" rel="sponsored">Check the price on Amazon</a>
or <a href="https://www.awin1.com/cread.php?awinmid=1&awinaffid=445566&ued=https%%3A%%2F%%2Fshop.acme.example%%2F" rel="sponsored">buy at Acme</a> for $129.99.</p>`, i)
		}
	}
	fmt.Fprintf(&b, `<img src="/img/%d.jpg" width="640" height="360" alt=""></article><footer><a href="/p%d.html">Previous</a> <a href="/about.html">About</a></footer></body></html>`,
		i, (i+perHost-1)%perHost)
	return b.String()
}

// farm serves hosts × perHost review pages on loopback: each host its own server, an
// index linking to every page.
type farm struct {
	servers []*httptest.Server
	pages   int
}

func newFarm(hosts, perHost int) *farm {
	f := &farm{pages: hosts * (perHost + 1)}
	for h := range hosts {
		host := fmt.Sprintf("host%02d", h)
		cache := make([]string, perHost)
		for i := range cache {
			cache[i] = farmPage(host, i, perHost)
		}
		var index strings.Builder
		index.WriteString(`<html><head><title>Index</title></head><body><p>We earn a commission from links.</p>`)
		for i := range perHost {
			fmt.Fprintf(&index, `<a href="/p%d.html">Review %d</a> `, i, i)
		}
		index.WriteString(`</body></html>`)
		idx := index.String()
		f.servers = append(f.servers, httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			switch {
			case r.URL.Path == "/":
				w.Write([]byte(idx))
			case strings.HasPrefix(r.URL.Path, "/p") && strings.HasSuffix(r.URL.Path, ".html"):
				n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/p"), ".html"))
				if err != nil || n < 0 || n >= perHost {
					http.NotFound(w, r)
					return
				}
				w.Write([]byte(cache[n]))
			default:
				http.NotFound(w, r)
			}
		})))
	}
	return f
}

func (f *farm) close() {
	for _, s := range f.servers {
		s.Close()
	}
}

// BenchmarkCrawl crawls a loopback site farm (50 hosts; 1,000 review pages by default,
// AFFWATCH_BENCH_PAGES for more) with affwatch's crawler, every page extracted into a Page
// document, and, as the anchor, with bare colly collectors that only follow links, with
// the same politeness: robots.txt obeyed, one collector per site as affwatch has, each
// with the same per-host parallelism. Each iteration runs both crawls, first the one that
// went second before, so a change in the machine's load falls on both alike. It reports
// each crawl's pages/s and the ratio (x-bare-colly, the target is 0.9 or more), the
// process CPU time per page of each (the farm's servers run in the same process, on the
// same cores, and count for both) and the peak Go heap of affwatch's crawl.
func BenchmarkCrawl(b *testing.B) {
	pages := 1000
	if s := os.Getenv("AFFWATCH_BENCH_PAGES"); s != "" {
		pages, _ = strconv.Atoi(s)
	}
	const hosts = 50
	f := newFarm(hosts, pages/hosts)
	defer f.close()
	var aw, bare crawlTally
	var heap uint64
	for b.Loop() {
		runAffwatch := func() {
			heap = max(heap, testkit.PeakHeap(func() { aw.add(b, func() int { return crawlAffwatch(b, f, pages, hosts) }) }))
		}
		runBare := func() { bare.add(b, func() int { return crawlBareColly(f) }) }
		if crawlBenchRuns.Add(1)%2 == 1 {
			runAffwatch()
			runBare()
		} else {
			runBare()
			runAffwatch()
		}
	}
	if aw.pages != f.pages*b.N || bare.pages != f.pages*b.N {
		b.Fatalf("affwatch %d pages, bare colly %d, want %d each", aw.pages, bare.pages, f.pages*b.N)
	}
	b.ReportMetric(aw.rate(), "pages/s")
	b.ReportMetric(bare.rate(), "bare-colly-pages/s")
	b.ReportMetric(aw.rate()/bare.rate(), "x-bare-colly")
	b.ReportMetric(aw.cpuPerPage(), "cpu-us/page")
	b.ReportMetric(bare.cpuPerPage(), "bare-colly-cpu-us/page")
	b.ReportMetric(float64(heap)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(testkit.MaxRSS(), "process-max-rss-MiB")
}

// crawlBenchRuns counts BenchmarkCrawl's iterations over all its runs (-count), so the
// crawler that goes first alternates from one run to the next even when each run is one
// iteration.
var crawlBenchRuns atomic.Int64

// crawlTally adds up one crawler's pages, wall time and process CPU time over the runs.
type crawlTally struct {
	pages     int
	wall, cpu time.Duration
}

func (t *crawlTally) add(b *testing.B, crawl func() int) {
	cpu0, wall0 := processCPU(b), time.Now()
	t.pages += crawl()
	t.wall += time.Since(wall0)
	t.cpu += processCPU(b) - cpu0
}

func (t *crawlTally) rate() float64 { return float64(t.pages) / t.wall.Seconds() }

func (t *crawlTally) cpuPerPage() float64 {
	return float64(t.cpu.Microseconds()) / float64(t.pages)
}

// processCPU is the user and system CPU time the process has used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// crawlAffwatch crawls the farm with affwatch's crawler, one affiliate a host, all at
// once, and returns the pages handed over.
func crawlAffwatch(b *testing.B, f *farm, pages, hosts int) int {
	var got atomic.Int64
	c := crawler.New(crawler.Config{AllowPrivate: true, MaxDepth: 1, MaxPages: pages, Parallelism: farmPerHost,
		MaxConcurrent: hosts * farmPerHost, RequestTimeout: 10 * time.Second},
		[]affwatch.Program{{ID: "acme", LandingDomains: []string{"shop.acme.example"}}})
	c.Logger = slog.New(slog.DiscardHandler)
	var wg sync.WaitGroup
	for i, s := range f.servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.Crawl(context.Background(), affwatch.Affiliate{ID: fmt.Sprint("a", i), Program: "acme", Sites: []string{s.URL + "/"}},
				func(snap affwatch.Snapshot) error {
					if snap.Page.FetchStatus != affwatch.FetchOK || len(snap.Page.AffiliateLinks()) == 0 && snap.Page.URL != s.URL+"/" {
						return fmt.Errorf("%s: %s %s", snap.Page.URL, snap.Page.FetchStatus, snap.Page.FetchError)
					}
					got.Add(1)
					return nil
				})
			if err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	c.Close()
	return int(got.Load())
}

// farmPerHost is the requests one host of the farm gets at once, from either crawler.
const farmPerHost = 2

// crawlBareColly crawls the farm with bare colly, as affwatch does it: a collector a site,
// all at once, robots.txt obeyed, farmPerHost requests at a time to its host, links
// followed one deep; no extraction, no sitemap. It returns the pages fetched.
func crawlBareColly(f *farm) int {
	var got atomic.Int64
	var wg sync.WaitGroup
	for _, s := range f.servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			col := colly.NewCollector(colly.Async(true), colly.MaxDepth(2), colly.AllowURLRevisit())
			col.IgnoreRobotsTxt = false
			col.Limit(&colly.LimitRule{DomainGlob: "*", Parallelism: farmPerHost})
			var mu sync.Mutex
			seen := map[string]bool{s.URL + "/": true}
			col.OnHTML("a[href]", func(e *colly.HTMLElement) {
				u := e.Request.AbsoluteURL(e.Attr("href"))
				if !strings.HasPrefix(u, s.URL+"/") {
					return
				}
				mu.Lock()
				dup := seen[u]
				seen[u] = true
				mu.Unlock()
				if !dup {
					e.Request.Visit(u)
				}
			})
			col.OnResponse(func(r *colly.Response) { got.Add(1) })
			col.Visit(s.URL + "/")
			col.Wait()
		}()
	}
	wg.Wait()
	return int(got.Load())
}

// BenchmarkExtractFarmPage is the extraction of one 12 KB review page of the crawl farm.
func BenchmarkExtractFarmPage(b *testing.B) {
	page := []byte(farmPage("host00", 3, 20))
	prog := &affwatch.Program{ID: "acme", LandingDomains: []string{"shop.acme.example"}}
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	cpu := processCPU(b)
	for b.Loop() {
		if _, err := crawler.Extract(page, "http://127.0.0.1/p3.html", crawler.ExtractOptions{Program: prog}); err != nil {
			b.Fatal(err)
		}
	}
	reportCPUPerOp(b, cpu)
}
