package crawler_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"hash"
	"html"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/crawler"
	"github.com/affwatch/affwatch/fixtures"
	"github.com/affwatch/affwatch/internal/testkit"
)

// updateGolden rewrites testdata/extract_golden.json from the extractor as it is: run it
// only on an extractor whose output is known good.
var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/extract_golden.json")

const goldenFile = "testdata/extract_golden.json"

// goldenCase is one extraction whose whole Page document is pinned by its digest.
type goldenCase struct {
	name string
	page func() (affwatch.Page, error)
}

// goldenCases are the documents the extractor must keep producing byte for byte: every
// fixture page (with and without the fixture program), the crawl farm's review page, the
// 249 real recipe-blog pages, the publishers' house disclosures, and the Mathur 2018
// YouTube and Pinterest descriptions (one digest per platform over all its items).
func goldenCases(t *testing.T) []goldenCase {
	t.Helper()
	prog := fixtures.Program()
	var cases []goldenCase
	fs.WalkDir(fixtures.Sites, "sites", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".html" {
			return nil
		}
		raw, err := fs.ReadFile(fixtures.Sites, p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		u := "https://fixtures.test/" + p
		cases = append(cases,
			goldenCase{"fixture/" + p, func() (affwatch.Page, error) { return crawler.Extract(raw, u, crawler.ExtractOptions{}) }},
			goldenCase{"fixture+program/" + p, func() (affwatch.Page, error) {
				return crawler.Extract(raw, u, crawler.ExtractOptions{Program: &prog})
			}})
		return nil
	})
	farm := []byte(farmPage("host00", 3, 20))
	cases = append(cases, goldenCase{"farm/p3.html", func() (affwatch.Page, error) {
		return crawler.Extract(farm, "http://127.0.0.1/p3.html",
			crawler.ExtractOptions{Program: &affwatch.Program{ID: "acme", LandingDomains: []string{"shop.acme.example"}}})
	}})

	dir := testkit.SharedData(t, "recipe_blog_pages_affiliate")
	files, err := filepath.Glob(filepath.Join(dir, "pages", "*.html.gz"))
	if err != nil || len(files) != 249 {
		t.Fatalf("%s: %d pages (%v), want 249", dir, len(files), err)
	}
	for _, f := range files {
		raw := gunzipPage(t, f)
		u := "https://" + strings.SplitN(filepath.Base(f), "__", 3)[1] + "/"
		cases = append(cases, goldenCase{"recipe/" + filepath.Base(f), func() (affwatch.Page, error) {
			return crawler.Extract(raw, u, crawler.ExtractOptions{Program: &prog})
		}})
	}

	for _, r := range testkit.ReadCSV(t, "testdata/publisher_disclosures.csv") {
		cases = append(cases, goldenCase{"publisher/" + r["publisher"] + "/" + r["wording"], func() (affwatch.Page, error) {
			return extractSentences([]string{r["wording"]})
		}})
	}
	mathur := testkit.SharedData(t, "affiliate_disclosures_mathur2018")
	for _, platform := range []string{"youtube", "pinterest"} {
		items, order := itemText(t, mathur+"/"+platform+"_labeled_sentences.csv")
		for _, id := range order {
			cases = append(cases, goldenCase{"mathur2018/" + platform + "/" + id, func() (affwatch.Page, error) {
				return extractSentences(items[id])
			}})
		}
	}
	return cases
}

// extractSentences extracts a description the way the disclosure evaluation does: each
// sentence a paragraph of a page.
func extractSentences(sentences []string) (affwatch.Page, error) {
	var b strings.Builder
	b.WriteString("<html><body>")
	for _, s := range sentences {
		b.WriteString("<p>" + html.EscapeString(s) + "</p>")
	}
	b.WriteString("</body></html>")
	return crawler.Extract([]byte(b.String()), "https://www.youtube.com/watch", crawler.ExtractOptions{})
}

func gunzipPage(t *testing.T, file string) []byte {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return b
}

// goldenKey groups the Mathur 2018 items under one digest per platform, so the golden file
// stays small; every other case has its own.
func goldenKey(name string) string {
	if rest, ok := strings.CutPrefix(name, "mathur2018/"); ok {
		return "mathur2018/" + strings.SplitN(rest, "/", 2)[0]
	}
	return name
}

// TestExtractionOutputIsUnchanged pins the extractor's output: the JSON of every Page in
// goldenCases must hash to the digest recorded in testdata/extract_golden.json before the
// extractor was made faster. A speed-up that changes any field of any page fails here,
// naming the page. AFFWATCH_GOLDEN_DUMP=dir writes each page's JSON there, to diff two
// versions of the extractor.
func TestExtractionOutputIsUnchanged(t *testing.T) {
	cases := goldenCases(t)
	if len(cases) < 249+100+2 {
		t.Fatalf("only %d cases", len(cases))
	}
	dump := os.Getenv("AFFWATCH_GOLDEN_DUMP")
	hashes := map[string]hash.Hash{}
	var keys []string
	for _, c := range cases {
		p, err := c.page()
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		js, err := json.MarshalIndent(p, "", " ")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		k := goldenKey(c.name)
		h, ok := hashes[k]
		if !ok {
			h = sha256.New()
			hashes[k] = h
			keys = append(keys, k)
		}
		fmt.Fprintf(h, "%s\n%d\n", c.name, len(js))
		h.Write(js)
		if dump != "" {
			f := filepath.Join(dump, strings.NewReplacer("/", "_", " ", "_").Replace(c.name)+".json")
			if len(f) > 200 {
				sum := sha256.Sum256([]byte(c.name))
				f = filepath.Join(dump, hex.EncodeToString(sum[:8])+".json")
			}
			if err := os.WriteFile(f, js, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := map[string]string{}
	for k, h := range hashes {
		got[k] = hex.EncodeToString(h.Sum(nil))
	}
	sort.Strings(keys)
	if *updateGolden {
		var b bytes.Buffer
		b.WriteString("{\n")
		for i, k := range keys {
			kj, _ := json.Marshal(k)
			fmt.Fprintf(&b, "  %s: %q", kj, got[k])
			if i < len(keys)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString("}\n")
		if err := os.WriteFile(goldenFile, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %d digests to %s", len(keys), goldenFile)
		return
	}
	raw, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatalf("%s: %v", goldenFile, err)
	}
	changed := 0
	for _, k := range keys {
		switch w, ok := want[k]; {
		case !ok:
			t.Errorf("%s: no digest recorded in %s", k, goldenFile)
		case w != got[k]:
			changed++
			t.Errorf("%s: the extracted page changed (digest %s, recorded %s)", k, got[k][:12], w[:12])
		}
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			t.Errorf("%s: recorded in %s but no longer extracted", k, goldenFile)
		}
	}
	t.Logf("%d extractions, %d digests, %d changed", len(cases), len(keys), changed)
}
