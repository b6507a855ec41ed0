package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/affwatch/affwatch/internal/vet"
)

// vetSites are three prospective partners on loopback: a clean review site that links to
// the program with a disclosure, a coupon site promoting two competitors' programs without
// one, and a site behind a bot wall.
func vetSites() *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/clean/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<html><head><title>Brewing at home</title></head><body>
<p>We earn a commission when you buy through links on this page.</p>
<h1>The best grinders</h1><p>Our favourite is the <a rel="sponsored" href="https://www.awin1.com/cread.php?awinmid=1001&amp;awinaffid=445566">Acme Burr</a>.</p>
</body></html>`)
	})
	mux.HandleFunc("/coupons/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<html><head><title>Coupon codes and promo codes</title></head><body>
<h1>Today's codes</h1>
<p>Use code SAVE20 at <a href="https://www.awin1.com/cread.php?awinmid=2002&amp;awinaffid=777">Rival Coffee</a>.</p>
<p>Use code BREW30 at <a href="https://www.awin1.com/cread.php?awinmid=3003&amp;awinaffid=777">Other Beans</a>.</p>
<p>Promo code FREESHIP gets free delivery.</p>
</body></html>`)
	})
	mux.HandleFunc("/walled/", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `<html><head><title>Just a moment...</title></head><body><div id="cf-chl-widget">Checking your browser</div></body></html>`)
	})
	return httptest.NewServer(mux)
}

func TestVetGivesAVerdictWithItsReasons(t *testing.T) {
	srv := vetSites()
	defer srv.Close()
	dir := t.TempDir()
	cfg := writeConfig(t, dir, `
crawl: {delay: 0s, allow_private_addresses: true, sitemaps: false}
programs: [{id: acme, name: Acme, merchant_ids: {awin: "1001"}, landing_domains: [shop.acme.example]}]
`)
	cases := []struct {
		site    string
		code    int
		verdict vet.Verdict
		reasons []string
	}{
		{"/clean/", exitOK, vet.Approve, []string{"1 page(s) verified"}},
		{"/coupons/", exitViolations, vet.Decline, []string{"DISC-001 (high)", "promotes 2 other program(s): awin merchant 2002", "awin merchant 3003", "looks like a coupon or deal site"}},
		{"/walled/", exitPartial, vet.Review, []string{"could not verify", "bot_wall", "no page of the site could be verified"}},
	}
	for _, c := range cases {
		t.Run(strings.Trim(c.site, "/"), func(t *testing.T) {
			code, out, errOut := runCLI(t, "vet", srv.URL+c.site, "--program", "acme", "--config", cfg, "--format", "json")
			if code != c.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, c.code, out, errOut)
			}
			var rep vet.Report
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			var reasons []string
			for _, r := range rep.Reasons {
				reasons = append(reasons, r.Text)
			}
			all := strings.Join(reasons, "\n")
			if rep.Verdict != c.verdict {
				t.Fatalf("verdict %s, want %s; reasons:\n%s", rep.Verdict, c.verdict, all)
			}
			for _, want := range c.reasons {
				if !strings.Contains(all, want) {
					t.Errorf("no reason says %q:\n%s", want, all)
				}
			}
		})
	}
	// The HTML report escapes what the partner wrote, and the vetting is kept.
	html := filepath.Join(dir, "vet.html")
	if code, _, errOut := runCLI(t, "vet", srv.URL+"/coupons/", "--program", "acme", "--config", cfg, "--format", "html", "-o", html); code != exitViolations {
		t.Fatalf("html: exit %d %s", code, errOut)
	}
	raw, _ := os.ReadFile(html)
	if !strings.Contains(string(raw), "Verdict: <span class=\"decline\">decline</span>") || !strings.Contains(string(raw), "Coupon codes and promo codes") {
		t.Errorf("the HTML report:\n%s", raw)
	}
	st := openDB(t, dir)
	v, err := st.LastVetting(t.Context(), strings.ToLower(strings.TrimSuffix(srv.URL, "/")))
	if err != nil || v.Verdict != "decline" || v.Program != "acme" {
		t.Fatalf("the stored vetting: %+v %v", v, err)
	}
}
