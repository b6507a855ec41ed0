package crawler_test

import (
	"io/fs"
	"testing"

	"github.com/affwatch/affwatch/crawler"
	"github.com/affwatch/affwatch/fixtures"
)

// BenchmarkExtract measures extraction of the fixture sites' pages (MB/s is of HTML).
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
	for i := 0; b.Loop(); i++ {
		if _, err := crawler.Extract(pages[i%len(pages)], "https://blog.example/", crawler.ExtractOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
