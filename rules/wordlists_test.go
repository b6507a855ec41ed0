package rules_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/affwatch/affwatch/crawler"
	"github.com/affwatch/affwatch/internal/testkit"
	"github.com/affwatch/affwatch/policies"
)

// unreadMatches finds, on one page, the claims a pattern rule would miss because of its
// word list: an own block whose text one of the rule's patterns matches, but which none of
// the rule's words (page.words) or stems lead it to read. Each is [rule, category, block].
const unreadMatches = `
pressure contains ["CLAIM-002", category, i] if {
	some kind, cats in data.affwatch.rules.claims.pressure.patterns
	some category, pattern in cats
	some i, b in input.blocks
	data.affwatch.lib.page.own(b)
	regex.match(pattern, b.text)
	not data.affwatch.rules.claims.pressure.reads[[kind, category, i]]
}

prohibited contains ["CLAIM-001", category, i] if {
	some category, pattern in data.affwatch.rules.claims.prohibited.patterns
	some i, b in input.blocks
	data.affwatch.lib.page.own(b)
	regex.match(pattern, b.text)
	not read(category, i)
}

read(category, i) if {
	some blocks in object.filter(data.affwatch.lib.page.words, data.affwatch.rules.claims.prohibited.words[category])
	i in blocks
}
`

// The claims rules read only the blocks holding one of their words (a list written by
// hand beside each pattern). A pattern edited without its word list would miss claims
// silently; this test finds every block of the real pages, the fixture sites and the
// Mathur 2019 dark-pattern texts that a pattern matches and its rule would not read.
func TestClaimWordListsCoverTheirPatterns(t *testing.T) {
	ctx := context.Background()
	opts := []func(*rego.Rego){rego.Query(`x := data.wordcheck`)}
	if err := fs.WalkDir(policies.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".rego") || strings.HasSuffix(path, "_test.rego") {
			return err
		}
		src, err := fs.ReadFile(policies.FS, path)
		opts = append(opts, rego.Module(path, string(src)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	opts = append(opts, rego.Module("wordcheck.rego", "package wordcheck\n"+unreadMatches))
	q, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		t.Fatal(err)
	}

	pages := map[string][]byte{}
	dir := testkit.SharedData(t, "recipe_blog_pages_affiliate")
	for _, r := range testkit.ReadCSV(t, filepath.Join(dir, "index_sample.csv")) {
		pages[r["saved_file"]] = gunzipFile(t, filepath.Join(dir, r["saved_file"]))
	}
	for i, r := range testkit.ReadCSV(t, filepath.Join(testkit.SharedData(t, "dark_patterns_mathur2019"), "dark-patterns.csv")) {
		if text := strings.TrimSpace(r["Pattern String"]); text != "" {
			pages[fmt.Sprintf("mathur2019 row %d", i+2)] = []byte("<html><body><p>" + html.EscapeString(text) + "</p></body></html>")
		}
	}
	sites, _ := filepath.Glob(filepath.Join("..", "fixtures", "sites", "*", "*.html"))
	for _, f := range sites {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pages[f] = raw
	}
	if len(pages) < 1500 {
		t.Fatalf("only %d pages to check: the test would prove little", len(pages))
	}
	blocks := 0
	for name, raw := range pages {
		p, err := crawler.Extract(raw, "https://shop.example/", crawler.ExtractOptions{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		blocks += len(p.Blocks)
		doc, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var input any
		if err := json.Unmarshal(doc, &input); err != nil {
			t.Fatal(err)
		}
		rs, err := q.Eval(ctx, rego.EvalInput(input))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := rs[0].Bindings["x"].(map[string]any)
		for _, set := range []string{"pressure", "prohibited"} {
			for _, m := range got[set].([]any) {
				m := m.([]any)
				i, _ := m[2].(json.Number).Int64()
				t.Errorf("%s: %s's %s pattern matches block %d and the rule does not read it (add its word to the list): %q",
					name, m[0], m[1], i, p.Blocks[i].Text)
			}
		}
	}
	t.Logf("%d pages, %d blocks checked", len(pages), blocks)
}
