package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/internal/scorecard"
)

// TestAffiliatesJoinedFindingsThroughRealData goes through both kinds of data: a
// partner's site served on loopback is vetted and approved, then turns into a coupon site
// that also promotes a competitor; the scan stores its pages, its clicks and conversions
// are ingested (most conversions seconds after the click), and `affiliates show` names
// the joined findings no single stage sees (coupon poaching, a competitor on the same
// page, changed after approval), which `detect` stores as violations of the source joined.
func TestAffiliatesJoinedFindingsThroughRealData(t *testing.T) {
	var turned atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("/deals/", func(w http.ResponseWriter, r *http.Request) {
		if !turned.Load() {
			fmt.Fprint(w, `<html><head><title>Brewing at home</title></head><body>
<p>We earn a commission when you buy through links on this page.</p>
<p>Our favourite grinder is the <a rel="sponsored" href="https://www.awin1.com/cread.php?awinmid=1001&amp;awinaffid=445566">Acme Burr</a>.</p>
</body></html>`)
			return
		}
		fmt.Fprint(w, `<html><head><title>Acme coupon codes &amp; promo codes</title></head><body>
<p>We earn a commission when you buy through links on this page.</p>
<p>Use code SAVE20 at <a rel="sponsored" href="https://www.awin1.com/cread.php?awinmid=1001&amp;awinaffid=445566">Acme</a>.</p>
<p>Use code BREW30 at <a rel="sponsored" href="https://www.awin1.com/cread.php?awinmid=2002&amp;awinaffid=445566">Rival Coffee</a>.</p>
<p>Promo code FREESHIP gets free delivery.</p>
</body></html>`)
	})
	mux.HandleFunc("/steady/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<html><head><title>Coffee notes</title></head><body>
<p>We earn a commission when you buy through links on this page.</p>
<p>Try the <a rel="sponsored" href="https://www.awin1.com/cread.php?awinmid=1001&amp;awinaffid=778899">Acme Burr</a>.</p>
</body></html>`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf(`
crawl: {delay: 0s, max_depth: 0, allow_private_addresses: true, sitemaps: false}
programs: [{id: acme, name: Acme, merchant_ids: {awin: "1001"}}]
affiliates:
  - {id: couponer, name: "Deals <b>&</b> Co", program: acme, manager: alice@acme.example, sites: [%q], network_ids: {awin: "445566"}}
  - {id: steady, name: Steady, program: acme, manager: alice@acme.example, sites: [%q], network_ids: {awin: "778899"}}
`, srv.URL+"/deals/", srv.URL+"/steady/"))

	// Vetted and approved as it was...
	if code, out, errOut := runCLI(t, "vet", srv.URL+"/deals/", "--program", "acme", "--config", cfg); code != exitOK {
		t.Fatalf("vet: exit %d\n%s%s", code, out, errOut)
	}
	// ...then it changed, and the nightly scan sees it.
	turned.Store(true)
	if code, out, errOut := runCLI(t, "scan", "--config", cfg, "--progress", "never"); code != exitOK && code != exitViolations {
		t.Fatalf("scan: exit %d\n%s%s", code, out, errOut)
	}

	// A week of traffic ending 2026-11-15: couponer's conversions mostly 5 s after the
	// click, steady's an hour after.
	end := time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC)
	var clicks, convs strings.Builder
	clicks.WriteString("click_id,ts,affiliate_id,ip,user_agent\n")
	convs.WriteString("conversion_id,click_id,ts,affiliate_id,order_id,amount,commission,status\n")
	for i := range 40 {
		aff, lag := "couponer", 5*time.Second
		if i%2 == 1 {
			aff, lag = "steady", time.Hour
		}
		at := end.Add(-time.Duration(i+1) * 3 * time.Hour)
		fmt.Fprintf(&clicks, "c%d,%s,%s,198.51.100.%d,Mozilla/5.0 (X11; Linux x86_64)\n", i, at.Format(time.RFC3339), aff, i+1)
		if i < 24 {
			fmt.Fprintf(&convs, "v%d,c%d,%s,%s,o%d,100,8,approved\n", i, i, at.Add(lag).Format(time.RFC3339), aff, i)
		}
	}
	for name, body := range map[string]string{"clicks.csv": clicks.String(), "conversions.csv": convs.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, kind := range []string{"clicks", "conversions"} {
		if code, out, errOut := runCLI(t, "ingest", kind, "--config", cfg, filepath.Join(dir, kind+".csv")); code != exitOK {
			t.Fatalf("ingest %s: exit %d\n%s%s", kind, code, out, errOut)
		}
	}

	at := end.Format(time.RFC3339)
	code, out, errOut := runCLI(t, "affiliates", "show", "couponer", "--config", cfg, "--end", at)
	if code != exitOK {
		t.Fatalf("affiliates show: exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("affiliates show couponer:\n%s", out)
	for _, want := range []string{
		"JOIN-001 coupon or deal site", "100% of its conversions (12 of 12) came within seconds of the click",
		"JOIN-003 " + srv.URL + "/deals/ links to the program and to awin merchant 2002",
		"JOIN-005 changed since it was approved", "promotes awin 2002 (1 link(s)), which the vetted pages did not",
		"vetted: APPROVE", "clicks            20", "Deals <b>&</b> Co",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("affiliates show does not say %q:\n%s", want, out)
		}
	}

	// detect stores them, with the normal lifecycle; the scorecard then counts them.
	if code, out, errOut := runCLI(t, "detect", "--config", cfg, "--end", at); code != exitOK {
		t.Fatalf("detect: exit %d\n%s%s", code, out, errOut)
	}
	vs, err := openDB(t, dir).Violations(t.Context(), affwatch.ViolationFilter{Source: affwatch.SourceJoined})
	if err != nil {
		t.Fatal(err)
	}
	rulesFound := map[string]bool{}
	for _, v := range vs {
		if v.AffiliateID != "couponer" || v.State != affwatch.StateNew {
			t.Errorf("joined violation %s of %s is %s", v.RuleID, v.AffiliateID, v.State)
		}
		rulesFound[v.RuleID] = true
	}
	for _, id := range []string{"JOIN-001", "JOIN-003", "JOIN-005"} {
		if !rulesFound[id] {
			t.Errorf("detect stored no %s (stored %v)", id, rulesFound)
		}
	}

	code, out, errOut = runCLI(t, "affiliates", "list", "--config", cfg, "--end", at, "--format", "json")
	if code != exitOK {
		t.Fatalf("affiliates list: exit %d\n%s%s", code, out, errOut)
	}
	var cards []scorecard.Card
	if err := json.Unmarshal([]byte(out), &cards); err != nil {
		t.Fatal(err)
	}
	if len(cards) != 2 || cards[0].Affiliate.ID != "couponer" || cards[0].Risk.Score <= cards[1].Risk.Score {
		t.Fatalf("ranking %+v", cards)
	}
	// commission at risk comes from the verdicts ingest stored: every one of couponer's
	// 12 conversions came 5 s after its click (injection), 8.00 each
	if r := cards[0].Scorecard.CommissionAtRisk; cards[0].Scorecard.OpenViolations["high"] < 2 || r == nil || *r != 96 {
		t.Errorf("couponer's scorecard %+v", cards[0].Scorecard)
	}
	for _, f := range []string{"table", "csv"} {
		code, out, errOut = runCLI(t, "affiliates", "list", "--config", cfg, "--end", at, "--format", f, "--period", "30d")
		if code != exitOK || !strings.Contains(out, "couponer") {
			t.Errorf("affiliates list --format %s: exit %d\n%s%s", f, code, out, errOut)
		}
	}
	if code, _, errOut := runCLI(t, "affiliates", "show", "nobody", "--config", cfg); code != exitError || !strings.Contains(errOut, "not found") {
		t.Errorf("an unknown affiliate: exit %d %s", code, errOut)
	}
}
