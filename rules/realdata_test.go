package rules_test

import (
	"compress/gzip"
	"context"
	"fmt"
	"html"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/crawler"
	"github.com/affwatch/affwatch/internal/testkit"
	"github.com/affwatch/affwatch/policies"
	"github.com/affwatch/affwatch/rules"
)

// realEngine is the default pack with a program that has no parameters of its own, as a
// partner of an unknown advertiser would be judged.
func realEngine(t *testing.T) *rules.Engine {
	t.Helper()
	e, err := rules.Load(context.Background(), []rules.Source{{Name: "policies", FS: policies.FS}},
		rules.Options{Programs: []affwatch.Program{{ID: "recipes"}}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// judge extracts a page as the crawler does and evaluates it with the pack.
func judge(t *testing.T, e *rules.Engine, raw []byte, url string) (affwatch.Page, []affwatch.Finding, time.Duration) {
	t.Helper()
	start := time.Now()
	p, err := crawler.Extract(raw, url, crawler.ExtractOptions{})
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	p.Program, p.FetchStatus, p.URL, p.FinalURL = "recipes", affwatch.FetchOK, url, url
	p.Affiliate = affwatch.PageAffiliate{ID: "partner", NetworkIDs: map[string]string{}}
	fs, err := e.Evaluate(context.Background(), &p)
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return p, fs, time.Since(start)
}

// TestClaimsPolicyOnDarkPatterns measures CLAIM-002 (pressure selling) on the 1,818 real
// urgency, scarcity and social-proof claims Mathur et al. (2019) collected from shopping
// sites: recall per category, and per type within the categories the rule claims to
// cover. Target: recall >= 0.8 on those categories. The false-positive side is measured on
// ordinary text in TestRealRecipePages.
func TestClaimsPolicyOnDarkPatterns(t *testing.T) {
	rows := testkit.ReadCSV(t, filepath.Join(testkit.SharedData(t, "dark_patterns_mathur2019"), "dark-patterns.csv"))
	e := realEngine(t)
	covered := map[string]bool{"Urgency": true, "Scarcity": true, "Social Proof": true}
	type tally struct{ n, hit int }
	byCat, byType := map[string]*tally{}, map[string]*tally{}
	var missed []string
	for i, r := range rows {
		text := strings.TrimSpace(r["Pattern String"])
		if text == "" {
			continue
		}
		raw := []byte("<html><body><p>" + html.EscapeString(text) + "</p></body></html>")
		_, fs, _ := judge(t, e, raw, fmt.Sprintf("https://shop.example/%d", i))
		hit := false
		for _, f := range fs {
			if f.RuleID == "CLAIM-002" || f.RuleID == "CLAIM-001" {
				hit = true
			}
		}
		cat, typ := r["Pattern Category"], r["Pattern Category"]+" / "+r["Pattern Type"]
		for _, c := range []struct {
			m map[string]*tally
			k string
		}{{byCat, cat}, {byType, typ}} {
			if c.m[c.k] == nil {
				c.m[c.k] = &tally{}
			}
			c.m[c.k].n++
			if hit {
				c.m[c.k].hit++
			}
		}
		if !hit && covered[cat] {
			missed = append(missed, typ+": "+text)
		}
	}
	for _, m := range []map[string]*tally{byCat, byType} {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			t.Logf("%-45s %4d claims, recall %.3f", k, m[k].n, float64(m[k].hit)/float64(m[k].n))
		}
	}
	if os.Getenv("AFFWATCH_SHOW_MISSES") != "" {
		sort.Strings(missed)
		for _, s := range missed {
			t.Logf("missed %s", s)
		}
	}
	for cat := range covered {
		if r := float64(byCat[cat].hit) / float64(byCat[cat].n); r < 0.8 {
			t.Errorf("%s: recall %.3f, want at least 0.8", cat, r)
		}
	}
}

// gunzipFile reads a gzip file.
func gunzipFile(t testing.TB, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b
}

// TestRealRecipePages runs the 249 real recipe-blog pages (a scraper's test fixtures, with
// heuristic strata) through the extractor and the default pack: no page may break the run;
// a hidden tag-manager iframe is never cookie stuffing; pages whose affiliate links carry no
// disclosure should mostly get DISC-001, pages with links and a disclosure mostly not. It
// reports the time per page and the violations by rule, and the pressure-claim rate on this
// ordinary text (the false-positive side of TestClaimsPolicyOnDarkPatterns; each content
// rule's finding is labelled by hand in TestContentRulePrecisionOnRecipePages).
func TestRealRecipePages(t *testing.T) {
	dir := testkit.SharedData(t, "recipe_blog_pages_affiliate")
	rows := testkit.ReadCSV(t, filepath.Join(dir, "index_sample.csv"))
	e := realEngine(t)
	var times []time.Duration
	byRule := map[string]int{}
	strata := map[string][2]int{} // stratum -> pages, pages with DISC-001
	claimPages, blocks := 0, 0
	for _, r := range rows {
		raw := gunzipFile(t, filepath.Join(dir, r["saved_file"]))
		url := "https://" + r["site"] + "/" + filepath.Base(r["path"])
		p, fs, took := judge(t, e, raw, url)
		times = append(times, took)
		blocks += len(p.Blocks)
		seen := map[string]bool{}
		for _, f := range fs {
			byRule[f.RuleID]++
			seen[f.RuleID] = true
			if os.Getenv("AFFWATCH_SHOW_CLAIMS") != "" && strings.HasPrefix(f.RuleID, "CLAIM") {
				t.Logf("%s %s: %s", url, f.RuleID, f.Message)
			}
			if f.RuleID == "STUFF-001" && strings.Contains(strings.ToLower(f.Evidence.Snippet), "googletagmanager") {
				t.Errorf("%s: a hidden tag-manager iframe reported as cookie stuffing: %s", url, f.Message)
			}
		}
		if seen["CLAIM-002"] {
			claimPages++
		}
		s := strata[r["heuristic_stratum"]]
		s[0]++
		if seen["DISC-001"] {
			s[1]++
		}
		strata[r["heuristic_stratum"]] = s
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	t.Logf("%d pages: extraction + evaluation median %s, p99 %s, max %s", len(times), times[len(times)/2],
		times[len(times)*99/100], times[len(times)-1])
	rulesSeen := make([]string, 0, len(byRule))
	for r := range byRule {
		rulesSeen = append(rulesSeen, r)
	}
	sort.Strings(rulesSeen)
	for _, r := range rulesSeen {
		t.Logf("%-10s %d findings", r, byRule[r])
	}
	for _, k := range []string{"A_afflinks_and_disclosure", "B_afflinks_no_disclosure_phrase", "C_disclosure_phrase_no_known_afflink", "D_neither"} {
		s := strata[k]
		t.Logf("%-38s %3d pages, DISC-001 on %3d (%.0f%%)", k, s[0], s[1], 100*float64(s[1])/float64(max(s[0], 1)))
	}
	t.Logf("pressure claims (CLAIM-002) on %d of %d pages", claimPages, len(rows))
	if len(times) != 249 {
		t.Errorf("%d pages judged, want 249", len(times))
	}
	a, b := strata["A_afflinks_and_disclosure"], strata["B_afflinks_no_disclosure_phrase"]
	if rate := float64(b[1]) / float64(b[0]); rate < 0.5 {
		t.Errorf("links without disclosure: DISC-001 on %.0f%%, want most", 100*rate)
	}
	if rate := float64(a[1]) / float64(a[0]); rate > 0.2 {
		t.Errorf("links with disclosure: DISC-001 on %.0f%%, want few", 100*rate)
	}
	// Measured: 1 page (a grocer's own "Limited Time Only" range); 4 before claims were
	// judged in their commercial context (issue 19). Each finding is labelled in
	// TestContentRulePrecisionOnRecipePages.
	if claimPages > 2 {
		t.Errorf("pressure claims on %d of %d ordinary recipe pages, want at most 2", claimPages, len(rows))
	}
}
