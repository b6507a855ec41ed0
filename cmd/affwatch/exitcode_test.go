package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/affwatch/affwatch"
)

// Exit codes say what happened, and a scan's recorded status agrees with its exit code.
func TestExitCodesSayWhatHappened(t *testing.T) {
	ok := &page{}
	ok.body.Store(disclosed)
	good := httptest.NewServer(ok)
	defer good.Close()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer bad.Close()
	undisc := &page{}
	undisc.body.Store(undisclosed)
	violating := httptest.NewServer(undisc)
	defer violating.Close()

	scanWith := func(t *testing.T, affiliates string) (int, string, affwatch.Scan) {
		t.Helper()
		dir := t.TempDir()
		cfg := writeConfig(t, dir, "crawl: {delay: 0s, max_depth: 0, allow_private_addresses: true, retries: -1}\nprograms: [{id: acme}]\naffiliates:\n"+affiliates)
		code, out, errOut := runCLI(t, "scan", "--config", cfg)
		scans, err := openDB(t, dir).Scans(context.Background(), 1)
		if err != nil || len(scans) != 1 {
			t.Fatalf("scans: %v %v\n%s%s", scans, err, out, errOut)
		}
		return code, out + errOut, scans[0]
	}
	aff := func(id, url string) string {
		return fmt.Sprintf("  - {id: %s, program: acme, sites: [%q]}\n", id, url+"/")
	}

	t.Run("every page verified", func(t *testing.T) {
		code, out, sc := scanWith(t, aff("a", good.URL))
		if code != exitOK || sc.Status != affwatch.ScanSucceeded {
			t.Errorf("exit %d, status %s\n%s", code, sc.Status, out)
		}
	})
	t.Run("nothing verified", func(t *testing.T) {
		code, out, sc := scanWith(t, aff("a", bad.URL))
		if code != exitFailed || sc.Status != affwatch.ScanFailed || !strings.Contains(sc.Error, "no page could be verified") {
			t.Errorf("exit %d, status %s %q, want %d failed\n%s", code, sc.Status, sc.Error, exitFailed, out)
		}
	})
	t.Run("some pages not verified", func(t *testing.T) {
		code, out, sc := scanWith(t, aff("a", good.URL)+aff("b", bad.URL))
		if code != exitPartial || sc.Status != affwatch.ScanPartial || !strings.Contains(sc.Error, "1 page(s) not verified") {
			t.Errorf("exit %d, status %s %q, want %d partial\n%s", code, sc.Status, sc.Error, exitPartial, out)
		}
	})
	t.Run("partial wins over violations", func(t *testing.T) {
		code, out, sc := scanWith(t, aff("a", violating.URL)+aff("b", bad.URL))
		if code != exitPartial || sc.Status != affwatch.ScanPartial || !strings.Contains(out, "DISC-001") {
			t.Errorf("exit %d, status %s, want %d partial with the violation listed\n%s", code, sc.Status, exitPartial, out)
		}
	})
}

// policy eval --url on an address the guard refuses, or on a file:// URL, is not a page
// that was checked: it says why and does not exit 0.
func TestPolicyEvalURLThatCannotBeChecked(t *testing.T) {
	p := &page{}
	p.body.Store(undisclosed)
	srv := httptest.NewServer(p)
	defer srv.Close()
	cfg := writeConfig(t, t.TempDir(), "programs: [{id: acme}]\n")

	code, out, errOut := runCLI(t, "policy", "eval", "--config", cfg, "--program", "acme", "--url", srv.URL+"/")
	if code != exitFailed || !strings.Contains(errOut, "refused") || !strings.Contains(errOut, "crawl.allow_private_addresses") {
		t.Errorf("a loopback URL the guard refuses: exit %d, want %d naming the setting\n%s%s", code, exitFailed, out, errOut)
	}
	code, out, errOut = runCLI(t, "policy", "eval", "--config", cfg, "--program", "acme", "--url", "file:///etc/hostname")
	if code != exitError || !strings.Contains(errOut, "--file") {
		t.Errorf("a file:// URL: exit %d, want %d pointing at --file\n%s%s", code, exitError, out, errOut)
	}
}
