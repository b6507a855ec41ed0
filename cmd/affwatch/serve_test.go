package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/affwatch/affwatch"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type healthDoc struct {
	Status string `json:"status"`
	Jobs   map[string]struct {
		Running bool      `json:"running"`
		Runs    int       `json:"runs"`
		Skipped int       `json:"skipped"`
		Next    time.Time `json:"next"`
	} `json:"jobs"`
}

func getHealth(addr string) (healthDoc, error) {
	var h healthDoc
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		return h, err
	}
	defer resp.Body.Close()
	return h, json.NewDecoder(resp.Body).Decode(&h)
}

// The daemon runs its schedule, answers on its health endpoint, and on SIGTERM lets the
// scan in hand finish its page, records the scan as interrupted and exits cleanly; a
// second daemon on the same database does not run the scan beside it.
func TestServeRunsScheduleAndStopsCleanly(t *testing.T) {
	srv := slowFarm(60, 80*time.Millisecond)
	defer srv.Close()
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf(`
crawl: {delay: 0s, parallelism: 1, max_depth: 1, max_pages: 100, allow_private_addresses: true}
schedule: {timezone: Europe/Berlin, scan: "@every 1s"}
programs: [{id: acme}]
affiliates: [{id: farm, program: acme, sites: [%q]}]
`, srv.URL+"/"))
	start := func(health string) *exec.Cmd {
		child := exec.Command(os.Args[0], "serve", "--config", cfg, "--health", health)
		child.Env = append(os.Environ(), "AFFWATCH_TEST_MAIN=1")
		child.Stderr, child.Stdout = &strings.Builder{}, &strings.Builder{}
		if err := child.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { child.Process.Kill(); child.Wait() })
		return child
	}
	addrA, addrB := freeAddr(t), freeAddr(t)
	a := start(addrA)
	deadline := time.Now().Add(30 * time.Second)
	for {
		h, err := getHealth(addrA)
		if err == nil && h.Jobs["scan"].Running && countPages(filepath.Join(dir, "affwatch.db")) >= 3 {
			if h.Jobs["scan"].Next.IsZero() {
				t.Fatalf("health has no next run: %+v", h)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon did not start scanning: %v %+v\n%s", err, h, a.Stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A second daemon on the same database: its scan ticks find the lock taken.
	b := start(addrB)
	for {
		h, err := getHealth(addrB)
		if err == nil && h.Jobs["scan"].Skipped > 0 {
			if h.Jobs["scan"].Runs != 0 {
				t.Fatalf("the second daemon ran the scan beside the first: %+v", h)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second daemon never saw the lock: %v %+v\n%s", err, h, b.Stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Process.Signal(syscall.SIGTERM)
	b.Wait()

	if err := a.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the daemon exited with %v\n%s", err, a.Stderr)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("the daemon did not stop on SIGTERM\n%s", a.Stderr)
	}
	if !strings.Contains(a.Stdout.(*strings.Builder).String(), "affwatch serve: stopped") {
		t.Errorf("no clean stop:\n%s\n%s", a.Stdout, a.Stderr)
	}

	st := openDB(t, dir)
	ctx := context.Background()
	scans, err := st.Scans(ctx, 10)
	if err != nil || len(scans) == 0 {
		t.Fatalf("scans: %v %v", scans, err)
	}
	last := scans[0]
	if last.Status != affwatch.ScanFailed || !strings.Contains(last.Error, "interrupted") || last.Finished.IsZero() {
		t.Fatalf("the interrupted scan is recorded as %+v", last)
	}
	vs, err := st.Violations(ctx, affwatch.ViolationFilter{})
	if err != nil || len(vs) != last.Counts.Pages {
		t.Fatalf("%d pages saved but %d violations (%v): the page in hand was cut", last.Counts.Pages, len(vs), err)
	}
	// The run history shows it.
	code, out, _ := runCLI(t, "scans", "list", "--config", cfg)
	if code != exitOK || !strings.Contains(out, "interrupted") {
		t.Errorf("scans list: exit %d\n%s", code, out)
	}
}
