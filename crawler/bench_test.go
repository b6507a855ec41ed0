package crawler_test

import (
	"io/fs"
	"testing"
	"time"

	"github.com/affwatch/affwatch/crawler"
	"github.com/affwatch/affwatch/fixtures"
)

// BenchmarkExtract measures extraction of the fixture sites' pages (MB/s is of HTML); it
// reports the process CPU time per page too, which other work on the machine disturbs
// less than the time per page.
func BenchmarkExtract(b *testing.B) {
	var pages [][]byte
	fs.WalkDir(fixtures.Sites, "sites", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && len(p) > 5 && p[len(p)-5:] == ".html" {
			raw, _ := fs.ReadFile(fixtures.Sites, p)
			pages = append(pages, raw)
		}
		return nil
	})
	total := 0
	for _, p := range pages {
		total += len(p)
	}
	b.SetBytes(int64(total / len(pages)))
	b.ReportAllocs()
	cpu := processCPU(b)
	for i := 0; b.Loop(); i++ {
		if _, err := crawler.Extract(pages[i%len(pages)], "https://blog.example/", crawler.ExtractOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	reportCPUPerOp(b, cpu)
}

// reportCPUPerOp reports the process CPU time per iteration since cpu0 (processCPU).
func reportCPUPerOp(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64((processCPU(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}
