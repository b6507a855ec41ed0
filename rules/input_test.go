package rules_test

import (
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/crawler"
	"github.com/affwatch/affwatch/fixtures"
	"github.com/affwatch/affwatch/rules"
)

// The input built directly from a Page is the value its JSON encoding parses to, on every
// fixture page and on a page with every optional field set.
func TestInputIsThePagesJSON(t *testing.T) {
	e, err := load(t, nil)
	if err != nil {
		t.Fatal(err)
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
	for _, p := range pages {
		got, err := e.Input(&p)
		if err != nil {
			t.Fatal(err)
		}
		want, err := rules.JSONInput(&p)
		if err != nil {
			t.Fatal(err)
		}
		if ast.Compare(got, want) != 0 {
			t.Errorf("%s: the direct input differs from the JSON one\n got %v\nwant %v", p.URL, got, want)
		}
	}
}
