package chrome

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/affwatch/affwatch/crawler"
)

// BenchmarkRender renders loopback fixture pages one after another in one tab, with the
// default budget (load, 500 ms of network quiet, a scroll, quiet again, the DOM read, every
// request intercepted and guarded), and, in the same run, the anchor: chromedp navigating
// the same pages in one tab of a plain headless Chromium and waiting for the load event,
// nothing else. It reports pages/s of both and their ratio.
func BenchmarkRender(b *testing.B) {
	pages := []string{"script-only.html", "stuffed-image.html", "guard.html"}
	base := srv.URL("render-cases")
	ours := New(Config{Tabs: 1, AllowPrivate: true, Logger: slog.New(slog.DiscardHandler)})
	defer ours.Close()
	if _, err := ours.Render(context.Background(), base+pages[0], crawler.RenderOptions{}); err != nil { // start the browser
		b.Fatal(err)
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(DefaultExecPath), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true))...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	if err := chromedp.Do(bctx, chromedp.Navigate(base+pages[0])); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var oursTime, anchorTime time.Duration
	for i := 0; b.Loop(); i++ {
		u := base + pages[i%len(pages)]
		start := time.Now()
		if _, err := ours.Render(context.Background(), u, crawler.RenderOptions{}); err != nil {
			b.Fatal(err)
		}
		oursTime += time.Since(start)
		start = time.Now()
		if err := chromedp.Do(bctx, chromedp.Navigate(u)); err != nil {
			b.Fatal(err)
		}
		anchorTime += time.Since(start)
	}
	n := float64(b.N)
	b.ReportMetric(n/oursTime.Seconds(), "pages/s")
	b.ReportMetric(n/anchorTime.Seconds(), "anchor-pages/s")
	b.ReportMetric(oursTime.Seconds()/anchorTime.Seconds(), "time-ratio")
}
