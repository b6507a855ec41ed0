package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/affwatch/affwatch/fixtures"
	"github.com/affwatch/affwatch/internal/testkit"
)

// TestPagesShowTheDecisionRecords: after two scans, `pages show URL` says for each scan
// the fetch status, the policy revision, the rules judged and the rules failed.
func TestPagesShowTheDecisionRecords(t *testing.T) {
	srv, err := fixtures.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	cfg := writeConfig(t, dir, demoConfig(srv))
	for range 2 {
		if code, _, errOut := runCLI(t, "scan", "--config", cfg); code != exitViolations {
			t.Fatalf("scan: exit %d\n%s", code, errOut)
		}
	}
	page := srv.URL("deal-hunter")
	code, out, errOut := runCLI(t, "pages", "show", page, "--config", cfg)
	if code != exitOK {
		t.Fatalf("pages show: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{"scan #2", "scan #1", "policy revision ", "rules judged (", "DISC-001", "rules failed (1): DISC-001"} {
		if !strings.Contains(out, want) {
			t.Errorf("pages show does not say %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI(t, "pages", "show", page, "--config", cfg, "--format", "json", "--rule", "STUFF-001")
	if code != exitOK {
		t.Fatalf("--format json: exit %d", code)
	}
	testkit.MatchSchema(t, outputSchema, []byte(out))
	var rep struct {
		Decisions []struct {
			ScanID         int64    `json:"scan_id"`
			PolicyRevision string   `json:"policy_revision"`
			Judged         []string `json:"judged"`
			Violated       []string `json:"violated"`
		} `json:"decisions"`
	}
	json.Unmarshal([]byte(out), &rep)
	if len(rep.Decisions) != 2 || rep.Decisions[0].PolicyRevision == "" || len(rep.Decisions[0].Judged) < 10 {
		t.Errorf("decisions: %+v", rep.Decisions)
	}
	if _, out, _ := runCLI(t, "pages", "show", page, "--config", cfg, "--rule", "NOPE-001"); !strings.Contains(out, "no scan has looked") {
		t.Errorf("--rule of a rule never judged: %s", out)
	}
	if code, _, errOut := runCLI(t, "pages", "show", "--config", cfg); code != exitError || !strings.HasSuffix(errOut, "\n") || !strings.Contains(errOut, "name the page") {
		t.Errorf("no URL: exit %d %q", code, errOut)
	}
}
