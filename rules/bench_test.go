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

// BenchmarkEvaluate measures one typical page (a review with disclosures, affiliate links,
// a coupon and prices) through the whole default pack: with the query prepared once and
// shared (as scans run it, alone and by a pool of goroutines), and with the policies
// compiled and the query prepared for every page (as conftest evaluates each input).
func BenchmarkEvaluate(b *testing.B) {
	ctx := context.Background()
	prog := fixtures.Program()
	srcs := []rules.Source{{Name: "policies", FS: policies.FS}}
	opts := rules.Options{Programs: []affwatch.Program{prog}}
	raw, err := fixtures.Sites.ReadFile("sites/good-reviews/index.html")
	if err != nil {
		b.Fatal(err)
	}
	page, err := crawler.Extract(raw, "https://goodreviews.example/", crawler.ExtractOptions{Program: &prog})
	if err != nil {
		b.Fatal(err)
	}
	page.Program, page.FetchStatus = prog.ID, affwatch.FetchOK
	page.Affiliate = affwatch.PageAffiliate{ID: "good-reviews", NetworkIDs: map[string]string{"awin": "445566"}}
	e, err := rules.Load(ctx, srcs, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("prepared-once", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.Evaluate(ctx, &page); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("prepared-once-pool", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			p := page
			for pb.Next() {
				if _, err := e.Evaluate(ctx, &p); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("prepare-per-page", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e, err := rules.Load(ctx, srcs, opts)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := e.Evaluate(ctx, &page); err != nil {
				b.Fatal(err)
			}
		}
	})
}
