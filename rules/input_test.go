package rules_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/crawler"
	"github.com/affwatch/affwatch/fixtures"
	"github.com/affwatch/affwatch/rules"
)

// The input built directly from a Page is the value its JSON encoding parses to, on every
// fixture page and on a page with every optional field set.
// Twice: with the pack, whose inputs carry only the index words it names, and with a rule
// that reads every word of the index, whose inputs carry them all.
func TestInputIsThePagesJSON(t *testing.T) {
	e, err := load(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	all, err := load(t, fstest.MapFS{"every_word.rego": {Data: []byte(everyWordRule)}})
	if err != nil {
		t.Fatal(err)
	}
	if e.IndexWords() == nil || all.IndexWords() != nil {
		t.Fatalf("index words: the pack's %d (want a list), with a rule over every word %d (want all: nil)", len(e.IndexWords()), len(all.IndexWords()))
	}
	prog := fixtures.Program()
	var pages []affwatch.Page
	err = fs.WalkDir(fixtures.Sites, "sites", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".html") {
			return err
		}
		raw, err := fixtures.Sites.ReadFile(p)
		if err != nil {
			return err
		}
		page, err := crawler.Extract(raw, "https://fixture.example/"+p, crawler.ExtractOptions{Program: &prog})
		if err != nil {
			return err
		}
		pages = append(pages, page)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	full := affwatch.Page{SchemaVersion: 1, URL: "https://a.example/", FetchedAt: time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.UTC),
		FetchStatus: affwatch.FetchError, FetchError: "boom", LinksDropped: 7, Status: 200,
		Affiliate: affwatch.PageAffiliate{ID: "x", NetworkIDs: map[string]string{"awin": "1", "cj": "2"}},
		Links:     []affwatch.Link{{Href: "h", Rel: nil, Affiliate: &affwatch.AffiliateLink{Network: "awin", Merchant: "m", Landing: "l", Hops: 2}}},
		Prices:    []affwatch.Price{{Amount: 12.9, Currency: "EUR"}, {Amount: 1e21}, {Amount: 0.000001}, {Amount: 100}},
		Redirects: []affwatch.Redirect{{From: "a", To: "b", Affiliate: nil}},
		Words:     map[string][]int{"left": {0, 3, 600, 100000}, "a\xffb": {1}, ":": {2}, "empty": {}}}
	pages = append(pages, full, affwatch.Page{})
	if len(pages) < 10 {
		t.Fatalf("only %d fixture pages found", len(pages))
	}
	for _, e := range []*rules.Engine{e, all} {
		for _, p := range pages {
			got, err := e.Input(&p)
			if err != nil {
				t.Fatal(err)
			}
			want, err := rules.JSONInput(e, &p)
			if err != nil {
				t.Fatal(err)
			}
			if ast.Compare(got, want) != 0 {
				t.Errorf("%s: the direct input differs from the JSON one\n got %v\nwant %v", p.URL, got, want)
			}
		}
	}
}

// everyWordRule reads every word of the index (a key no constant names): an engine with
// it must give the input the whole index.
const everyWordRule = `# METADATA
# title: Every word
# description: A word of twelve letters or more.
# custom:
#   id: TST-900
#   severity: low
package affwatch.rules.test.words

import data.affwatch.lib.page

deny contains finding if {
	some w, blocks in page.words
	count(w) >= 12
	finding := {"msg": sprintf("long word %s", [w]), "evidence": page.evidence(w, "", 0, w)}
}
`

// The input's word index keeps the words the pack's rules name (CLAIM-001's "guaranteed",
// CLAIM-002's "left", the program's brand words) and leaves out the others; a rule that
// reads the index's keys gets them all and finds what it looks for.
func TestInputCarriesTheIndexWordsRulesName(t *testing.T) {
	e, err := load(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	words := e.IndexWords()
	for _, w := range []string{"guaranteed", "left", "hurry", "cure", ":"} {
		if _, ok := words[w]; !ok {
			t.Errorf("%q is not among the pack's index words", w)
		}
	}
	for _, w := range []string{"espresso", "grinder", "parfait", "unbelievably"} {
		if _, ok := words[w]; ok {
			t.Errorf("%q is among the pack's index words: no rule names it", w)
		}
	}
	page := &affwatch.Page{SchemaVersion: 2, URL: "https://blog.example/p", FetchStatus: affwatch.FetchOK,
		Blocks: []affwatch.Block{{Text: "An unbelievably guaranteed espresso", Tag: "p"}},
		Words:  map[string][]int{"unbelievably": {0}, "guaranteed": {0}, "espresso": {0}}}
	in, err := e.Input(page)
	if err != nil {
		t.Fatal(err)
	}
	got := in.(ast.Object).Get(ast.StringTerm("words"))
	if want := ast.MustParseTerm(`{"guaranteed": [0]}`); got == nil || !got.Equal(want) {
		t.Errorf("pack input words = %v, want %v", got, want)
	}
	all, err := load(t, fstest.MapFS{"every_word.rego": {Data: []byte(everyWordRule)}})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := all.Evaluate(context.Background(), page)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range fs {
		found = found || (f.RuleID == "TST-900" && f.Message == "long word unbelievably")
	}
	if !found {
		t.Errorf("a rule over every index word did not find \"unbelievably\": %v", fs)
	}
}
