package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/internal/app"
	"github.com/affwatch/affwatch/internal/testkit"
	"github.com/affwatch/affwatch/rules"
)

// etagSite serves pages by path with strong ETags, answering conditional requests with
// 304 (http.ServeContent), and counts what it sent per path.
type etagSite struct {
	mu    sync.Mutex
	pages map[string]string
	full  map[string]int
	n304  map[string]int
}

func newETagSite(pages map[string]string) *etagSite {
	return &etagSite{pages: pages, full: map[string]int{}, n304: map[string]int{}}
}

func (s *etagSite) set(path, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pages[path] = body
}

// asked is how many times path was asked for, in full or answered 304.
func (s *etagSite) asked(path string) (full, notModified int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.full[path], s.n304[path]
}

func (s *etagSite) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	body, ok := s.pages[r.URL.Path]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("ETag", fmt.Sprintf(`"%x"`, sha256.Sum256([]byte(body))))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	rec := httptest.NewRecorder()
	for k, v := range w.Header() {
		rec.Header()[k] = v
	}
	http.ServeContent(rec, r, "", time.Time{}, strings.NewReader(body))
	s.mu.Lock()
	if rec.Code == http.StatusNotModified {
		s.n304[r.URL.Path]++
	} else {
		s.full[r.URL.Path]++
	}
	s.mu.Unlock()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// Issue 11.1: a home page that answers 304 still hands on its links (from the stored
// snapshot), so a rescan reaches the deeper pages and finds what changed there.
func TestNotModifiedPageStillLeadsToTheDeeperPages(t *testing.T) {
	home := `<html><body><p>We earn a commission from qualifying purchases.</p><a href="/page2.html">more</a></body></html>`
	site := newETagSite(map[string]string{"/": home, "/page2.html": disclosed})
	srv := httptest.NewServer(site)
	defer srv.Close()
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf(`
crawl: {delay: 0s, max_depth: 2, allow_private_addresses: true, sitemaps: false}
programs: [{id: acme}]
affiliates: [{id: deals, program: acme, sites: [%q]}]
`, srv.URL+"/"))
	if code, out, errOut := runCLI(t, "scan", "--config", cfg); code != 0 {
		t.Fatalf("first scan: exit %d\n%s%s", code, out, errOut)
	}
	// Unchanged: both pages answer 304, and both are judged from their snapshots.
	code, out, errOut := runCLI(t, "scan", "--config", cfg)
	if code != 0 {
		t.Fatalf("unchanged rescan: exit %d\n%s%s", code, out, errOut)
	}
	if full, nm := site.asked("/page2.html"); full != 1 || nm != 1 {
		t.Fatalf("page2.html: %d full answers and %d 304s after two scans, want 1 and 1", full, nm)
	}
	if strings.Contains(errOut, "not verified") {
		t.Errorf("a not-modified page was logged as not verified:\n%s", errOut)
	}
	st := openDB(t, dir)
	ctx := context.Background()
	scans, err := st.Scans(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	pages, _ := st.Pages(ctx, scans[0].ID)
	if len(pages) != 2 {
		t.Fatalf("the unchanged rescan saw %d pages, want 2 (the home page and page2.html)", len(pages))
	}
	for _, p := range pages {
		if p.FetchStatus != affwatch.FetchNotModified {
			t.Errorf("%s: %s, want not_modified", p.URL, p.FetchStatus)
		}
	}
	// The partner changes only the deeper page: the rescan finds the new violation there.
	site.set("/page2.html", undisclosed)
	if code, out, errOut := runCLI(t, "scan", "--config", cfg); code != exitViolations {
		t.Fatalf("rescan after page2 changed: exit %d, want %d\n%s%s", code, exitViolations, out, errOut)
	}
	vs, _ := st.Violations(ctx, affwatch.ViolationFilter{RuleID: "DISC-001"})
	if len(vs) != 1 || !strings.HasSuffix(vs[0].URL, "/page2.html") || vs[0].State != affwatch.StateNew {
		t.Fatalf("DISC-001 on the changed deeper page: %+v", vs)
	}
}

// expensiveConfig is a one-page affiliate whose policies include expensiveRule, with the
// given evaluation budget.
func expensiveConfig(t *testing.T, url, timeout string) (cfgPath, dir string) {
	t.Helper()
	dir = t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "extra"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "extra", "expensive.rego"), []byte(testkit.ExpensiveRule), 0o644); err != nil {
		t.Fatal(err)
	}
	return writeConfig(t, dir, onePage(url, fmt.Sprintf("policies: {dirs: [extra], eval_timeout: %s}", timeout))), dir
}

// evalErrors reads what the store recorded as failed on each page of a scan.
func evalErrors(t *testing.T, dir string, scanID int64) []string {
	t.Helper()
	db, err := sql.Open("sqlite3", filepath.Join(dir, "affwatch.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT eval_errors FROM pages WHERE scan_id = ? ORDER BY id`, scanID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// Issue 11.2: a rule past the page's time budget is named against the page as failed, the
// other rules' findings stand, and the scan goes on.
func TestScanGoesOnPastAnExpensiveRule(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, undisclosed) }))
	defer srv.Close()
	cfg, dir := expensiveConfig(t, srv.URL+"/", "300ms")
	start := time.Now()
	code, out, errOut := runCLI(t, "scan", "--config", cfg)
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("the scan took %s with a 300ms evaluation budget", took)
	}
	if code == 0 {
		t.Fatalf("exit 0 for a scan with a failed rule and a violation\n%s%s", out, errOut)
	}
	st := openDB(t, dir)
	ctx := context.Background()
	vs, _ := st.Violations(ctx, affwatch.ViolationFilter{RuleID: "DISC-001"})
	if len(vs) != 1 {
		t.Fatalf("DISC-001 on the page: %+v; the other rules' findings must stand", vs)
	}
	scans, _ := st.Scans(ctx, 1)
	errs := evalErrors(t, dir, scans[0].ID)
	if len(errs) != 1 || !strings.Contains(errs[0], "XX-901") || !strings.Contains(errs[0], "policies.eval_timeout") {
		t.Fatalf("the page's recorded rule failures: %q, want XX-901 past policies.eval_timeout", errs)
	}
}

// Issue 11.2: a stop signal ends a scan within seconds even while a rule is evaluating,
// however long the rule's budget.
func TestScanStopsPromptlyWhileARuleRuns(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, undisclosed) }))
	defer srv.Close()
	cfg, dir := expensiveConfig(t, srv.URL+"/", "10m")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(time.Second, cancel)
	start := time.Now()
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"scan", "--config", cfg}, &out, &errOut)
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("the scan took %s to stop after the signal at 1s", took)
	}
	if code == 0 {
		t.Fatalf("an interrupted scan exited 0\n%s%s", out.String(), errOut.String())
	}
	st := openDB(t, dir)
	scans, _ := st.Scans(context.Background(), 1)
	if len(scans) != 1 || scans[0].Status != affwatch.ScanFailed || !strings.Contains(scans[0].Error, "interrupted") {
		t.Fatalf("the scan record: %+v, want failed: interrupted", scans)
	}
	if pages, _ := st.Pages(context.Background(), scans[0].ID); len(pages) != 0 {
		t.Fatalf("a page whose evaluation was cut short was recorded: %+v", pages)
	}
}

// Issue 11.3: one page of thousands of affiliate links gives a bounded number of
// violations: one rule's findings past the cap are folded into one that counts them, and
// links past crawl.max_links are counted, not judged.
func TestOnePageCannotFloodTheScan(t *testing.T) {
	var b strings.Builder
	b.WriteString("<html><body><h1>Deals</h1>")
	for i := range 8000 {
		fmt.Fprintf(&b, `<a href="https://www.amazon.com/dp/B%07d?tag=deals-20">item %d</a>`+"\n", i, i)
	}
	b.WriteString("</body></html>")
	body := b.String()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) }))
	defer srv.Close()
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf(`
crawl: {delay: 0s, max_depth: 0, allow_private_addresses: true, max_links: 5000}
programs: [{id: acme}]
affiliates: [{id: deals, program: acme, sites: [%q]}]
`, srv.URL+"/"))
	code, out, errOut := runCLI(t, "scan", "--config", cfg)
	if code != exitViolations {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if lines := strings.Count(out, "\n"); lines > 40 {
		t.Errorf("the scan printed %d lines for one page", lines)
	}
	st := openDB(t, dir)
	ctx := context.Background()
	vs, _ := st.Violations(ctx, affwatch.ViolationFilter{})
	if len(vs) > 5 {
		t.Fatalf("%d violations from one page", len(vs))
	}
	var folded bool
	for _, v := range vs {
		if v.RuleID == "LINK-001" {
			folded = v.Evidence.Key == rules.FoldedKey && v.Evidence.Numbers["findings"] == 5000
		}
	}
	if !folded {
		t.Errorf("no LINK-001 violation counting the 5000 judged links: %+v", vs)
	}
	scans, _ := st.Scans(ctx, 1)
	pages, _ := st.Pages(ctx, scans[0].ID)
	if len(pages) != 1 || len(pages[0].Links) != 5000 || pages[0].LinksDropped != 3000 {
		t.Fatalf("the page: %d links kept, %d dropped; want 5000 and 3000", len(pages[0].Links), pages[0].LinksDropped)
	}
}

// Issue 11.9, for detect as for scan: a detector run while another holds the detect lock
// says who holds it and exits 4, and records nothing.
func TestDetectTakesTheDetectLock(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "programs: [{id: acme}]\n")
	st := openDB(t, dir)
	if err := st.Lock(context.Background(), "job:detect", "affwatch serve (pid 1 on another-host, since 2026-11-26T00:00:00Z)", time.Hour); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "detect", "--config", cfg)
	if code != exitFailed || !strings.Contains(errOut, "another detect is running") || !strings.Contains(errOut, "another-host") {
		t.Fatalf("exit %d, want 4 naming the holder\n%s%s", code, out, errOut)
	}
	if scans, _ := st.Scans(context.Background(), 5); len(scans) != 0 {
		t.Fatalf("a refused detector run recorded %+v", scans)
	}
	st.Unlock(context.Background(), "job:detect", "affwatch serve (pid 1 on another-host, since 2026-11-26T00:00:00Z)")
	if code, out, errOut := runCLI(t, "detect", "--config", cfg); code != exitOK {
		t.Fatalf("once free: exit %d\n%s%s", code, out, errOut)
	}
}

// Tried as a new user would: a coupon date that does not parse turned COUPON-002 off for
// the code, silently; retries: 0 still retried twice; a negative count did not name its key.
func TestConfigValuesThatUsedToPassSilently(t *testing.T) {
	cases := []struct{ name, body, want string }{
		{"coupon date", "programs: [{id: acme, coupons: [{code: BREW20, valid_until: \"2026-02-31\"}]}]\n", "programs[0].coupons[0].valid_until: \"2026-02-31\" is not a date"},
		{"coupon dates reversed", "programs: [{id: acme, coupons: [{code: BREW20, valid_from: 2026-03-01, valid_until: 2026-02-01}]}]\n", "valid_until: 2026-02-01 comes before valid_from"},
		{"negative count", "crawl: {max_pages: -5}\nprograms: [{id: acme}]\n", "crawl.max_pages: -5: cannot be negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := writeConfig(t, t.TempDir(), c.body)
			code, out, errOut := runCLI(t, "scan", "--config", cfg)
			if code != exitError || !strings.Contains(errOut, c.want) {
				t.Fatalf("exit %d, want 2 saying %q\n%s%s", code, c.want, out, errOut)
			}
		})
	}
	t.Run("retries 0 asks once", func(t *testing.T) {
		var asked atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/" {
				asked.Add(1)
			}
			w.WriteHeader(http.StatusServiceUnavailable)
		}))
		defer srv.Close()
		cfg := writeConfig(t, t.TempDir(), fmt.Sprintf(`
crawl: {delay: 0s, max_depth: 0, allow_private_addresses: true, retries: 0, retry_backoff: 10ms}
programs: [{id: acme}]
affiliates: [{id: deals, program: acme, sites: [%q]}]
`, srv.URL+"/"))
		runCLI(t, "scan", "--config", cfg)
		if n := asked.Load(); n != 1 {
			t.Fatalf("the page was asked %d times with retries: 0", n)
		}
	})
}

// Tried as a new user would: an empty config ran a scan that "succeeded" with 0 pages.
func TestScanOfNoAffiliatesIsAConfigError(t *testing.T) {
	cfg := writeConfig(t, t.TempDir(), "programs: [{id: acme}]\n")
	if code, out, errOut := runCLI(t, "scan", "--config", cfg); code != exitError || !strings.Contains(errOut, "lists no affiliates") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}

// Issue 12: a program's disabled_rules, severity_overrides and exceptions apply to
// detector findings too, not only to policy findings.
func TestProgramSettingsApplyToDetectorFindings(t *testing.T) {
	prog := affwatch.Program{ID: "acme", DisabledRules: []string{"FRAUD-BOT-001"},
		SeverityOverrides: map[string]affwatch.Severity{"FRAUD-INJ-001": affwatch.SeverityCritical},
		Exceptions:        []affwatch.Exception{{Rule: "FRAUD-TOD-001", Affiliate: "night-app", Reason: "a night-shift audience"}}}
	finding := func(rule, aff string) affwatch.Violation {
		return affwatch.NewViolation(affwatch.Finding{RuleID: rule, Severity: affwatch.SeverityHigh, Message: "m"}, affwatch.SourceDetector,
			affwatch.Affiliate{ID: aff, Program: "acme"}, "metric:"+rule)
	}
	vs := app.ApplyPrograms([]affwatch.Program{prog}, []affwatch.Violation{finding("FRAUD-BOT-001", "a"), finding("FRAUD-INJ-001", "a"),
		finding("FRAUD-TOD-001", "night-app"), finding("FRAUD-TOD-001", "b")}, time.Now())
	if len(vs) != 3 || vs[0].RuleID != "FRAUD-INJ-001" || vs[0].Severity != affwatch.SeverityCritical ||
		vs[1].State != affwatch.StateSuppressed || vs[1].SuppressReason != "a night-shift audience" || vs[2].State == affwatch.StateSuppressed {
		t.Fatalf("after the program's settings: %+v", vs)
	}
}
