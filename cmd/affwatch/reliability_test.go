package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/affwatch/affwatch"
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
