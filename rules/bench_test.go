package rules_test

import (
	"context"
	"testing"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/crawler"
	"github.com/affwatch/affwatch/fixtures"
	"github.com/affwatch/affwatch/policies"
	"github.com/affwatch/affwatch/rules"
)

// BenchmarkEvaluate measures one page through the default pack with the query prepared
// once (as scans run it).
func BenchmarkEvaluate(b *testing.B) {
	ctx := context.Background()
	e, err := rules.Load(ctx, []rules.Source{{Name: "policies", FS: policies.FS}}, rules.Options{Programs: []affwatch.Program{{ID: "acme"}}})
	if err != nil {
		b.Fatal(err)
	}
	raw, err := fixtures.Sites.ReadFile("sites/deal-hunter/index.html")
	if err != nil {
		b.Fatal(err)
	}
	page, err := crawler.Extract(raw, "https://deals.example/", crawler.ExtractOptions{})
	if err != nil {
		b.Fatal(err)
	}
	page.Program = "acme"
	b.ReportAllocs()
	for b.Loop() {
		fs, err := e.Evaluate(ctx, &page)
		if err != nil || len(fs) != 1 {
			b.Fatalf("%v %v", fs, err)
		}
	}
}
