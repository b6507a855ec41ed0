package crawler_test

import (
	"context"
	"encoding/json"
	"io/fs"
	"path"
	"testing"

	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/crawler"
	"github.com/affwatch/affwatch/fixtures"
	"github.com/affwatch/affwatch/policies"
	"github.com/affwatch/affwatch/rules"
)

// TestExtractedPagesMatchTheSchema validates every page the crawler makes of the fixture
// sites, fetched for real (pages refused by robots.txt and meta redirects among them),
// against policies/schemas/page/page.schema.json (rules.PageSchemaPath), the contract the
// policies are type-checked against.
func TestExtractedPagesMatchTheSchema(t *testing.T) {
	raw, err := fs.ReadFile(policies.FS, rules.PageSchemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var schema any
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	q, err := rego.New(rego.Query("x := json.match_schema(input.page, input.schema)")).PrepareForEval(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := fixtures.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var pages []affwatch.Page
	for _, site := range fixtures.SiteNames() {
		for _, p := range crawl(t, crawler.Config{AllowPrivate: true, MaxDepth: 1}, srv.URL(site)) {
			pages = append(pages, p)
		}
	}
	// and each fixture file extracted alone, as `policy eval --file` does
	fs.WalkDir(fixtures.Sites, "sites", func(p string, d fs.DirEntry, err error) error {
		if err == nil && path.Ext(p) == ".html" {
			b, _ := fs.ReadFile(fixtures.Sites, p)
			if pg, err := crawler.Extract(b, "https://fixtures.test/"+p, crawler.ExtractOptions{}); err == nil {
				pg.FetchStatus = affwatch.FetchOK
				pages = append(pages, pg)
			}
		}
		return nil
	})
	if len(pages) < 30 {
		t.Fatalf("only %d pages to check", len(pages))
	}
	for _, p := range pages {
		b, _ := json.Marshal(p)
		var doc any
		json.Unmarshal(b, &doc)
		rs, err := q.Eval(ctx, rego.EvalInput(map[string]any{"page": doc, "schema": schema}))
		if err != nil || len(rs) != 1 {
			t.Fatalf("%s: %v", p.URL, err)
		}
		res := rs[0].Bindings["x"].([]any)
		if ok, _ := res[0].(bool); !ok {
			t.Errorf("%s (%s) does not match the page schema: %v", p.URL, p.FetchStatus, res[1])
		}
	}
}
