package rules_test

import (
	"context"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/crawler"
	"github.com/affwatch/affwatch/fixtures"
	"github.com/affwatch/affwatch/policies"
	"github.com/affwatch/affwatch/rules"
)

var (
	expectRe     = regexp.MustCompile(`<!--\s*expect:\s*([A-Z0-9 ,-]+?)\s*-->`)
	expectNoneRe = regexp.MustCompile(`<!--\s*expect-none\s*-->`)
	urlRe        = regexp.MustCompile(`<!--\s*url:\s*(\S+)\s*-->`)
	netIDsRe     = regexp.MustCompile(`<!--\s*network-ids:\s*([^>]+?)\s*-->`)
)

// TestFixtureExpectations runs every fixture page through the real extractor and the
// default pack, and checks what the page says it must trigger, both ways: every expected
// rule fires, and no other rule does.
func TestFixtureExpectations(t *testing.T) {
	prog := fixtures.Program()
	eng, err := rules.Load(context.Background(), []rules.Source{{Name: "policies", FS: policies.FS}},
		rules.Options{Programs: []affwatch.Program{prog}})
	if err != nil {
		t.Fatal(err)
	}
	fetched := time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)
	checked := 0
	err = fs.WalkDir(fixtures.Sites, "sites", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".html" {
			return err
		}
		raw, err := fs.ReadFile(fixtures.Sites, p)
		if err != nil {
			return err
		}
		src := string(raw)
		var want []string
		for _, m := range expectRe.FindAllStringSubmatch(src, -1) {
			want = append(want, strings.FieldsFunc(m[1], func(r rune) bool { return r == ' ' || r == ',' })...)
		}
		none := expectNoneRe.MatchString(src)
		if len(want) == 0 && !none {
			return nil // a page that states no expectation (fetch-level fixtures)
		}
		checked++
		t.Run(strings.TrimPrefix(p, "sites/"), func(t *testing.T) {
			pageURL := "http://fixtures.test/" + strings.TrimPrefix(p, "sites/")
			if m := urlRe.FindStringSubmatch(src); m != nil {
				pageURL = m[1]
			}
			page, err := crawler.Extract(raw, pageURL, crawler.ExtractOptions{Program: &prog})
			if err != nil {
				t.Fatal(err)
			}
			page.URL, page.FinalURL, page.FetchStatus, page.FetchedAt, page.Program = pageURL, pageURL, affwatch.FetchOK, fetched, prog.ID
			page.Affiliate = affwatch.PageAffiliate{ID: "fixture", NetworkIDs: map[string]string{}}
			if m := netIDsRe.FindStringSubmatch(src); m != nil {
				for _, kv := range strings.Fields(m[1]) {
					k, v, _ := strings.Cut(kv, "=")
					page.Affiliate.NetworkIDs[k] = v
				}
			}
			findings, err := eng.Evaluate(context.Background(), &page)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, f := range findings {
				got[f.RuleID] = true
			}
			for _, id := range want {
				if !got[id] {
					t.Errorf("expected %s, did not fire (fired: %v)", id, keys(got))
				}
				delete(got, id)
			}
			if len(got) > 0 {
				t.Errorf("unexpected findings %v:", keys(got))
				for _, f := range findings {
					if got[f.RuleID] {
						t.Logf("  %s: %s", f.RuleID, f.Message)
					}
				}
			}
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 15 {
		t.Errorf("only %d fixture pages state expectations", checked)
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
