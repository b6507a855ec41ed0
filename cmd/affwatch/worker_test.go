package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/affwatch/affwatch/internal/store"
	"github.com/affwatch/affwatch/internal/testkit"
)

// workerFarm serves hosts × perHost pages on loopback, each host its own server, slowly
// (delay per request), and records who asks for what: requests per host and user agent,
// and every moment two user agents (two workers) had requests in flight to one host.
type workerFarm struct {
	servers []*httptest.Server
	mu      sync.Mutex
	// inflight counts requests in flight per host and user agent; requests per host and
	// user agent, ever.
	inflight map[string]map[string]int
	requests map[string]map[string]int
	perUA    map[string]int
	overlaps []string
	// onRequest, when set, hears each request's user agent and how many it has made.
	onRequest func(ua string, n int)
}

// farmHTML is page i of host h: affiliate links (with or without rel=sponsored), a
// disclosure on two pages of three, links to its neighbours.
func farmHTML(h, i, perHost int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<!DOCTYPE html><html lang="en"><head><title>Review %d of host %d</title></head><body>`, i, h)
	fmt.Fprintf(&b, `<nav><a href="/">Home</a> <a href="/p%d.html">Next</a> <a href="/p%d.html">Previous</a></nav><article><h1>Grinder review %d</h1>`,
		(i+1)%perHost, (i+perHost-1)%perHost, i)
	if (h+i)%3 != 0 {
		b.WriteString(`<p>We earn a commission if you buy through links on this page.</p>`)
	}
	for k := range 4 {
		fmt.Fprintf(&b, `<p>Paragraph %d: we tested the burrs, the static and the dosing cup for three weeks.</p>`, k)
	}
	rel := ` rel="sponsored"`
	if (h+i)%4 == 0 {
		rel = ""
	}
	fmt.Fprintf(&b, `<p><a href="https://www.amazon.com/dp/B0%02d%02d?tag=farm-20"%s>Check the price</a></p></article></body></html>`, h, i, rel)
	return b.String()
}

func newWorkerFarm(hosts, perHost int, delay time.Duration) *workerFarm {
	f := &workerFarm{inflight: map[string]map[string]int{}, requests: map[string]map[string]int{}, perUA: map[string]int{}}
	for h := range hosts {
		var index strings.Builder
		index.WriteString(`<html><head><title>Index</title></head><body><p>We earn a commission from links.</p>`)
		for i := range perHost {
			fmt.Fprintf(&index, `<a href="/p%d.html">Review %d</a> `, i, i)
		}
		index.WriteString(`</body></html>`)
		idx := index.String()
		var srv *httptest.Server
		srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			host := srv.Listener.Addr().String()
			ua := r.UserAgent()
			f.mu.Lock()
			if f.inflight[host] == nil {
				f.inflight[host], f.requests[host] = map[string]int{}, map[string]int{}
			}
			for other, n := range f.inflight[host] {
				if other != ua && n > 0 {
					f.overlaps = append(f.overlaps, fmt.Sprintf("%s: %s while %s had %d request(s) in flight", host, ua, other, n))
				}
			}
			f.inflight[host][ua]++
			f.requests[host][ua]++
			f.perUA[ua]++
			n, hook := f.perUA[ua], f.onRequest
			f.mu.Unlock()
			defer func() {
				f.mu.Lock()
				f.inflight[host][ua]--
				f.mu.Unlock()
			}()
			if hook != nil {
				hook(ua, n)
			}
			time.Sleep(delay)
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			switch {
			case r.URL.Path == "/":
				w.Write([]byte(idx))
			case strings.HasPrefix(r.URL.Path, "/p") && strings.HasSuffix(r.URL.Path, ".html"):
				n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/p"), ".html"))
				if err != nil || n < 0 || n >= perHost {
					http.NotFound(w, r)
					return
				}
				w.Write([]byte(farmHTML(h, n, perHost)))
			default:
				http.NotFound(w, r)
			}
		}))
		f.servers = append(f.servers, srv)
	}
	return f
}

func (f *workerFarm) close() {
	for _, s := range f.servers {
		s.Close()
	}
}

// reset forgets what the farm recorded.
func (f *workerFarm) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inflight, f.requests, f.perUA, f.overlaps = map[string]map[string]int{}, map[string]map[string]int{}, map[string]int{}, nil
}

// farmConfig is the configuration of a scan of the farm: one affiliate per host, and
// for the first `shared` hosts a second affiliate whose seed is a page of the same host
// (listed right after the first, so two workers would want the host at once).
func farmConfig(f *workerFarm, shared int, store, ua, extraCrawl string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "store: {dsn: %q}\n", store)
	fmt.Fprintf(&b, "crawl: {delay: 0s, parallelism: 2, max_depth: 1, max_pages: 100, allow_private_addresses: true, sitemaps: false, user_agent: %q%s}\n", ua, extraCrawl)
	b.WriteString("programs: [{id: acme}]\naffiliates:\n")
	for i, s := range f.servers {
		fmt.Fprintf(&b, "  - {id: aff%02d, program: acme, sites: [%q]}\n", i, s.URL+"/")
		if i < shared {
			fmt.Fprintf(&b, "  - {id: also%02d, program: acme, sites: [%q]}\n", i, s.URL+"/p3.html")
		}
	}
	return b.String()
}

// pageKeys are the (affiliate, url) of a scan's stored pages, with how many rows each has.
func pageKeys(t *testing.T, db *sql.DB, scanID int64) map[string]int {
	t.Helper()
	rows, err := db.Query(`SELECT affiliate_id, url, fetch_status FROM pages WHERE scan_id = ` + strconv.FormatInt(scanID, 10))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var aff, u, status string
		if err := rows.Scan(&aff, &u, &status); err != nil {
			t.Fatal(err)
		}
		if status != "ok" {
			t.Errorf("page %s of %s: fetch status %s", u, aff, status)
		}
		out[aff+" "+u]++
	}
	return out
}

// fingerprints are the stored violations' fingerprints, each with its number of events.
func fingerprints(t *testing.T, db *sql.DB) map[string]int {
	t.Helper()
	rows, err := db.Query(`SELECT v.fingerprint, count(e.fingerprint) FROM violations v
		LEFT JOIN violation_events e ON e.fingerprint = v.fingerprint GROUP BY v.fingerprint`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var fp string
		var n int
		if err := rows.Scan(&fp, &n); err != nil {
			t.Fatal(err)
		}
		out[fp] = n
	}
	return out
}

// A scan shared by three worker processes over a 50-host farm, one of them killed with
// SIGKILL in the middle of its sites: the sites it held are crawled again by the others
// once River rescues their jobs; every page is stored once, the violations are exactly a
// single-process SQLite scan's, each with one event (new), and no host ever had requests
// from two workers at once, though ten hosts are two affiliates' sites.
func TestScanSharedByWorkersSurvivesAKilledWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four processes (about 40 s)")
	}
	const hosts, perHost, shared = 50, 10, 10
	f := newWorkerFarm(hosts, perHost, 30*time.Millisecond)
	defer f.close()

	// The reference: one process, SQLite.
	refDir := t.TempDir()
	refCfg := writeConfig(t, refDir, farmConfig(f, shared, filepath.Join(refDir, "affwatch.db"), "affwatch-test/reference", ""))
	if code, out, errOut := runCLI(t, "scan", "--config", refCfg, "--progress", "never"); code != exitViolations {
		t.Fatalf("the SQLite scan: exit %d\n%s%s", code, out, errOut)
	}
	ref := openDB(t, refDir)
	wantPages := pageKeys(t, ref.DB(), 1)
	wantFPs := fingerprints(t, ref.DB())
	if len(wantPages) != hosts*(perHost+1)+shared*4 || len(wantFPs) == 0 {
		t.Fatalf("the reference scan stored %d pages and %d violations", len(wantPages), len(wantFPs))
	}
	f.reset()

	dsn := testkit.Postgres(t)
	dir := t.TempDir()
	start := time.Now()
	killed := make(chan struct{})
	var once sync.Once
	// Worker 1 is killed at its 15th request: it holds up to four sites then, each a few
	// requests into its 11.
	f.mu.Lock()
	f.onRequest = func(ua string, n int) {
		if ua == "affwatch-test/w1" && n == 15 {
			once.Do(func() { close(killed) })
		}
	}
	f.mu.Unlock()

	child := func(name string, args ...string) (*exec.Cmd, *strings.Builder) {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "AFFWATCH_TEST_MAIN=1")
		var errOut strings.Builder
		cmd.Stderr = &errOut
		cmd.Stdout = &errOut
		if err := cmd.Start(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd, &errOut
	}
	var workers []*exec.Cmd
	var logs []*strings.Builder
	for i := 1; i <= 3; i++ {
		wdir := filepath.Join(dir, "w"+strconv.Itoa(i))
		os.MkdirAll(wdir, 0o755)
		cfg := writeConfig(t, wdir, farmConfig(f, shared, dsn, "affwatch-test/w"+strconv.Itoa(i), ", queue_rescue_after: 8s"))
		w, log := child("worker "+strconv.Itoa(i), "worker", "--config", cfg, "--concurrency", "4", "-v")
		workers, logs = append(workers, w), append(logs, log)
	}
	scfg := writeConfig(t, dir, farmConfig(f, shared, dsn, "affwatch-test/scheduler", ""))
	sched, schedOut := child("scheduler", "scan", "--workers", "--config", scfg, "--progress", "always")

	select {
	case <-killed:
		if err := workers[0].Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		t.Logf("worker 1 killed %s into the scan", time.Since(start).Round(time.Millisecond))
	case <-time.After(30 * time.Second):
		t.Fatalf("worker 1 never made 15 requests\n%s", logs[0])
	}
	done := make(chan error, 1)
	go func() { done <- sched.Wait() }()
	select {
	case <-done:
	case <-time.After(75 * time.Second):
		for i, l := range logs {
			os.WriteFile(filepath.Join(os.TempDir(), fmt.Sprintf("affwatch-worker-%d.log", i+1)), []byte(l.String()), 0o644)
		}
		t.Fatalf("the scan did not finish (worker logs in %s)", os.TempDir())
	}
	if code := sched.ProcessState.ExitCode(); code != exitViolations {
		t.Fatalf("scan --workers: exit %d, want %d\n%s\nworker 2:\n%s", code, exitViolations, schedOut, logs[1])
	}
	t.Logf("the shared scan took %s", time.Since(start).Round(time.Millisecond))
	for i, w := range workers[1:] {
		w.Process.Signal(syscall.SIGTERM)
		if err := w.Wait(); err != nil {
			t.Errorf("worker %d on SIGTERM: %v\n%s", i+2, err, logs[i+1])
		}
	}

	st, err := store.OpenPostgres(context.Background(), dsn, "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	scans, err := st.Scans(context.Background(), 5)
	if err != nil || len(scans) != 1 || scans[0].Status != "succeeded" {
		t.Fatalf("scans: %+v %v", scans, err)
	}
	got := pageKeys(t, st.DB(), scans[0].ID)
	for k, n := range got {
		if n != 1 {
			t.Errorf("page %s stored %d times", k, n)
		}
		if wantPages[k] == 0 {
			t.Errorf("page %s was not in the SQLite scan", k)
		}
	}
	for k := range wantPages {
		if got[k] == 0 {
			t.Errorf("page %s is missing", k)
		}
	}
	var dupes int
	if err := st.DB().QueryRow(`SELECT count(*) FROM (SELECT url FROM pages WHERE scan_id = ? GROUP BY affiliate_id, url HAVING count(*) > 1) d`, scans[0].ID).Scan(&dupes); err != nil || dupes != 0 {
		t.Errorf("pages stored more than once per (scan, affiliate, url): %d %v", dupes, err)
	}
	gotFPs := fingerprints(t, st.DB())
	for fp, n := range gotFPs {
		if _, ok := wantFPs[fp]; !ok {
			t.Errorf("violation %s is not the SQLite scan's", fp)
		}
		if n != 1 {
			t.Errorf("violation %s has %d events, want 1 (new)", fp, n)
		}
	}
	for fp := range wantFPs {
		if _, ok := gotFPs[fp]; !ok {
			t.Errorf("violation %s of the SQLite scan is missing", fp)
		}
	}
	if scans[0].Counts.Resolved != 0 {
		t.Errorf("the scan resolved %d violations", scans[0].Counts.Resolved)
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range f.overlaps {
		t.Errorf("two workers on one host: %s", o)
	}
	// The kill landed mid-site: a host worker 1 had begun was crawled again by another.
	var recrawled []string
	for host, byUA := range f.requests {
		if byUA["affwatch-test/w1"] > 0 && (byUA["affwatch-test/w2"] > 0 || byUA["affwatch-test/w3"] > 0) {
			recrawled = append(recrawled, host)
		}
	}
	slices.Sort(recrawled)
	if len(recrawled) == 0 {
		t.Errorf("no site worker 1 had begun was crawled again by another worker")
	}
	t.Logf("sites of worker 1 taken over: %v; requests per worker: %v", recrawled, f.perUA)
}

// Workers, scan --workers and crawl.queue need PostgreSQL: on a SQLite store each is one
// line that says so, exit 2, and nothing is written.
func TestWorkersNeedPostgres(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, onePage("http://127.0.0.1:9/", ""))
	queued := writeConfig(t, t.TempDir(), strings.Replace(onePage("http://127.0.0.1:9/", ""), "crawl: {", "crawl: {queue: true, ", 1))
	for _, args := range [][]string{
		{"worker", "--config", cfg},
		{"scan", "--workers", "--config", cfg},
		{"scan", "--config", queued},
		{"serve", "--config", queued},
	} {
		code, out, errOut := runCLI(t, args...)
		if code != exitError || !strings.Contains(errOut, "workers share a scan through PostgreSQL; set store.dsn to a postgres:// URL") ||
			strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("%v: exit %d, want 2 with one line\n%s%s", args, code, out, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "affwatch.db")); err == nil {
		t.Error("a store was created")
	}
}

// The daemon with crawl.queue on PostgreSQL shares its scheduled scan with the workers:
// the scan's sites are crawled by a worker process, and the daemon records the scan.
func TestDaemonSharesItsScanWithWorkers(t *testing.T) {
	f := newWorkerFarm(4, 3, 0)
	defer f.close()
	dsn := testkit.Postgres(t)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, farmConfig(f, 0, dsn, "affwatch-test/daemon", ", queue: true")+"schedule: {scan: \"@every 2s\"}\n")
	wdir := filepath.Join(dir, "worker")
	os.MkdirAll(wdir, 0o755)
	wcfg := writeConfig(t, wdir, farmConfig(f, 0, dsn, "affwatch-test/w", ""))
	start := func(args ...string) (*exec.Cmd, *strings.Builder) {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "AFFWATCH_TEST_MAIN=1")
		var out strings.Builder
		cmd.Stderr, cmd.Stdout = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd, &out
	}
	worker, wlog := start("worker", "--config", wcfg)
	daemon, dlog := start("serve", "--config", cfg, "--health", freeAddr(t))
	st, err := store.OpenPostgres(context.Background(), dsn, "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	deadline := time.Now().Add(40 * time.Second)
	for {
		var n int
		st.DB().QueryRow(`SELECT count(*) FROM scans WHERE status <> 'running'`).Scan(&n)
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon finished no scan\ndaemon:\n%s\nworker:\n%s", dlog, wlog)
		}
		time.Sleep(100 * time.Millisecond)
	}
	daemon.Process.Signal(syscall.SIGTERM)
	worker.Process.Signal(syscall.SIGTERM)
	if err := daemon.Wait(); err != nil {
		t.Errorf("daemon: %v\n%s", err, dlog)
	}
	if err := worker.Wait(); err != nil {
		t.Errorf("worker: %v\n%s", err, wlog)
	}
	scans, err := st.Scans(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	last := scans[len(scans)-1] // the first scan, newest first
	if last.Status != "succeeded" || last.Counts.Pages != 4*4 {
		t.Errorf("the daemon's first scan: %s, %d pages, %q", last.Status, last.Counts.Pages, last.Error)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.perUA["affwatch-test/w"] == 0 || f.perUA["affwatch-test/daemon"] != 0 {
		t.Errorf("requests: %v; want the worker's only", f.perUA)
	}
}
