package chrome

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/crawler"
	"github.com/affwatch/affwatch/fixtures"
	"github.com/affwatch/affwatch/policies"
	"github.com/affwatch/affwatch/rules"
)

// shared is the browser pool the tests of this package share (one per test binary).
var (
	shared *Browser
	srv    *fixtures.Server
)

// testConfig is a short budget, so the pages that never settle do not hold the tests.
func testConfig() Config {
	return Config{Tabs: 2, Timeout: 4 * time.Second, ReadTimeout: 2 * time.Second, AllowPrivate: true,
		Logger: slog.New(slog.DiscardHandler)}
}

func TestMain(m *testing.M) {
	if err := Check(os.Getenv("AFFWATCH_CHROMIUM")); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: the rendering tests need Chromium:", err)
		os.Exit(1)
	}
	var err error
	if srv, err = fixtures.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cfg := testConfig()
	cfg.ExecPath = os.Getenv("AFFWATCH_CHROMIUM")
	shared = New(cfg)
	code := m.Run()
	shared.Close()
	if left := leftovers(shared); len(left) > 0 {
		fmt.Fprintln(os.Stderr, "FAIL: chromium processes or profiles left after Close:", left)
		code = 1
	}
	srv.Close()
	os.Exit(code)
}

// leftovers lists what the pool's browsers left: live processes and profile directories.
func leftovers(b *Browser) []string {
	b.mu.Lock()
	dirs := slices.Clone(b.dirs)
	b.mu.Unlock()
	var out []string
	for _, d := range dirs {
		for _, pid := range processesUsing(d) {
			out = append(out, fmt.Sprintf("pid %d (%s)", pid, d))
		}
		if _, err := os.Stat(d); err == nil {
			out = append(out, "profile "+d)
		}
	}
	return out
}

// noClose keeps a crawler from closing the shared pool.
type noClose struct{ crawler.Renderer }

// crawlOne fetches one page with the crawler, rendered or not.
func crawlOne(t testing.TB, pageURL string, mode affwatch.RenderMode, r crawler.Renderer) affwatch.Page {
	t.Helper()
	prog := fixtures.Program()
	c := crawler.New(crawler.Config{AllowPrivate: true, MaxDepth: 0, NoSitemaps: true, Render: mode, Renderer: noClose{r}},
		[]affwatch.Program{prog})
	c.Logger = slog.New(slog.DiscardHandler)
	defer c.Close()
	var pages []affwatch.Page
	err := c.Crawl(context.Background(), affwatch.Affiliate{ID: "fixture", Program: prog.ID, Sites: []string{pageURL}}, func(s affwatch.Snapshot) error {
		pages = append(pages, s.Page)
		return nil
	})
	if err != nil || len(pages) != 1 {
		t.Fatalf("crawl %s: %v, %d pages", pageURL, err, len(pages))
	}
	return pages[0]
}

var (
	expectRendered = regexp.MustCompile(`<!--\s*expect-rendered:\s*([a-zA-Z0-9_ ,-]+?)\s*-->`)
	expectStatic   = regexp.MustCompile(`<!--\s*expect-static:\s*([a-zA-Z0-9_ ,-]+?)\s*-->`)
)

// TestRenderCases loads every page of fixtures/sites/render-cases twice, as the server sends
// it and rendered in Chromium, judges both with the default pack, and checks each against
// what the page says: rendering finds what the static scan cannot, and nothing else.
func TestRenderCases(t *testing.T) {
	prog := fixtures.Program()
	eng, err := rules.Load(context.Background(), []rules.Source{{Name: "policies", FS: policies.FS}}, rules.Options{Programs: []affwatch.Program{prog}})
	if err != nil {
		t.Fatal(err)
	}
	judge := func(t *testing.T, p affwatch.Page) string {
		if !p.FetchStatus.Verified() {
			return string(p.FetchStatus)
		}
		fs, err := eng.Evaluate(context.Background(), &p)
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		for _, f := range fs {
			ids[f.RuleID] = true
		}
		if len(ids) == 0 {
			return "none"
		}
		var out []string
		for id := range ids {
			out = append(out, id)
		}
		sort.Strings(out)
		return strings.Join(out, ",")
	}
	schemaRaw, err := fs.ReadFile(policies.FS, rules.PageSchemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var schema any
	json.Unmarshal(schemaRaw, &schema)
	matchSchema, err := rego.New(rego.Query("x := json.match_schema(input.page, input.schema)")).PrepareForEval(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// conforms checks a page against policies/schemas/page/page.schema.json, the contract the
	// policies are type-checked against.
	conforms := func(t *testing.T, p affwatch.Page) {
		b, _ := json.Marshal(p)
		var doc any
		json.Unmarshal(b, &doc)
		rs, err := matchSchema.Eval(context.Background(), rego.EvalInput(map[string]any{"page": doc, "schema": schema}))
		if err != nil || len(rs) != 1 {
			t.Fatal(err)
		}
		if res := rs[0].Bindings["x"].([]any); res[0] != true {
			t.Errorf("%s (%s) does not match the page schema: %v", p.URL, p.FetchStatus, res[1])
		}
	}
	entries, _ := fs.ReadDir(fixtures.Sites, "sites/render-cases")
	checked := 0
	for _, e := range entries {
		raw, _ := fs.ReadFile(fixtures.Sites, "sites/render-cases/"+e.Name())
		wantR, wantS := expectRendered.FindStringSubmatch(string(raw)), expectStatic.FindStringSubmatch(string(raw))
		if wantR == nil {
			continue
		}
		checked++
		t.Run(e.Name(), func(t *testing.T) {
			pageURL := srv.URL("render-cases") + e.Name()
			static := crawlOne(t, pageURL, affwatch.RenderNever, shared)
			if static.Rendered || len(static.Requests) != 0 {
				t.Errorf("static page says rendered %v with %d requests", static.Rendered, len(static.Requests))
			}
			start := time.Now()
			rendered := crawlOne(t, pageURL, affwatch.RenderAlways, shared)
			took := time.Since(start)
			conforms(t, static)
			conforms(t, rendered)
			if got := judge(t, static); wantS != nil && got != wantS[1] {
				t.Errorf("static: %s, want %s", got, wantS[1])
			}
			if got := judge(t, rendered); got != wantR[1] {
				t.Errorf("rendered: %s, want %s (fetch error %q)", got, wantR[1], rendered.FetchError)
				for _, r := range rendered.Requests {
					t.Logf("  request %+v", r)
				}
			}
			if rendered.FetchStatus.Verified() && !rendered.Rendered {
				t.Errorf("rendered page not marked rendered")
			}
			// Two tries of the budget, the time to read the DOM and a browser start each,
			// with room for a loaded machine: past it, a render hangs.
			if limit := 3 * (testConfig().Timeout + testConfig().ReadTimeout + 5*time.Second); took > limit {
				t.Errorf("took %s, more than %s", took, limit)
			}
			t.Logf("static %s, rendered %s in %s (%d requests)", judge(t, static), judge(t, rendered), took.Round(time.Millisecond), len(rendered.Requests))
		})
	}
	if checked < 7 {
		t.Errorf("only %d render cases", checked)
	}
}

// The evidence of stuffing by script is the request itself, seen though the click URL
// never answers (the tests have no outside network). (Chromium names an image that a
// script built after load as initiated by "other": it loads images off the script's stack.)
func TestStuffingRequestIsRecorded(t *testing.T) {
	p := crawlOne(t, srv.URL("render-cases")+"stuffed-image.html", affwatch.RenderAlways, shared)
	var hit *affwatch.PageRequest
	for i, r := range p.Requests {
		if r.Affiliate != nil {
			hit = &p.Requests[i]
		}
	}
	if hit == nil || hit.Type != "image" || hit.Initiator == "" || hit.Navigation || hit.InPage || hit.Affiliate.AffiliateID != "445566" ||
		hit.URL != "https://www.awin1.com/cread.php?awinmid=1001&awinaffid=445566" {
		t.Fatalf("the stuffed image request: %+v (all: %+v)", hit, p.Requests)
	}
	if len(p.Requests) == 0 || !p.Requests[0].Initial || !p.Requests[0].Navigation || p.Status != 200 {
		t.Errorf("the page's own navigation: %+v, status %d", p.Requests, p.Status)
	}

	tr := crawlOne(t, srv.URL("render-cases")+"timed-redirect.html", affwatch.RenderAlways, shared)
	var nav *affwatch.PageRequest
	for i, r := range tr.Requests {
		if r.Affiliate != nil {
			nav = &tr.Requests[i]
		}
	}
	if nav == nil || !nav.Navigation || nav.Initial || !nav.Blocked || nav.BlockedReason != "navigation" || nav.Affiliate.AffiliateID != "778899" {
		t.Fatalf("the timed redirect: %+v", nav)
	}
	// The page judged is the page that redirected, not the network's error page.
	if !strings.Contains(tr.Text, "Milk frothing tips") || tr.FinalURL != srv.URL("render-cases")+"timed-redirect.html" {
		t.Errorf("judged %q at %s", tr.Title, tr.FinalURL)
	}
}

func TestRequestsAreCapped(t *testing.T) {
	p := crawlOne(t, srv.URL("render-cases")+"many-requests.html", affwatch.RenderAlways, shared)
	if len(p.Requests) != affwatch.MaxPageRequests || p.RequestsDropped < 50 || p.FetchStatus != affwatch.FetchOK {
		t.Fatalf("%d requests listed, %d dropped, %s", len(p.Requests), p.RequestsDropped, p.FetchStatus)
	}
}

// The address guard holds for every request the browser makes: the metadata address is
// always refused; on loopback only the page's own origin, unless named in AllowHosts.
func TestGuardBlocksInsideAddresses(t *testing.T) {
	var hits atomic.Int32
	admin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer admin.Close()
	adminHost := strings.TrimPrefix(admin.URL, "http://")
	pageURL := srv.URL("render-cases") + "guard.html?admin=" + adminHost

	check := func(t *testing.T, r crawler.Renderer, adminAllowed bool) {
		hits.Store(0)
		res, err := r.Render(context.Background(), pageURL, crawler.RenderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]affwatch.PageRequest{}
		for _, q := range res.Requests {
			seen[q.URL] = q
		}
		if q, ok := seen["http://169.254.169.254/latest/meta-data/"]; !ok || !q.Blocked || q.BlockedReason != "address" {
			t.Errorf("metadata request: %+v (found %v)", q, ok)
		}
		for _, u := range []string{"http://" + adminHost + "/admin", "http://" + adminHost + "/admin.png"} {
			if q, ok := seen[u]; !ok || q.Blocked == adminAllowed {
				t.Errorf("admin request %s: %+v (found %v), want blocked %v", u, q, ok, !adminAllowed)
			}
		}
		if q, ok := seen[srv.URL("render-cases")+"own-origin.gif"]; !ok || q.Blocked {
			t.Errorf("the page's own origin: %+v (found %v)", q, ok)
		}
		if n := hits.Load(); (n > 0) != adminAllowed {
			t.Errorf("the admin port got %d requests", n)
		}
	}
	t.Run("own origin only", func(t *testing.T) { check(t, shared, false) })
	t.Run("allow_hosts", func(t *testing.T) {
		cfg := testConfig()
		cfg.Tabs = 1
		cfg.AllowHosts = []string{adminHost}
		b := New(cfg)
		defer b.Close()
		check(t, b, true)
	})
	t.Run("private not allowed", func(t *testing.T) {
		cfg := testConfig()
		cfg.Tabs, cfg.AllowPrivate = 1, false
		b := New(cfg)
		defer b.Close()
		_, err := b.Render(context.Background(), pageURL, crawler.RenderOptions{})
		if err == nil {
			t.Fatal("a loopback page rendered without allow_private_addresses")
		}
		if l := leftovers(b); len(l) > 0 {
			t.Errorf("left after two failed tries: %v", l)
		}
	})
}

// Auto mode renders a page that has scripts and little to read, and leaves an ordinary
// article alone.
func TestAutoRendersOnlyScriptBuiltPages(t *testing.T) {
	if p := crawlOne(t, srv.URL("render-cases")+"script-only.html", affwatch.RenderAuto, shared); !p.Rendered || len(p.AffiliateLinks()) != 1 {
		t.Errorf("script-built page under auto: rendered %v, %d affiliate links", p.Rendered, len(p.AffiliateLinks()))
	}
	if p := crawlOne(t, srv.URL("good-reviews"), affwatch.RenderAuto, shared); p.Rendered {
		t.Errorf("an article without scripts was rendered under auto")
	}
}

// A pool closed after pages rendered in parallel leaves no Chromium process and no profile.
func TestCloseLeavesNothing(t *testing.T) {
	cfg := testConfig()
	b := New(cfg)
	var wg sync.WaitGroup
	for _, page := range []string{"script-only.html", "never-loads.html", "stuffed-image.html"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := b.Render(context.Background(), srv.URL("render-cases")+page, crawler.RenderOptions{}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if len(b.dirs) == 0 {
		t.Fatal("no browser started")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if l := leftovers(b); len(l) > 0 {
		t.Fatalf("left after Close: %v", l)
	}
}

// A scan being stopped stops a render at once. (The page cannot settle sooner: its image
// never finishes, so the network counts as idle only after busyQuiet.)
func TestRenderStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), busyQuiet*3/5)
	defer cancel()
	start := time.Now()
	_, err := shared.Render(ctx, srv.URL("render-cases")+"never-loads.html", crawler.RenderOptions{})
	if err == nil || time.Since(start) > 3*time.Second {
		t.Fatalf("err %v after %s", err, time.Since(start))
	}
}

// A page whose script never yields fails to render (twice: the budget, then the DOM read
// it never answers) but costs only its tab: the browser answers throughout, so it is not
// restarted, the failure comes within two tries of the budget and the read, and the next
// page renders in the same browser.
func TestSpinningPageClosesOnlyItsTab(t *testing.T) {
	cfg := testConfig()
	cfg.Tabs = 1
	b := New(cfg)
	defer b.Close()
	base := srv.URL("render-cases")
	if _, err := b.Render(context.Background(), base+"script-only.html", crawler.RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	started := len(b.dirs)
	b.mu.Unlock()
	start := time.Now()
	_, err := b.Render(context.Background(), base+"spin.html", crawler.RenderOptions{Screenshot: true})
	took := time.Since(start)
	if !errors.Is(err, ErrRenderFailed) || !errors.Is(err, errPageHung) {
		t.Fatalf("spin.html: %v, want a render failure of a hung page", err)
	}
	if limit := 2*(cfg.Timeout+cfg.ReadTimeout) + 5*time.Second; took > limit {
		t.Errorf("spin.html failed after %s, more than %s", took, limit)
	}
	res, err := b.Render(context.Background(), base+"disclosure-faint.html", crawler.RenderOptions{Screenshot: true})
	if err != nil || !strings.Contains(string(res.HTML), "commission") || len(res.Screenshot) == 0 {
		t.Fatalf("the page after: %v, %d bytes of HTML, %d of screenshot", err, len(res.HTML), len(res.Screenshot))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.dirs) != started {
		t.Errorf("the browser was restarted for a hung page: %d profiles, want %d", len(b.dirs), started)
	}
}
