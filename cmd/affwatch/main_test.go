package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/detectors"
	"github.com/affwatch/affwatch/fixtures"
	"github.com/affwatch/affwatch/internal/store"
)

// TestMain lets a test run the real command in a child process (to kill it mid-scan).
func TestMain(m *testing.M) {
	if os.Getenv("AFFWATCH_TEST_MAIN") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// runCLI runs the command in-process and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// onePage is the configuration of one affiliate, "deals", whose site is the one page at
// url, crawled at once (no delay, no links followed, retries 10 ms apart); extra is more
// top-level YAML.
func onePage(url, extra string) string {
	return fmt.Sprintf("crawl: {delay: 0s, max_depth: 0, allow_private_addresses: true, retry_backoff: 10ms}\n"+
		"programs: [{id: acme}]\naffiliates: [{id: deals, program: acme, sites: [%q]}]\n%s\n", url, extra)
}

func writeConfig(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "affwatch.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func openDB(t *testing.T, dir string) *store.DB {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "affwatch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// key is what a test says a violation is: rule, affiliate, page.
type key struct{ rule, affiliate, url string }

func keys(vs []affwatch.Violation) []key {
	var out []key
	for _, v := range vs {
		out = append(out, key{v.RuleID, v.AffiliateID, v.URL})
	}
	sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i]) < fmt.Sprint(out[j]) })
	return out
}

func TestScanFixtureSitesFindsExactlyTheViolations(t *testing.T) {
	srv, err := fixtures.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	cfg := writeConfig(t, dir, demoConfig(srv))

	code, out, errOut := runCLI(t, "scan", "--config", cfg)
	if code != exitViolations {
		t.Fatalf("exit %d, want %d (violations at or above high)\nstdout:\n%s\nstderr:\n%s", code, exitViolations, out, errOut)
	}
	vs, err := openDB(t, dir).Violations(context.Background(), affwatch.ViolationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	want := []key{
		{"DISC-001", "deal-hunter", srv.URL("deal-hunter")},
		{"DISC-002", "late-disclosure", srv.URL("late-disclosure")},
		{"STUFF-001", "stuffer", srv.URL("stuffer")}, // the one-pixel CJ image
		{"STUFF-001", "stuffer", srv.URL("stuffer")}, // the iframe in a display:none div
	}
	sort.Slice(want, func(i, j int) bool { return fmt.Sprint(want[i]) < fmt.Sprint(want[j]) })
	if got := keys(vs); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("violations:\n got %v\nwant %v", got, want)
	}
	for _, v := range vs {
		if v.AffiliateID == "good-reviews" {
			t.Errorf("compliant site flagged: %+v", v)
		}
		if v.State != affwatch.StateNew {
			t.Errorf("%s on first scan is %s, want new", v.RuleID, v.State)
		}
	}
	if !strings.Contains(out, "DISC-001") || !strings.Contains(out, "deal-hunter") {
		t.Errorf("summary does not list the violations:\n%s", out)
	}

	// --fail-on critical still fails (cookie stuffing is critical); a threshold nothing
	// reaches would pass, which the compliant-only config below shows.
	if code, _, _ := runCLI(t, "scan", "--config", cfg, "--fail-on", "critical"); code != exitViolations {
		t.Errorf("--fail-on critical: exit %d, want %d", code, exitViolations)
	}
	good := writeConfig(t, t.TempDir(), fmt.Sprintf(`
crawl: {delay: 0s, allow_private_addresses: true}
programs: [{id: acme}]
affiliates: [{id: good-reviews, program: acme, sites: [%q]}]
`, srv.URL("good-reviews")))
	code, out, _ = runCLI(t, "scan", "--config", good)
	if code != exitOK || !strings.Contains(out, "no violations") || !strings.Contains(out, "2 pages (2 verified") {
		t.Errorf("compliant site: exit %d, output:\n%s", code, out)
	}
}

// page serves HTML that a test can change between scans, or make fail.
type page struct {
	body   atomic.Value // string
	status atomic.Int32
}

func (p *page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/robots.txt" {
		http.NotFound(w, r)
		return
	}
	if s := p.status.Load(); s != 0 && s != 200 {
		w.WriteHeader(int(s))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, p.body.Load())
}

const undisclosed = `<html><body><h1>Deals</h1><p><a href="https://www.amazon.com/dp/B01?tag=deals-20" rel="sponsored">Buy</a></p></body></html>`
const disclosed = `<html><body><p>We earn a commission from qualifying purchases.</p><h1>Deals</h1><p><a href="https://www.amazon.com/dp/B01?tag=deals-20" rel="sponsored">Buy</a></p></body></html>`

func TestViolationLifecycleAcrossScans(t *testing.T) {
	p := &page{}
	p.body.Store(undisclosed)
	srv := httptest.NewServer(p)
	defer srv.Close()
	dir := t.TempDir()
	cfg := writeConfig(t, dir, onePage(srv.URL+"/", ""))
	st := openDB(t, dir)
	ctx := context.Background()
	state := func(step string) []affwatch.Violation {
		t.Helper()
		vs, err := st.Violations(ctx, affwatch.ViolationFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 1 {
			t.Fatalf("%s: %d violations, want exactly 1: %v", step, len(vs), keys(vs))
		}
		return vs
	}
	scan := func(wantCode int) {
		t.Helper()
		if code, out, errOut := runCLI(t, "scan", "--config", cfg); code != wantCode {
			t.Fatalf("scan exit %d, want %d\n%s%s", code, wantCode, out, errOut)
		}
	}

	scan(exitViolations)
	if v := state("first scan"); v[0].State != affwatch.StateNew || v[0].RuleID != "DISC-001" {
		t.Fatalf("first scan: %+v", v[0])
	}
	scan(exitViolations)
	first := state("second scan")[0]
	if first.State != affwatch.StateOpen || first.FirstScan == first.LastScan {
		t.Fatalf("second scan: state %s, scans %d..%d; want open across two scans", first.State, first.FirstScan, first.LastScan)
	}

	p.status.Store(503) // the page cannot be verified: nothing is resolved, and the scan failed
	scan(exitFailed)
	if v := state("failed fetch"); v[0].State != affwatch.StateOpen {
		t.Fatalf("a failed fetch changed the violation to %s", v[0].State)
	}

	p.status.Store(200)
	p.body.Store(disclosed) // the partner fixed the page
	scan(exitOK)
	if v := state("fixed page"); v[0].State != affwatch.StateResolved || v[0].ResolvedAt.IsZero() {
		t.Fatalf("fixed page: %+v, want resolved", v[0])
	}

	p.body.Store(undisclosed) // and broke it again
	scan(exitViolations)
	if v := state("broken again"); v[0].State != affwatch.StateReopened || v[0].Fingerprint != first.Fingerprint {
		t.Fatalf("broken again: %+v, want the same violation reopened", v[0])
	}
}

// slowFarm serves an index linking to n pages, each slow and each with an undisclosed
// affiliate link.
func slowFarm(n int, delay time.Duration) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			http.NotFound(w, r)
			return
		}
		time.Sleep(delay)
		w.Header().Set("Content-Type", "text/html")
		var b strings.Builder
		fmt.Fprintf(&b, `<html><body><h1>%s</h1><p><a href="https://www.amazon.com/dp/B%s?tag=farm-20" rel="sponsored">Buy</a></p>`, r.URL.Path, r.URL.Path)
		if r.URL.Path == "/" {
			for i := range n {
				fmt.Fprintf(&b, `<a href="/p%d.html">page %d</a> `, i, i)
			}
		}
		b.WriteString("</body></html>")
		fmt.Fprint(w, b.String())
	}))
}

func TestKilledScanLosesNothingAndDuplicatesNothing(t *testing.T) {
	const pages = 40
	srv := slowFarm(pages, 60*time.Millisecond)
	defer srv.Close()
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf(`
crawl: {delay: 0s, parallelism: 1, max_depth: 1, max_pages: 100, allow_private_addresses: true}
programs: [{id: acme}]
affiliates: [{id: farm, program: acme, sites: [%q]}]
`, srv.URL+"/"))

	child := exec.Command(os.Args[0], "scan", "--config", cfg)
	child.Env = append(os.Environ(), "AFFWATCH_TEST_MAIN=1")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(dir, "affwatch.db")
	var saved int
	deadline := time.Now().Add(20 * time.Second)
	for saved < 8 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		saved = countPages(dbPath)
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	saved = countPages(dbPath)
	if saved < 8 || saved >= pages+1 {
		t.Fatalf("killed after %d pages; the test wants a scan killed midway", saved)
	}

	st := openDB(t, dir)
	ctx := context.Background()
	before, err := st.Violations(ctx, affwatch.ViolationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(before) != saved {
		t.Fatalf("%d pages saved but %d violations: pages and violations must be saved together", saved, len(before))
	}

	if code, out, errOut := runCLI(t, "scan", "--config", cfg); code != exitViolations {
		t.Fatalf("rescan exit %d\n%s%s", code, out, errOut)
	}
	scans, err := st.Scans(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(scans) != 2 || scans[1].Status != affwatch.ScanFailed || scans[0].Status != affwatch.ScanSucceeded {
		t.Fatalf("scans after the kill and a rescan: %+v", scans)
	}
	if scans[1].Counts.Pages != saved {
		t.Errorf("the killed scan kept %d pages, want %d", scans[1].Counts.Pages, saved)
	}
	after, err := st.Violations(ctx, affwatch.ViolationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != pages+1 {
		t.Fatalf("%d violations after rescan, want one per page (%d)", len(after), pages+1)
	}
	seenBefore := map[string]bool{}
	for _, v := range before {
		seenBefore[v.Fingerprint] = true
	}
	for _, v := range after {
		want := affwatch.StateNew
		if seenBefore[v.Fingerprint] {
			want = affwatch.StateOpen
		}
		if v.State != want {
			t.Errorf("%s: state %s, want %s", v.URL, v.State, want)
		}
	}
	var dupNew int
	if err := st.DB().QueryRow(`SELECT count(*) FROM (SELECT fingerprint FROM violation_events WHERE to_state = 'new'
		GROUP BY fingerprint HAVING count(*) > 1)`).Scan(&dupNew); err != nil {
		t.Fatal(err)
	}
	if dupNew != 0 {
		t.Errorf("%d violations were recorded as new twice", dupNew)
	}
}

func countPages(dbPath string) int {
	db, err := sql.Open("sqlite3", "file:"+dbPath+"?mode=ro&_busy_timeout=2000")
	if err != nil {
		return 0
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM pages`).Scan(&n); err != nil {
		return 0
	}
	return n
}

// goTypeName finds Go and YAML type names in a message meant for people.
var goTypeName = regexp.MustCompile(`\b(main|affwatch|detectors)\.[A-Z]|[A-Z][a-z]+Config\b|!!|\b(u?int(64)?|float64|bool)\b|\[\]|map\[`)

func TestBadConfigNamesKeyLineAndPath(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, body string
		want       []string
	}{
		{"unknown key", "crawl:\n  delay: 1s\n  colour: red\n", []string{"line 3", "unknown key colour"}},
		{"wrong type", "crawl:\n  max_depth: deep\n", []string{"line 2", "crawl.max_depth", `"deep" is not a whole number`}},
		{"mapping wanted", "store: affwatch.db\n", []string{"line 1", "store", "want a mapping"}},
		{"unknown store key", "store:\n  path: x.db\n", []string{"line 2", "store: unknown key path"}},
		{"list wanted", "programs: [{id: acme, brand_terms: Acme}]\n", []string{"line 1", "programs[0].brand_terms", "want a list"}},
		{"bad duration", "crawl:\n  delay: soon\n", []string{"line 2", `"soon" is not a duration`}},
		{"secret in file", "smtp:\n  password: hunter2\n", []string{"line 2", "password_env"}},
		{"unknown program", "programs: [{id: acme}]\naffiliates:\n  - id: a\n    program: acm\n", []string{"line 4", "affiliates[0].program", `unknown program "acm"`}},
		{"bad severity", "fail_on: urgent\n", []string{"line 1", "fail_on", "urgent"}},
		{"bad cron", "schedule:\n  scan: \"every night\"\n", []string{"line 2", "schedule.scan"}},
		{"bad threshold", "detect:\n  thresholds:\n    alpha: 2\n", []string{"line 2", "detect.thresholds", "alpha must be between 0 and 1"}},
		{"unknown threshold", "detect:\n  thresholds:\n    alpah: 0.1\n", []string{"line 3", "unknown key alpah"}},
		{"unknown column", "ingest:\n  clicks: {clik_id: id}\n", []string{"line 2", "ingest.clicks", `"clik_id" is not a clicks column`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml")
			if err := os.WriteFile(p, []byte(tc.body), 0o644); err != nil {
				t.Fatal(err)
			}
			code, _, errOut := runCLI(t, "scan", "--config", p)
			if code != exitError {
				t.Fatalf("exit %d, want %d", code, exitError)
			}
			for _, w := range append(tc.want, p) {
				if !strings.Contains(errOut, w) {
					t.Errorf("error %q does not mention %q", errOut, w)
				}
			}
			// People read these: no Go type names.
			msg := strings.ReplaceAll(errOut, p, "")
			if m := goTypeName.FindString(msg); m != "" {
				t.Errorf("error %q shows a Go type name (%q)", errOut, m)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		p := filepath.Join(dir, "nope.yaml")
		code, _, errOut := runCLI(t, "scan", "--config", p)
		if code != exitError || !strings.Contains(errOut, p) || !strings.Contains(errOut, "affwatch init") {
			t.Fatalf("exit %d, stderr %q; want exit 2 naming %s and suggesting affwatch init", code, errOut, p)
		}
	})
}

// Program settings name rules and affiliates that must exist: a rule id is a policy's or a
// detector's (known once the policies are loaded), an exception's affiliate is configured,
// and a url_glob is matched against whole page URLs. Each mistake is a config error with
// the file, the line and the key; the scan does not start.
func TestProgramSettingsNameRulesAndAffiliatesThatExist(t *testing.T) {
	p := &page{}
	p.body.Store(undisclosed)
	srv := httptest.NewServer(p)
	defer srv.Close()
	dir := t.TempDir()
	conf := func(program string) string {
		return fmt.Sprintf("crawl: {delay: 0s, max_depth: 0, allow_private_addresses: true}\nprograms:\n  - id: acme\n%s"+
			"affiliates: [{id: deals, program: acme, sites: [%q]}]\n", program, srv.URL+"/")
	}
	cases := []struct {
		name, program string
		want          []string
	}{
		{"disabled rule", "    disabled_rules: [LINK-001, DISC-01]\n", []string{"line 4", "programs[0].disabled_rules[1]", `unknown rule "DISC-01"`}},
		{"severity override", "    severity_overrides:\n      DISC-001: low\n      DISK-002: low\n", []string{"line 6", "programs[0].severity_overrides.DISK-002", `unknown rule "DISK-002"`}},
		{"exception rule", "    exceptions:\n      - {rule: STUF-001, reason: agreed}\n", []string{"line 5", "programs[0].exceptions[0].rule", `unknown rule "STUF-001"`}},
		{"exception affiliate", "    exceptions:\n      - rule: DISC-001\n        affiliate: deal\n", []string{"line 6", "programs[0].exceptions[0].affiliate", `unknown affiliate "deal"`}},
		{"url glob", "    exceptions:\n      - {rule: DISC-001, url_glob: \"deals.example/*\"}\n", []string{"line 5", "programs[0].exceptions[0].url_glob", "http"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml")
			if err := os.WriteFile(cfg, []byte(conf(tc.program)), 0o644); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := runCLI(t, "scan", "--config", cfg)
			if code != exitError {
				t.Fatalf("exit %d, want %d\n%s%s", code, exitError, out, errOut)
			}
			for _, w := range append(tc.want, cfg) {
				if !strings.Contains(errOut, w) {
					t.Errorf("error %q does not mention %q", errOut, w)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "affwatch.db")); err == nil {
				t.Errorf("the scan ran")
			}
		})
	}
	// Policy and detector rule ids, "*", a known affiliate and a URL glob are all fine.
	cfg := writeConfig(t, t.TempDir(), conf("    disabled_rules: [LINK-001, FRAUD-BOT-001]\n    severity_overrides: {FRAUD-IP-001: low, DISC-001: low}\n"+
		"    exceptions:\n      - {rule: \"*\", affiliate: deals, url_glob: \"http://*/nothing\", reason: agreed}\n      - {rule: FRAUD-SPAM-001, reason: agreed}\n"))
	if code, out, errOut := runCLI(t, "scan", "--config", cfg); code != exitOK {
		t.Fatalf("valid program settings: exit %d\n%s%s", code, out, errOut)
	}
}

// A suppression until a date already past would be lifted at once: it is refused.
func TestSuppressUntilAPastDateIsRefused(t *testing.T) {
	p := &page{}
	p.body.Store(undisclosed)
	srv := httptest.NewServer(p)
	defer srv.Close()
	dir := t.TempDir()
	cfg := writeConfig(t, dir, onePage(srv.URL+"/", ""))
	runCLI(t, "scan", "--config", cfg)
	st := openDB(t, dir)
	vs, err := st.Violations(context.Background(), affwatch.ViolationFilter{RuleID: "DISC-001"})
	if err != nil || len(vs) != 1 {
		t.Fatalf("want DISC-001 on the page: %v %v", vs, err)
	}
	yesterday := time.Now().AddDate(0, 0, -1).Format("2006-01-02")
	for _, until := range []string{"2020-01-01", yesterday, time.Now().Add(-time.Hour).Format(time.RFC3339)} {
		code, _, errOut := runCLI(t, "violations", "suppress", vs[0].Fingerprint, "--config", cfg, "--by", "alice", "--reason", "later", "--until", until)
		if code != exitError || !strings.Contains(errOut, "past") {
			t.Errorf("--until %s: exit %d %q, want %d saying it is past", until, code, errOut, exitError)
		}
	}
	if v, _ := st.Violation(context.Background(), vs[0].Fingerprint); v.State != affwatch.StateNew {
		t.Errorf("the violation is %s after refused suppressions", v.State)
	}
	// Today still counts (the whole day), and so does a later time.
	today := time.Now().Format("2006-01-02")
	if code, _, errOut := runCLI(t, "violations", "suppress", vs[0].Fingerprint, "--config", cfg, "--by", "alice", "--reason", "today", "--until", today); code != exitOK {
		t.Errorf("--until today: exit %d %q", code, errOut)
	}
}

func TestInitWritesAConfigThatLoads(t *testing.T) {
	p := filepath.Join(t.TempDir(), "affwatch.yaml")
	if code, _, errOut := runCLI(t, "init", p); code != exitOK {
		t.Fatalf("init: %s", errOut)
	}
	cfg, err := LoadConfig(p)
	if err != nil {
		t.Fatalf("the starter config does not load: %v", err)
	}
	// The starter documents the detector defaults; it must say what the code does.
	if cfg.Detect.Thresholds != detectors.DefaultThresholds() {
		t.Errorf("starter thresholds %+v differ from the defaults %+v", cfg.Detect.Thresholds, detectors.DefaultThresholds())
	}
	if code, _, errOut := runCLI(t, "init", p); code != exitError || !strings.Contains(errOut, "exists") {
		t.Fatalf("init over an existing file: exit %d %q", code, errOut)
	}
}

func TestDemoRunsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCLI(t, "demo", "--dir", dir)
	if code != exitOK {
		t.Fatalf("demo exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"DISC-001", "DISC-002", "STUFF-001", "240 loaded", "reports written"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	html, err := os.ReadFile(filepath.Join(dir, "reports", "report-bob@acme.example.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(html, []byte("Cookie stuffing")) || bytes.Contains(html, []byte("deal-hunter")) {
		t.Errorf("bob's report should list his affiliates' violations only")
	}
}

// A policy file that breaks between two scans is left out: the other rules still run and
// their findings are kept, the broken rule's violations stay open (it judged nothing), and
// the scan is partial (exit 3, recorded so) naming the file.
func TestBrokenPolicyFileDoesNotStopTheScan(t *testing.T) {
	p := &page{}
	p.body.Store(undisclosed)
	srv := httptest.NewServer(p)
	defer srv.Close()
	dir := t.TempDir()
	rule := filepath.Join(dir, "house", "title", "rule.rego")
	if err := os.MkdirAll(filepath.Dir(rule), 0o755); err != nil {
		t.Fatal(err)
	}
	good := "# METADATA\n# title: Page titled Deals\n# custom:\n#   id: HOUSE-001\n#   severity: low\npackage affwatch.rules.house.title\n\n" +
		"deny contains {\"msg\": \"titled deals\", \"evidence\": {\"key\": \"title\"}} if input.text != \"\"\n"
	if err := os.WriteFile(rule, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, dir, onePage(srv.URL+"/", "policies: {dirs: [house]}"))
	if code, out, errOut := runCLI(t, "scan", "--config", cfg); code != exitViolations {
		t.Fatalf("scan with good policies: exit %d\n%s%s", code, out, errOut)
	}

	// The author saves a half-edited rule; the page is also fixed, so DISC-001 resolves.
	if err := os.WriteFile(rule, []byte(good+"\ndeny contains f if {\n  f := \n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.body.Store(disclosed)
	code, out, errOut := runCLI(t, "scan", "--config", cfg)
	if code != exitPartial {
		t.Fatalf("scan with a broken policy: exit %d, want %d (partial)\n%s%s", code, exitPartial, out, errOut)
	}
	if !strings.Contains(errOut, "house/title/rule.rego:") {
		t.Errorf("the error does not name the broken file and line:\n%s", errOut)
	}
	st := openDB(t, dir)
	scans, err := st.Scans(context.Background(), 1)
	if err != nil || scans[0].Status != affwatch.ScanPartial || !strings.Contains(scans[0].Error, "house/title/rule.rego") {
		t.Errorf("the scan with a broken policy file is recorded as %+v (%v), want partial naming the file", scans, err)
	}
	vs, err := st.Violations(context.Background(), affwatch.ViolationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]affwatch.State{}
	for _, v := range vs {
		states[v.RuleID] = v.State
	}
	if states["DISC-001"] != affwatch.StateResolved {
		t.Errorf("DISC-001 is %s: the built-in rules did not judge the fixed page", states["DISC-001"])
	}
	if states["HOUSE-001"] != affwatch.StateNew {
		t.Errorf("HOUSE-001 is %s: a rule that could not be loaded changed its violation", states["HOUSE-001"])
	}
}

// The fraud workflow from the command line: generate a program, ingest it (gzip CSV, a
// column mapping, a bad row written to the reject file), detect, and list what was flagged.
func TestEventsGenerateIngestDetect(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, `
programs: [{id: synthetic}]
ingest:
  conversions: {conversion_id: id}
detect: {thresholds: {alpha: 0.01}}
`)
	gen := filepath.Join(dir, "gen")
	code, out, errOut := runCLI(t, "events", "generate", "--seed", "3", "--out", gen, "--affiliates", "120", "--fraud-per-pattern", "3",
		"--days", "28", "--clicks-per-day", "60", "--end", "2026-11-01T00:00:00Z")
	if code != exitOK || !strings.Contains(out, "120 labels (27 fraudulent affiliates)") {
		t.Fatalf("generate: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "ingest", "clicks", "--config", cfg, filepath.Join(gen, "clicks.csv.gz")); code != exitOK || !strings.Contains(out, "0 rejected") {
		t.Fatalf("ingest clicks: exit %d\n%s%s", code, out, errOut)
	}
	// The same conversions under another export's column name, plus one broken row.
	conv := filepath.Join(dir, "conv.csv")
	raw, err := exec.Command("sh", "-c", "zcat "+filepath.Join(gen, "conversions.csv.gz")+" | sed '1s/^conversion_id/id/'").Output()
	if err != nil {
		t.Fatal(err)
	}
	raw = append(raw, []byte("v-bad,,not-a-time,aff-0001,o,1,EUR,1,approved\n")...)
	if err := os.WriteFile(conv, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, "ingest", "conversions", "--config", cfg, conv)
	if code != exitPartial || !strings.Contains(out, "1 rejected") || !strings.Contains(errOut, "1 rejected or conflicting row(s) written to") {
		t.Fatalf("ingest conversions: exit %d\n%s%s", code, out, errOut)
	}
	rejects, err := os.ReadFile(filepath.Join(dir, "conversions-rejects.csv"))
	lines := strings.Count(string(raw), "\n")
	if err != nil || !strings.Contains(string(rejects), fmt.Sprintf("%s,%d,", conv, lines)) || !strings.Contains(string(rejects), "is not a timestamp") {
		t.Fatalf("reject file does not name the file and line %d: %q %v", lines, rejects, err)
	}

	if code, out, errOut := runCLI(t, "detect", "--config", cfg, "--end", "2026-11-01T00:00:00Z"); code != exitOK {
		t.Fatalf("detect: exit %d\n%s%s", code, out, errOut)
	}
	vs, err := openDB(t, dir).Violations(context.Background(), affwatch.ViolationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	labels, err := os.ReadFile(filepath.Join(gen, "labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string]bool{}
	for _, v := range vs {
		rules[v.RuleID] = true
		if !strings.Contains(string(labels), v.AffiliateID+",synthetic,") || strings.Contains(string(labels), v.AffiliateID+",synthetic,clean") {
			t.Errorf("a clean affiliate was flagged: %s %s", v.AffiliateID, v.Message)
		}
		if v.Evidence.Numbers == nil || v.Message == "" {
			t.Errorf("%s on %s carries no numbers", v.RuleID, v.AffiliateID)
		}
	}
	for _, want := range []string{"FRAUD-SPAM-001", "FRAUD-INJ-001", "FRAUD-BOT-001", "FRAUD-TOD-001", "FRAUD-IP-001", "FRAUD-INT-001"} {
		if !rules[want] {
			t.Errorf("%s flagged nothing; flagged: %v", want, rules)
		}
	}
}

// A manager suppresses one violation and acknowledges another by hand: both hold across
// rescans (neither comes back as open, the suppressed one is not resolved behind the
// manager's back), `show` tells their history, and `reopen` lifts them.
func TestSuppressAckAndShowAcrossScans(t *testing.T) {
	p := &page{}
	p.body.Store(`<html><body><h1>Deals</h1><p><a href="https://www.amazon.com/dp/B01?tag=deals-20">Buy</a></p></body></html>`)
	srv := httptest.NewServer(p)
	defer srv.Close()
	dir := t.TempDir()
	cfg := writeConfig(t, dir, onePage(srv.URL+"/", ""))
	runCLI(t, "scan", "--config", cfg)
	st := openDB(t, dir)
	ctx := context.Background()
	fp := map[string]string{}
	vs, _ := st.Violations(ctx, affwatch.ViolationFilter{})
	for _, v := range vs {
		fp[v.RuleID] = v.Fingerprint
	}
	if fp["DISC-001"] == "" || fp["LINK-001"] == "" {
		t.Fatalf("want DISC-001 and LINK-001 on the page, got %v", keys(vs))
	}
	if code, _, errOut := runCLI(t, "violations", "suppress", fp["LINK-001"][:10], "--config", cfg, "--by", "alice@acme.example",
		"--reason", "partner is fixing the theme", "--until", "2099-01-01"); code != exitOK {
		t.Fatalf("suppress: %s", errOut)
	}
	if code, _, errOut := runCLI(t, "violations", "ack", fp["DISC-001"], "--config", cfg, "--by", "alice@acme.example", "--note", "emailed partner"); code != exitOK {
		t.Fatalf("ack: %s", errOut)
	}
	if code, _, errOut := runCLI(t, "violations", "suppress", fp["LINK-001"], "--config", cfg); code != exitError || !strings.Contains(errOut, "reason") {
		t.Errorf("a suppression without a reason: exit %d %q", code, errOut)
	}

	runCLI(t, "scan", "--config", cfg) // both still on the page
	state := func(rule string) affwatch.State {
		v, err := st.Violation(ctx, fp[rule])
		if err != nil {
			t.Fatal(err)
		}
		return v.State
	}
	if state("LINK-001") != affwatch.StateSuppressed || state("DISC-001") != affwatch.StateAcknowledged {
		t.Fatalf("after a rescan: LINK-001 %s, DISC-001 %s", state("LINK-001"), state("DISC-001"))
	}
	// The filters find them by state, severity, recency and rule.
	code, out, _ := runCLI(t, "violations", "list", "--config", cfg, "--state", "suppressed,acknowledged", "--severity", "low", "--since", "1h")
	if code != exitOK || !strings.Contains(out, "suppressed") || !strings.Contains(out, "acknowledged") {
		t.Errorf("list by state: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "violations", "list", "--config", cfg, "--rule", "DISC-001", "--format", "json")
	var listed []affwatch.Violation
	if code != exitOK || json.Unmarshal([]byte(out), &listed) != nil || len(listed) != 1 || listed[0].RuleID != "DISC-001" {
		t.Errorf("list by rule: exit %d\n%s", code, out)
	}

	code, out, _ = runCLI(t, "violations", "show", fp["LINK-001"], "--config", cfg)
	for _, want := range []string{"suppressed by alice@acme.example: partner is fixing the theme (until 2099-01-01", "new -> suppressed", "- -> new"} {
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}

	if code, _, errOut := runCLI(t, "violations", "reopen", fp["LINK-001"], "--config", cfg, "--by", "alice@acme.example"); code != exitOK {
		t.Fatalf("reopen: %s", errOut)
	}
	runCLI(t, "scan", "--config", cfg)
	if state("LINK-001") != affwatch.StateOpen {
		t.Errorf("after reopen and a rescan: %s", state("LINK-001"))
	}
	if code, _, errOut := runCLI(t, "violations", "show", "zzz", "--config", cfg); code != exitError || !strings.Contains(errOut, "hexadecimal") {
		t.Errorf("a bad fingerprint: exit %d %q", code, errOut)
	}
}

// etagPage serves one page with an ETag and answers a matching If-None-Match with 304.
type etagPage struct {
	body       atomic.Value // string
	full, n304 atomic.Int32
}

func (p *etagPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	body := p.body.Load().(string)
	etag := fmt.Sprintf(`"%x"`, len(body)*31+int(body[len(body)-10]))
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		if inm == etag {
			p.n304.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	p.full.Add(1)
	w.Header().Set("ETag", etag)
	w.Header().Set("Content-Type", "text/html")
	fmt.Fprint(w, body)
}

// A page that has not changed since the last scan is asked for conditionally; the 304 is
// judged from the stored snapshot, so its violation stays open instead of resolving.
func TestUnchangedPageIsNotFetchedAgainButStillSeen(t *testing.T) {
	p := &etagPage{}
	p.body.Store(undisclosed)
	srv := httptest.NewServer(p)
	defer srv.Close()
	dir := t.TempDir()
	cfg := writeConfig(t, dir, onePage(srv.URL+"/", ""))
	for range 2 {
		if code, out, errOut := runCLI(t, "scan", "--config", cfg); code != exitViolations {
			t.Fatalf("scan: exit %d\n%s%s", code, out, errOut)
		}
	}
	if p.full.Load() != 1 || p.n304.Load() != 1 {
		t.Fatalf("%d full responses and %d 304s, want 1 and 1", p.full.Load(), p.n304.Load())
	}
	st := openDB(t, dir)
	ctx := context.Background()
	vs, _ := st.Violations(ctx, affwatch.ViolationFilter{RuleID: "DISC-001"})
	if len(vs) != 1 || vs[0].State != affwatch.StateOpen {
		t.Fatalf("after an unchanged rescan: %+v, want DISC-001 open", vs)
	}
	scans, _ := st.Scans(ctx, 1)
	pages, _ := st.Pages(ctx, scans[0].ID)
	if len(pages) != 1 || pages[0].FetchStatus != affwatch.FetchNotModified || len(pages[0].Links) == 0 {
		t.Fatalf("the 304 page: %+v", pages)
	}
	// The partner changes the page: a full fetch, and the fix resolves the violation.
	p.body.Store(disclosed)
	runCLI(t, "scan", "--config", cfg)
	vs, _ = st.Violations(ctx, affwatch.ViolationFilter{RuleID: "DISC-001"})
	if p.full.Load() != 2 || vs[0].State != affwatch.StateResolved {
		t.Fatalf("after the change: %d full responses, DISC-001 %s", p.full.Load(), vs[0].State)
	}
}

// --progress always draws the scan's progress line and ends with the totals.
func TestScanProgress(t *testing.T) {
	srv := slowFarm(6, 5*time.Millisecond)
	defer srv.Close()
	cfg := writeConfig(t, t.TempDir(), fmt.Sprintf(`
crawl: {delay: 0s, max_depth: 1, allow_private_addresses: true}
programs: [{id: acme}]
affiliates: [{id: farm, program: acme, sites: [%q]}]
`, srv.URL+"/"))
	code, _, errOut := runCLI(t, "scan", "--config", cfg, "--progress", "always")
	if code != exitViolations {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if !strings.Contains(errOut, "scan: 7 pages done, 0 waiting, 0 not verified; affiliates 1/1 done\n") {
		t.Errorf("no final progress line:\n%q", errOut)
	}
	if code, _, errOut := runCLI(t, "scan", "--config", cfg, "--progress", "sometimes"); code != exitError || !strings.Contains(errOut, "--progress") {
		t.Errorf("a bad --progress: exit %d %q", code, errOut)
	}
}

func TestProgressLineNamesTheBusiestSites(t *testing.T) {
	p := newProgress(io.Discard, 3)
	p.update("a", 5, 10, 1)
	p.update("b", 0, 4, 0)
	p.update("c", 9, 2, 2)
	want := "scan: 16 pages done, 14 waiting, 3 not verified; affiliates 1/3 done · c 2 done/9 waiting/2 failed, a 10 done/5 waiting/1 failed"
	if got := p.line(3); got != want {
		t.Fatalf("line:\n got %q\nwant %q", got, want)
	}
}
