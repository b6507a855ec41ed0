package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runCLICtx is runCLI with a context (to stop a command as a signal would).
func runCLICtx(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// Two scans on one database: the second finds the store lock the daemon uses, says who
// holds it since when, and exits 4 without crawling; with --wait it waits its turn, so the
// scans never overlap and no violation is first seen by a scan after the one that last
// saw it.
func TestSecondScanOnOneDatabaseWaitsOrStops(t *testing.T) {
	srv := slowFarm(20, 100*time.Millisecond)
	defer srv.Close()
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf(`
crawl: {delay: 0s, parallelism: 1, max_depth: 1, max_pages: 100, allow_private_addresses: true}
programs: [{id: acme}]
affiliates: [{id: farm, program: acme, sites: [%q]}]
`, srv.URL+"/"))
	child := exec.Command(os.Args[0], "scan", "--config", cfg)
	child.Env = append(os.Environ(), "AFFWATCH_TEST_MAIN=1")
	var childErr strings.Builder
	child.Stderr = &childErr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	dbPath := filepath.Join(dir, "affwatch.db")
	deadline := time.Now().Add(20 * time.Second)
	for countPages(dbPath) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the first scan did not start\n%s", childErr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	code, out, errOut := runCLI(t, "scan", "--config", cfg)
	if code != exitFailed {
		t.Errorf("a second scan beside the first: exit %d, want %d\n%s%s", code, exitFailed, out, errOut)
	}
	for _, want := range []string{"pid " + strconv.Itoa(child.Process.Pid), "since", "--wait"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, errOut)
		}
	}
	if countPages(dbPath) > 21 {
		t.Errorf("the refused scan crawled")
	}

	code, out, errOut = runCLI(t, "scan", "--config", cfg, "--wait")
	if code != exitViolations || !strings.Contains(errOut, "waiting") {
		t.Fatalf("scan --wait: exit %d, want %d after waiting\n%s%s", code, exitViolations, out, errOut)
	}
	if err := child.Wait(); err != nil && child.ProcessState.ExitCode() != exitViolations {
		t.Fatalf("the first scan: %v\n%s", err, childErr.String())
	}
	st := openDB(t, dir)
	scans, err := st.Scans(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(scans) != 2 {
		t.Fatalf("%d scans recorded, want 2 (the refused one records none): %+v", len(scans), scans)
	}
	if scans[0].Started.Before(scans[1].Finished) {
		t.Errorf("the scans overlap: #%d ran %s..%s, #%d started %s", scans[1].ID, scans[1].Started, scans[1].Finished, scans[0].ID, scans[0].Started)
	}
	var backwards int
	if err := st.DB().QueryRow(`SELECT count(*) FROM violations WHERE first_scan > last_scan`).Scan(&backwards); err != nil {
		t.Fatal(err)
	}
	if backwards > 0 {
		t.Errorf("%d violations have first_scan after last_scan", backwards)
	}
}

// --wait is bounded by the command's context (SIGINT, SIGTERM): it gives up and exits 4.
// A lock left by a process on this host that is gone is taken over at once.
func TestScanWaitIsBoundedAndADeadHolderIsTakenOver(t *testing.T) {
	p := &page{}
	p.body.Store(disclosed)
	srv := httptest.NewServer(p)
	defer srv.Close()
	dir := t.TempDir()
	cfg := writeConfig(t, dir, onePage(srv.URL+"/", ""))
	st := openDB(t, dir)
	ctx := context.Background()
	host, _ := os.Hostname()
	if err := st.Lock(ctx, "job:scan", fmt.Sprintf("affwatch serve (pid 1 on %s, since 2026-01-02T03:04:05Z)", host), time.Minute); err != nil {
		t.Fatal(err)
	}
	stopped, cancel := context.WithTimeout(ctx, 700*time.Millisecond)
	defer cancel()
	start := time.Now()
	code, out, errOut := runCLICtx(t, stopped, "scan", "--config", cfg, "--wait")
	if code != exitFailed || !strings.Contains(errOut, "affwatch serve (pid 1 on") || time.Since(start) > 10*time.Second {
		t.Fatalf("scan --wait stopped while waiting: exit %d after %s, want %d\n%s%s", code, time.Since(start), exitFailed, out, errOut)
	}
	if scans, _ := st.Scans(ctx, 5); len(scans) != 0 {
		t.Fatalf("a scan that never got the lock recorded %+v", scans)
	}

	// A holder on this host whose process is gone (killed) does not block the next scan.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip("no true(1):", err)
	}
	if err := st.Unlock(ctx, "job:scan", fmt.Sprintf("affwatch serve (pid 1 on %s, since 2026-01-02T03:04:05Z)", host)); err != nil {
		t.Fatal(err)
	}
	if err := st.Lock(ctx, "job:scan", fmt.Sprintf("affwatch scan (pid %d on %s, since 2026-01-02T03:04:05Z)", dead.Process.Pid, host), time.Minute); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCLI(t, "scan", "--config", cfg); code != exitOK {
		t.Fatalf("scan after a dead holder: exit %d\n%s%s", code, out, errOut)
	}
	var left int
	st.DB().QueryRow(`SELECT count(*) FROM locks`).Scan(&left)
	if left != 0 {
		t.Errorf("the scan left its lock behind")
	}
}
