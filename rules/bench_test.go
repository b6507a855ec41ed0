package rules_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/crawler"
	"github.com/affwatch/affwatch/fixtures"
	"github.com/affwatch/affwatch/internal/testkit"
	"github.com/affwatch/affwatch/policies"
	"github.com/affwatch/affwatch/rules"
)

// benchPage is the typical page of the evaluation benchmarks: a review with disclosures,
// affiliate links, a coupon and prices, extracted as the crawler does.
func benchPage(b *testing.B) (affwatch.Page, affwatch.Program) {
	b.Helper()
	prog := fixtures.Program()
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
	return page, prog
}

// recipePage is the long page of the evaluation benchmarks: a real recipe blog post
// (acozykitchen.com, 444 KB of HTML, 23 affiliate links and a disclosure), hundreds of
// blocks and distinct words.
func recipePage(b *testing.B) affwatch.Page {
	b.Helper()
	prog := fixtures.Program()
	dir := testkit.SharedData(b, "recipe_blog_pages_affiliate")
	raw := gunzipFile(b, filepath.Join(dir, "pages", "A__acozykitchen.com__acozykitchen_2.html.gz"))
	page, err := crawler.Extract(raw, "https://www.acozykitchen.com/pumpkin-bread", crawler.ExtractOptions{Program: &prog})
	if err != nil {
		b.Fatal(err)
	}
	page.Program, page.FetchStatus = prog.ID, affwatch.FetchOK
	if len(page.Blocks) < 100 || len(page.Words) < 500 {
		b.Fatalf("the recipe page has %d blocks and %d words: not a long page", len(page.Blocks), len(page.Words))
	}
	return page
}

// benchPages are the benchmarks' pages: the typical review and a long real recipe post.
func benchPages(b *testing.B) ([]struct {
	name string
	page affwatch.Page
}, affwatch.Program) {
	review, prog := benchPage(b)
	return []struct {
		name string
		page affwatch.Page
	}{{"review", review}, {"recipe", recipePage(b)}}, prog
}

// BenchmarkEvaluate measures one typical page (a review with disclosures, affiliate links,
// a coupon and prices) through the whole default pack: with the query prepared once and
// shared (as scans run it, alone and by a pool of goroutines), and with the policies
// compiled and the query prepared for every page (as conftest evaluates each input, the
// anchor). prepare-per-page reports prepare/prepared, how many times the prepared-once
// evaluation is faster than the anchor, in the same run (target: at least 40). Each is
// run on the review page and on a long recipe post (review/..., recipe/...).
func BenchmarkEvaluate(b *testing.B) {
	pages, prog := benchPages(b)
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) { benchmarkEvaluate(b, p.page, prog) })
	}
}

func benchmarkEvaluate(b *testing.B, page affwatch.Page, prog affwatch.Program) {
	ctx := context.Background()
	srcs := []rules.Source{{Name: "policies", FS: policies.FS}}
	opts := rules.Options{Programs: []affwatch.Program{prog}}
	e, err := rules.Load(ctx, srcs, opts)
	if err != nil {
		b.Fatal(err)
	}
	var once time.Duration // per page, prepared once
	b.Run("prepared-once", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.Evaluate(ctx, &page); err != nil {
				b.Fatal(err)
			}
		}
		once = b.Elapsed() / time.Duration(b.N)
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
		if once > 0 {
			b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(once), "prepare/prepared")
		}
	})
}

// extraWords are ordinary marketing words the generated pattern rules look for; a few of
// them are on the benchmark page ("best", "price", "deal"), so some rules read a block.
var extraWords = strings.Fields(`amazing bargain best bonus cheap clearance deal discount exclusive
	free gift instant lifetime lowest miracle new offer official premium price promise proven
	rare refund reward save secret special sponsored super top trusted ultimate unbeatable
	unlimited value vip winner wonder world bestseller certified clinical doctor expert famous
	genuine hottest insider original perfect popular powerful quality rated recommended
	revolutionary safe science smart strongest`)

// extraRules writes n pattern rules of the claims rules' shape into a policy directory:
// METADATA with an id and a severity, a pattern by category with the words every match
// holds, the blocks holding them (page.words), regex.find_n per block, quotations
// and look-alikes left out (page.claimed). scan writes the same rules the way they were
// written before the word index: a regex pass over the page's whole text, then every block.
func extraRules(n int, scan bool) fstest.MapFS {
	fsys := fstest.MapFS{}
	for i := range n {
		w := []string{extraWords[i%len(extraWords)], extraWords[(i*7+3)%len(extraWords)], extraWords[(i*13+5)%len(extraWords)]}
		find := "some category, ws in words\n\tsome blocks in object.filter(page.words, ws)\n\tpattern := patterns[category]\n\tsome i in blocks\n\tb := input.blocks[i]\n\tpage.own(b)"
		if scan {
			find = "some category, pattern in patterns\n\tregex.match(pattern, input.text)\n\tsome b in page.own_blocks"
		}
		src := fmt.Sprintf(`# METADATA
# title: Generated pattern rule %[1]d
# description: A claim of the words %[2]s, %[3]s or %[4]s.
# custom:
#   id: GEN-%03[1]d
#   severity: medium
package affwatch.rules.generated.r%[1]d

import data.affwatch.lib.page

patterns := {
	"first": `+"`"+`(?i)\b(?:%[2]s|%[3]s)\s+(?:\w+\s+){0,3}?(?:guaranteed|for you|today|now|ever)\b`+"`"+`,
	"second": `+"`"+`(?i)\b\d+%%?\s*(?:%[4]s)\b`+"`"+`,
}

words := {"first": {"%[2]s", "%[3]s"}, "second": {"%[4]s"}}

deny contains finding if {
	%[5]s
	some m in regex.find_n(pattern, b.text, -1)
	page.claimed(b, m, `+"`"+`\b\d{4}-\d{2}-\d{2}`+"`"+`)
	finding := {
		"msg": sprintf("%%s claim: %%q", [category, m]),
		"evidence": page.evidence(b.text, b.selector, b.offset, lower(m)),
	}
}
`, i, w[0], w[1], w[2], find)
		fsys[fmt.Sprintf("generated/r%d.rego", i)] = &fstest.MapFile{Data: []byte(src)}
	}
	return fsys
}

// BenchmarkEvaluateExtraRules measures what 50 more pattern rules of the claims rules'
// shape cost per page, in one run: the pack alone, the pack with 50 rules that find their
// blocks through the word index (target: less than 2x the pack alone; with-50/pack), and,
// for comparison, the same 50 rules each scanning the page's text first
// (with-50-scanning/pack). Each is run on the review page and on a long recipe post.
func BenchmarkEvaluateExtraRules(b *testing.B) {
	pages, prog := benchPages(b)
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) { benchmarkEvaluateExtraRules(b, p.page, prog) })
	}
}

func benchmarkEvaluateExtraRules(b *testing.B, page affwatch.Page, prog affwatch.Program) {
	ctx := context.Background()
	opts := rules.Options{Programs: []affwatch.Program{prog}}
	pack := []rules.Source{{Name: "policies", FS: policies.FS}}
	var alone time.Duration
	for _, c := range []struct {
		name string
		srcs []rules.Source
	}{
		{"pack", pack},
		{"with-50", append(pack, rules.Source{Name: "generated", FS: extraRules(50, false)})},
		{"with-50-scanning", append(pack, rules.Source{Name: "generated", FS: extraRules(50, true)})},
	} {
		e, err := rules.Load(ctx, c.srcs, opts)
		if err != nil {
			b.Fatal(err)
		}
		if n := len(e.Rules()); c.name != "pack" && n < 50 {
			b.Fatalf("%s: %d rules loaded", c.name, n)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Evaluate(ctx, &page); err != nil {
					b.Fatal(err)
				}
			}
			per := b.Elapsed() / time.Duration(b.N)
			if c.name == "pack" {
				alone = per
			} else if alone > 0 {
				b.ReportMetric(float64(per)/float64(alone), c.name+"/pack")
			}
		})
	}
}
