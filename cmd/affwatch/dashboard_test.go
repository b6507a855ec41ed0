package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/fixtures"
)

// evilPage is a partner page whose link text (the DISC-001 evidence) is markup, and whose
// own scripts try to reach the dashboard that shows its snapshot.
const evilPage = `<!doctype html><html><head><title>Evil deals</title>
<script>window.pwned = "snapshot"; try { parent.document.title = "pwned"; parent.pwned = "snapshot"; } catch (e) {}</script></head>
<body><h1>Deals of the day</h1><p>Our favourite grinder, at the best price this week, hand-picked for you.</p>
<p><a href="https://www.anrdoezrs.net/click-7654321-10998877?url=https%3A%2F%2Fshop.acme.example%2Fgrinder">&lt;script&gt;window.pwned="evidence";document.title="pwned"&lt;/script&gt;&lt;img src=x onerror="window.pwned='img';document.title='pwned'"&gt; Buy now</a></p>
<img src="x" onerror="window.pwned='snapshot-img'; try { parent.document.title='pwned' } catch (e) {}">
</body></html>`

// chromium is the browser the dashboard tests drive: Debian's, which .ci/run installs.
// Without it the test fails, never skips.
func chromium(t *testing.T) context.Context {
	t.Helper()
	const path = "/usr/bin/chromium"
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the dashboard's browser tests need Chromium at %s (apt-get install chromium; .ci/run does): %v", path, err)
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true), chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("hide-scrollbars", true), chromedp.Flag("mute-audio", true))
	t.Cleanup(cancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

// shots is where the tests keep their screenshots: AFFWATCH_SCREENSHOTS, or a temporary
// directory.
func shots(t *testing.T) string {
	if d := os.Getenv("AFFWATCH_SCREENSHOTS"); d != "" {
		os.MkdirAll(d, 0o755)
		return d
	}
	return t.TempDir()
}

// The dashboard in a real browser, against `affwatch serve` on loopback with a scanned
// fixture program: the email's link leads through sign-in to the violation, which is
// suppressed with a reason; the list filters; a manager gets 404 for another manager's
// affiliate and violation; a partner's markup in the evidence and in the snapshot runs
// nothing; a cross-origin post is refused; signing out ends the session.
func TestDashboardInABrowser(t *testing.T) {
	srv, err := fixtures.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dashAddr := freeAddr(t)
	dash := "http://" + dashAddr
	// The partner who tries to run script in the dashboard, and a page on another origin
	// that posts a change with the signed-in user's cookie.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.URL.Path == "/csrf" {
			fmt.Fprintf(w, `<html><body><form id="f" method="post" action="%s"><input name="action" value="suppress"><input name="reason" value="csrf"></form>
<script>document.getElementById("f").submit()</script></body></html>`, r.URL.Query().Get("target"))
			return
		}
		fmt.Fprint(w, evilPage)
	}))
	defer evil.Close()

	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf(`store: {dsn: affwatch.db}
crawl: {delay: 0s, max_depth: 1, max_pages: 20, request_timeout: 5s, allow_private_addresses: true}
report: {out_dir: reports, dashboard_url: %q}
programs: [{id: acme, name: Acme Coffee, brand_terms: [Acme], landing_domains: [shop.acme.example]}]
affiliates:
  - {id: good-reviews, name: Good Reviews, program: acme, manager: alice@acme.example, sites: [%q]}
  - {id: deal-hunter, name: Deal Hunter, program: acme, manager: alice@acme.example, sites: [%q]}
  - {id: late-disclosure, name: Bean Blog, program: acme, manager: bob@acme.example, sites: [%q]}
  - {id: stuffer, name: Coffee Tips, program: acme, manager: bob@acme.example, sites: [%q]}
  - {id: evil, name: Evil Deals, program: acme, manager: bob@acme.example, sites: [%q]}
`, dash, srv.URL("good-reviews"), srv.URL("deal-hunter"), srv.URL("late-disclosure"), srv.URL("stuffer"), evil.URL+"/"))
	if code, out, errOut := runCLI(t, "scan", "--config", cfg); code != exitViolations {
		t.Fatalf("scan: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "report", "--config", cfg); code != exitOK {
		t.Fatalf("report: exit %d %s", code, errOut)
	}
	t.Setenv(passwordEnv, "correct horse battery")
	for _, u := range [][]string{{"root", "admin", ""}, {"alice", "manager", "alice@acme.example"}, {"bob", "manager", "bob@acme.example"}} {
		args := []string{"users", "add", u[0], "--role", u[1], "--config", cfg}
		if u[2] != "" {
			args = append(args, "--manager", u[2])
		}
		if code, _, errOut := runCLI(t, args...); code != exitOK {
			t.Fatalf("users add %s: exit %d %s", u[0], code, errOut)
		}
	}
	// The link in alice's email.
	email, err := os.ReadFile(filepath.Join(dir, "reports", "report-alice@acme.example.html"))
	if err != nil {
		t.Fatal(err)
	}
	link := regexp.MustCompile(regexp.QuoteMeta(dash) + `/violations/[0-9a-f]{32}`).FindString(string(email))
	if link == "" {
		t.Fatalf("alice's report has no dashboard link:\n%s", email)
	}
	fp := link[strings.LastIndex(link, "/")+1:]

	child := exec.Command(os.Args[0], "serve", "--config", cfg, "--health", dashAddr)
	child.Env = append(os.Environ(), "AFFWATCH_TEST_MAIN=1")
	out := &strings.Builder{}
	child.Stdout, child.Stderr = out, out
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Signal(syscall.SIGTERM); child.Wait() })
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := http.Get(dash + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not answer: %v\n%s", err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}

	ctx := chromium(t)
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	dirShots := shots(t)
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v\n%s", what, err, out)
		}
	}
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("evaluate %s: %v", js, err)
		}
		return v
	}
	wait := func(what, js string) {
		t.Helper()
		// A poll does not survive a navigation: ask again until it holds.
		var err error
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			var ok bool
			if ok, err = chromedp.Run(ctx, chromedp.Evaluate[bool](js)); err == nil && ok {
				return
			}
		}
		t.Fatalf("waiting for %s (%s): %v\nat %s", what, js, err, eval("location.href"))
	}
	shot := func(name string) {
		t.Helper()
		wait("the page loaded", `document.readyState === "complete" && document.documentElement.scrollWidth > 0`)
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dirShots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	signIn := func(name string) {
		t.Helper()
		wait("the sign-in page", `location.pathname === "/login" && !!document.querySelector("#name")`)
		do("sign in as "+name, chromedp.SetValue("#name", name), chromedp.SetValue("#password", "correct horse battery"), chromedp.Click("#signin"))
		wait("signed in", `location.pathname !== "/login" && document.readyState === "complete"`)
	}

	// The email's link: sign in first, then the violation.
	do("open the email's link", chromedp.Navigate(link))
	signIn("alice")
	wait("the violation", `location.pathname === "/violations/`+fp+`" && !!document.querySelector("#state")`)
	if st := eval(`document.querySelector("#state").textContent`); st != "new" {
		t.Errorf("state %q, want new", st)
	}
	// Suppress it with a reason: the state and the history change.
	do("suppress", chromedp.SetValue("#suppress-reason", "partner fixed the page in their CMS"), chromedp.Click("#suppress"))
	wait("the suppression", `document.querySelector("#state") && document.querySelector("#state").textContent === "suppressed"`)
	if h := eval(`document.querySelector("#history").textContent`); !strings.Contains(h, "suppressed by alice: partner fixed the page in their CMS") {
		t.Errorf("history after suppressing: %s", h)
	}
	// Filter the list: high severity only.
	do("the list", chromedp.Navigate(dash+"/violations"))
	do("filter", chromedp.SetValue("#f-severity", "high"), chromedp.Click("#apply"))
	// the new address shows before its page is parsed: wait for the loaded list too
	wait("the filtered list", `location.search.includes("severity=high") && document.readyState === "complete" && !!document.querySelector("#violations tbody")`)
	sevs := eval(`Array.from(document.querySelectorAll("#violations tbody .sev")).map(e => e.textContent).join(",")`)
	if sevs == "" || strings.Trim(strings.ReplaceAll(sevs, "high", ""), ",") != "" {
		t.Errorf("severities after filtering on high: %q", sevs)
	}
	// Another manager's affiliate and violation do not exist for alice.
	stuffing, err := openDB(t, dir).Violations(context.Background(), affwatch.ViolationFilter{AffiliateIDs: []string{"stuffer"}})
	if err != nil || len(stuffing) == 0 {
		t.Fatalf("stuffer's violations: %v %v", stuffing, err)
	}
	for _, p := range []string{"/affiliates/stuffer", "/violations/" + stuffing[0].Fingerprint} {
		do("open "+p, chromedp.Navigate(dash+p))
		if h := eval(`document.querySelector("h1").textContent`); h != "404 Not Found" {
			t.Errorf("alice opening %s sees %q, want 404", p, h)
		}
	}
	// Signing out ends the session.
	do("sign out", chromedp.Navigate(dash+"/"), chromedp.Click("#signout"))
	wait("the sign-in page after signing out", `location.pathname === "/login"`)
	do("the list again", chromedp.Navigate(dash+"/violations"))
	wait("the sign-in page", `location.pathname === "/login"`)

	// The admin: every main page, for the screenshots.
	signIn("root")
	for _, p := range []struct{ name, path, ready string }{
		{"overview", "/", "svg.trend"}, {"violations", "/violations?state=active", "#violations"},
		{"violation", "/violations/" + stuffing[0].Fingerprint, "#history"}, {"affiliate", "/affiliates/stuffer", "h1"},
		{"scans", "/scans", "#scans"}, {"rules", "/rules", "#rules"},
	} {
		do(p.name, chromedp.Navigate(dash+p.path))
		wait(p.name, `!!document.querySelector("`+p.ready+`")`)
		shot(p.name)
	}
	do("the playground", chromedp.Navigate(dash+"/playground"),
		chromedp.SetValue("#html", `<p>Great grinder. <a href="https://www.anrdoezrs.net/click-7654321-10998877?url=https%3A%2F%2Fshop.acme.example%2F">Buy</a></p>`),
		chromedp.Click("#judge"))
	wait("findings", `!!document.querySelector("#findings") && document.querySelector("#findings").textContent.includes("DISC-001")`)
	shot("playground")

	// The partner's markup runs nowhere: not from the evidence, not from the snapshot.
	evilVs, _ := openDB(t, dir).Violations(context.Background(), affwatch.ViolationFilter{AffiliateIDs: []string{"evil"}, RuleID: "DISC-001"})
	if len(evilVs) != 1 {
		t.Fatalf("the evil page's DISC-001: %v", evilVs)
	}
	do("the evil violation", chromedp.Navigate(dash+"/violations/"+evilVs[0].Fingerprint))
	wait("the snapshot frame", `!!document.querySelector("#snapshot")`)
	time.Sleep(time.Second) // the frame loads and would run its scripts by now
	if ev := eval(`document.querySelector("#evidence").textContent`); !strings.Contains(ev, `<script>window.pwned="evidence"`) || !strings.Contains(ev, `<img src=x onerror=`) {
		t.Errorf("the evidence does not show the partner's markup as text: %q", ev)
	}
	if p := eval(`typeof window.pwned`); p != "undefined" {
		t.Errorf("the partner's payload ran in the dashboard: window.pwned is %s (%s)", p, eval(`String(window.pwned)`))
	}
	if title := eval(`document.title`); title != "affwatch · Violation" {
		t.Errorf("document.title is %q", title)
	}
	if n := eval(`String(document.querySelectorAll("#evidence script, #evidence img").length)`); n != "0" {
		t.Errorf("the evidence holds %s element(s) made from partner text", n)
	}
	shot("violation-evil")

	// A cross-origin post with the admin's cookie is refused, and changes nothing.
	target := dash + "/violations/" + stuffing[0].Fingerprint + "/change"
	do("the cross-origin form", chromedp.Navigate(evil.URL+"/csrf?target="+url.QueryEscape(target)))
	wait("the refusal", `location.href.startsWith("`+dash+`") && document.readyState === "complete"`)
	if body := eval(`document.body.innerText`); !strings.Contains(body, "403") || !strings.Contains(body, "cross-origin request refused") {
		t.Errorf("the cross-origin post got: %s", body)
	}
	after, _ := openDB(t, dir).Violations(context.Background(), affwatch.ViolationFilter{AffiliateIDs: []string{"stuffer"}})
	for _, v := range after {
		if v.State == affwatch.StateSuppressed {
			t.Errorf("a cross-origin post suppressed %s", v.Fingerprint)
		}
	}
	t.Logf("screenshots in %s", dirShots)
}

// serve keeps the dashboard on loopback unless told: an address other machines reach needs
// TLS or --insecure-http; on first start without users it says how to make the first admin.
func TestServeSafeDefaults(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, onePage("http://127.0.0.1:1/", ""))
	code, _, errOut := runCLI(t, "serve", "--config", cfg, "--health", "0.0.0.0:0")
	if code != exitError || !strings.Contains(errOut, "not loopback, without TLS") {
		t.Errorf("serve on 0.0.0.0 without TLS: exit %d %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, "serve", "--config", cfg, "--listen", "0.0.0.0:0", "--tls-cert", "x.pem"); code != exitError || !strings.Contains(errOut, "go together") {
		t.Errorf("--tls-cert without --tls-key: exit %d %s", code, errOut)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var out, errb strings.Builder
	if code := run(ctx, []string{"serve", "--config", cfg, "--health", "127.0.0.1:0"}, &out, &errb); code != exitOK {
		t.Fatalf("serve on loopback: exit %d %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "no dashboard user yet") || !strings.Contains(out.String(), "affwatch users add NAME --role admin") {
		t.Errorf("first start without users:\n%s", out.String())
	}
}
