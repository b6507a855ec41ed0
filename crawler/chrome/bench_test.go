package chrome

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/crawler"
	"github.com/affwatch/affwatch/fixtures"
)

// BenchmarkRender renders loopback fixture pages one after another in one tab, with the
// default budget (load, an idle network, the page's short timers, a scroll where the page
// is taller than its window, the DOM read, every request through the guarded proxy, the
// tab reset for the next page), in three ways in the same run: plain (DOM and requests
// only), with layout (every link and disclosure measured) and a screenshot, and the
// anchor: chromedp navigating the same pages in one tab of a Chromium started with the
// same command line (browserFlags, without the proxy) and waiting for the load event,
// nothing else. It reports pages/s of each and their ratios to the anchor, pages per
// CPU-second (per core: the CPU time of the browser's processes and of this process
// while that side ran), and the peak memory of one tab's browser (the sum of the peak
// resident sizes of its processes).
func BenchmarkRender(b *testing.B) {
	pages := []string{"script-only.html", "stuffed-image.html", "guard.html", "disclosure-faint.html", "disclosure-far-below.html"}
	base := srv.URL("render-cases")
	ours := New(Config{Tabs: 1, AllowPrivate: true, Logger: slog.New(slog.DiscardHandler)})
	defer ours.Close()
	full := crawler.RenderOptions{Screenshot: true, Locate: func(html []byte, u string) []crawler.Target {
		p, err := crawler.Extract(html, u, crawler.ExtractOptions{})
		if err != nil {
			b.Fatal(err)
		}
		return crawler.Targets(&p)
	}}
	if _, err := ours.Render(context.Background(), base+pages[0], full); err != nil { // start the browser
		b.Fatal(err)
	}
	// The anchor's browser has the pool's command line (browserFlags) without the proxy.
	anchorCfg := Config{}
	anchorCfg.defaults()
	anchorDir := b.TempDir()
	actx, acancel := chromedp.NewExecAllocator(context.Background(), browserFlags(anchorCfg, anchorDir)...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	if err := chromedp.Do(bctx, chromedp.Navigate(base+pages[0])); err != nil {
		b.Fatal(err)
	}
	ours.mu.Lock()
	ourDirs := slices.Clone(ours.dirs)
	ours.mu.Unlock()
	ourCPU0, anchorCPU0 := browserCPU(ourDirs...), browserCPU(anchorDir)
	b.ResetTimer()
	var plainTime, fullTime, anchorTime, plainSelf, fullSelf, anchorSelf time.Duration
	var peak int64
	for i := 0; b.Loop(); i++ {
		u := base + pages[i%len(pages)]
		start, cpu := time.Now(), selfCPU()
		if _, err := ours.Render(context.Background(), u, crawler.RenderOptions{}); err != nil {
			b.Fatal(err)
		}
		plainTime += time.Since(start)
		plainSelf += selfCPU() - cpu
		start, cpu = time.Now(), selfCPU()
		if _, err := ours.Render(context.Background(), u, full); err != nil {
			b.Fatal(err)
		}
		fullTime += time.Since(start)
		fullSelf += selfCPU() - cpu
		b.StopTimer()
		peak = max(peak, tabPeakKiB(ours))
		b.StartTimer()
		start, cpu = time.Now(), selfCPU()
		if err := chromedp.Do(bctx, chromedp.Navigate(u)); err != nil {
			b.Fatal(err)
		}
		anchorTime += time.Since(start)
		anchorSelf += selfCPU() - cpu
	}
	b.StopTimer()
	ourCPU, anchorCPU := browserCPU(ourDirs...)-ourCPU0, browserCPU(anchorDir)-anchorCPU0
	if ours.mu.Lock(); len(ours.dirs) != len(ourDirs) {
		b.Errorf("the browser restarted during the benchmark (%d profiles)", len(ours.dirs))
	}
	ours.mu.Unlock()
	n := float64(b.N)
	b.ReportMetric(n/plainTime.Seconds(), "plain-pages/s")
	b.ReportMetric(n/fullTime.Seconds(), "layout+shot-pages/s")
	b.ReportMetric(n/anchorTime.Seconds(), "anchor-pages/s")
	b.ReportMetric(anchorTime.Seconds()/plainTime.Seconds(), "plain/anchor")
	b.ReportMetric(anchorTime.Seconds()/fullTime.Seconds(), "layout+shot/anchor")
	// CPU: the pool's browser ran both of our renders; split it by their wall time.
	ourSelf := plainSelf + fullSelf
	plainCPU := (ourCPU.Seconds())*plainTime.Seconds()/(plainTime+fullTime).Seconds() + plainSelf.Seconds()
	fullCPU := ourCPU.Seconds() + ourSelf.Seconds() - plainCPU
	b.ReportMetric(n/plainCPU, "plain-pages/cpu-s")
	b.ReportMetric(n/fullCPU, "layout+shot-pages/cpu-s")
	b.ReportMetric(n/(anchorCPU+anchorSelf).Seconds(), "anchor-pages/cpu-s")
	b.ReportMetric(float64(peak)/1024, "peak-MiB/tab")
}

// selfCPU is the CPU time this process has used (user and system).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// browserCPU is the CPU time (user and system, with their reaped children's) of the live
// processes of the browsers with the given profile directories.
func browserCPU(dirs ...string) time.Duration {
	var ticks int64
	for _, d := range dirs {
		for _, pid := range processesUsing(d) {
			st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			if err != nil {
				continue
			}
			i := bytes.LastIndexByte(st, ')')
			if i < 0 {
				continue
			}
			f := strings.Fields(string(st[i+1:]))
			// utime, stime, cutime, cstime are fields 14-17 of stat, 12-15 after the name.
			for _, k := range []int{11, 12, 13, 14} {
				if k < len(f) {
					v, _ := strconv.ParseInt(f[k], 10, 64)
					ticks += v
				}
			}
		}
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

// tabPeakKiB is the sum of the peak resident set sizes (VmHWM) of the processes of the
// pool's browsers: with one tab, that tab's browser.
func tabPeakKiB(b *Browser) int64 {
	b.mu.Lock()
	dirs := append([]string(nil), b.dirs...)
	b.mu.Unlock()
	var sum int64
	for _, d := range dirs {
		for _, pid := range processesUsing(d) {
			st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			if err != nil {
				continue
			}
			for line := range bytes.Lines(st) {
				if f := strings.Fields(string(line)); len(f) >= 2 && f[0] == "VmHWM:" {
					kb, _ := strconv.ParseInt(f[1], 10, 64)
					sum += kb
				}
			}
		}
	}
	return sum
}

// BenchmarkRenderedScan500 crawls a 500-page loopback site with every page rendered (two
// tabs, layout and screenshots), judges nothing, closes the crawler, and then counts the
// processes this test binary has left: there must be none (no Chromium outlives the scan).
// Run it with -benchtime=1x: one iteration is the whole scan.
func BenchmarkRenderedScan500(b *testing.B) {
	const n = 500
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/p/"))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><title>Page %d</title></head><body>
<p>We earn a commission if you buy through links on this page.</p><h1>Grinder %d</h1>
<p>Notes on grinder %d. <a href="https://www.awin1.com/cread.php?awinmid=1001&amp;awinaffid=998877" rel="sponsored">Check the price</a></p>`, i, i, i)
		for j := i + 1; j <= i+5 && j < n; j++ {
			fmt.Fprintf(w, `<a href="/p/%d">grinder %d</a> `, j, j)
		}
		fmt.Fprint(w, `<script>document.body.appendChild(document.createElement("p")).textContent = "built by script";</script></body></html>`)
	}))
	defer site.Close()
	prog := fixtures.Program()
	for range b.N {
		before := descendants()
		br := New(Config{Tabs: 2, AllowPrivate: true, Logger: slog.New(slog.DiscardHandler)})
		c := crawler.New(crawler.Config{AllowPrivate: true, NoSitemaps: true, IgnoreRobots: true, MaxDepth: n, MaxPages: n, Parallelism: 2,
			Render: affwatch.RenderAlways, Renderer: br}, []affwatch.Program{prog})
		c.Logger = slog.New(slog.DiscardHandler)
		pages, rendered, peak := 0, 0, int64(0)
		start := time.Now()
		err := c.Crawl(context.Background(), affwatch.Affiliate{ID: "big", Program: prog.ID, Sites: []string{site.URL + "/p/0"}}, func(s affwatch.Snapshot) error {
			pages++
			if s.Page.Rendered && len(s.Screenshot) > 0 && s.Page.Disclosures[0].Layout != nil {
				rendered++
			}
			if pages%50 == 0 {
				peak = max(peak, tabPeakKiB(br))
			}
			return nil
		})
		took := time.Since(start)
		c.Close() // closes the pool
		if err != nil || pages != n || rendered != n {
			b.Fatalf("crawl: %v, %d pages, %d rendered with layout and screenshot", err, pages, rendered)
		}
		if l := leftovers(br); len(l) > 0 {
			b.Fatalf("left after the scan: %v", l)
		}
		if after := descendants(); after > before {
			b.Fatalf("%d child processes before the scan, %d after", before, after)
		}
		b.ReportMetric(float64(n)/took.Seconds(), "pages/s")
		b.ReportMetric(float64(peak)/1024/2, "peak-MiB/tab")
		b.ReportMetric(float64(descendants()), "processes-left")
	}
}

// descendants counts the live processes descended from this one.
func descendants() int {
	entries, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || zombie(e.Name()) {
			continue
		}
		st, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		if i := bytes.LastIndexByte(st, ')'); i >= 0 {
			if f := strings.Fields(string(st[i+1:])); len(f) > 1 {
				parent[pid], _ = strconv.Atoi(f[1])
			}
		}
	}
	me, count := os.Getpid(), 0
	for pid := range parent {
		for p := parent[pid]; p > 1; p = parent[p] {
			if p == me {
				count++
				break
			}
		}
	}
	return count
}
