package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/fixtures"
)

func TestPolicyTestAndCoverage(t *testing.T) {
	code, out, errOut := runCLI(t, "policy", "test", "--coverage", "--threshold", "90")
	if code != exitOK || !strings.Contains(out, "0 failed") || !strings.Contains(out, "overall") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	// the pack's coverage is under 100%: a threshold of 100 is not met, and says by how much
	if code, _, errOut := runCLI(t, "policy", "test", "--coverage", "--threshold", "100"); code != exitViolations || !strings.Contains(errOut, "below the threshold 100.00%") {
		t.Fatalf("an unmet threshold: exit %d %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, "policy", "test", "--coverage", "--threshold", "150"); code != exitError || !strings.Contains(errOut, "from 0 to 100") {
		t.Fatalf("an impossible threshold: exit %d %s", code, errOut)
	}
	if code, out, _ := runCLI(t, "policy", "test", "--run", "hijack"); code != exitOK || !strings.Contains(out, "5 tests") {
		t.Fatalf("--run hijack: exit %d\n%s", code, out)
	}
}

func TestPolicyCheckNamesBrokenFiles(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "mine")
	os.MkdirAll(pol, 0o755)
	os.WriteFile(filepath.Join(pol, "bad.rego"), []byte("# METADATA\n# title: Bad\n# custom:\n#   id: MINE-001\n#   severity: low\npackage affwatch.rules.mine.bad\n\ndeny contains {\"msg\": \"x\"} if input.titel == \"a\"\n"), 0o644)
	cfg := writeConfig(t, dir, "policies:\n  dirs: [mine]\n")
	code, out, _ := runCLI(t, "policy", "check", "--config", cfg)
	if code != exitViolations || !strings.Contains(out, "bad.rego:8") || !strings.Contains(out, "titel") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
	os.WriteFile(filepath.Join(pol, "bad.rego"), []byte("# METADATA\n# title: Bad\n# custom:\n#   id: MINE-001\n#   severity: low\npackage affwatch.rules.mine.bad\n\ndeny contains {\"msg\": \"x\"} if   input.title == \"a\"\n"), 0o644)
	code, out, _ = runCLI(t, "policy", "check", "--config", cfg)
	if code != exitViolations || !strings.Contains(out, "bad.rego: not formatted") {
		t.Fatalf("unformatted: exit %d\n%s", code, out)
	}
	if code, _, _ := runCLI(t, "policy", "fmt", "--config", cfg, "--write"); code != exitOK {
		t.Fatal("fmt --write failed")
	}
	if code, out, _ := runCLI(t, "policy", "check", "--config", cfg); code != exitOK {
		t.Fatalf("after fmt --write: exit %d\n%s", code, out)
	}
}

func TestPolicyEvalFileAndInput(t *testing.T) {
	dir := t.TempDir()
	prog, _ := json.Marshal(fixtures.Program())
	cfg := writeConfig(t, dir, fmt.Sprintf("programs:\n  - %s\n", prog))
	dump := filepath.Join(dir, "page.json")
	code, out, errOut := runCLI(t, "policy", "eval", "--config", cfg, "--program", "acme", "--file",
		filepath.Join("..", "..", "fixtures", "sites", "policy-cases", "claims.html"), "--explain", "--dump-input", dump)
	if code != exitViolations || !strings.Contains(out, "DENY  CLAIM-001") || !strings.Contains(out, "WARN  CLAIM-002") || !strings.Contains(out, "pass  DISC-001") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	var page affwatch.Page
	raw, err := os.ReadFile(dump)
	if err != nil || json.Unmarshal(raw, &page) != nil || page.SchemaVersion != affwatch.PageSchemaVersion || len(page.Blocks) == 0 {
		t.Fatalf("--dump-input wrote %d bytes, err %v", len(raw), err)
	}
	code, again, _ := runCLI(t, "policy", "eval", "--config", cfg, "--program", "acme", "--input", dump)
	if code != exitViolations || !strings.Contains(again, "CLAIM-001") {
		t.Fatalf("--input of the dumped page: exit %d\n%s", code, again)
	}
	if code, _, errOut := runCLI(t, "policy", "eval", "--config", cfg, "--program", "nope", "--input", dump); code != exitError || !strings.Contains(errOut, "nope") {
		t.Fatalf("unknown program: exit %d %s", code, errOut)
	}
}

func TestPolicyEvalURLAndDiffAgainstLastScan(t *testing.T) {
	srv, err := fixtures.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	cfg := writeConfig(t, dir, demoConfig(srv))
	code, out, _ := runCLI(t, "policy", "eval", "--config", cfg, "--program", "acme", "--url", srv.URL("late-disclosure"))
	if code != exitViolations || !strings.Contains(out, "DISC-002") {
		t.Fatalf("eval --url: exit %d\n%s", code, out)
	}
	if code, _, _ := runCLI(t, "scan", "--config", cfg); code != exitViolations {
		t.Fatal("scan failed")
	}
	if code, out, _ := runCLI(t, "policy", "diff", "--config", cfg); code != exitOK || !strings.Contains(out, "0 would appear, 0 would disappear") {
		t.Fatalf("diff with unchanged policies: exit %d\n%s", code, out)
	}
	// A new rule on disk that flags every page titled "Deal..." would add one violation.
	os.MkdirAll(filepath.Join(dir, "mine"), 0o755)
	os.WriteFile(filepath.Join(dir, "mine", "deal.rego"), []byte("# METADATA\n# title: Deal page\n# custom:\n#   id: MINE-001\n#   severity: low\npackage affwatch.rules.mine.deal\n\ndeny contains {\"msg\": \"deal page\"} if startswith(input.title, \"Deal\")\n"), 0o644)
	raw, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(raw, []byte("policies:\n  dirs: [mine]\n")...), 0o644)
	code, out, _ = runCLI(t, "policy", "diff", "--config", cfg)
	if code != exitViolations || !strings.Contains(out, "1 would appear, 0 would disappear") || !strings.Contains(out, "MINE-001") {
		t.Fatalf("diff with a new rule: exit %d\n%s", code, out)
	}
}

func TestPolicyDocs(t *testing.T) {
	code, out, _ := runCLI(t, "policy", "docs")
	if code != exitOK || !strings.Contains(out, "| DISC-001 | high | violation |") || !strings.Contains(out, "**What to do:**") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

// policy fmt is gofmt -l for Rego: it lists the files opa fmt would change and exits 1 when
// there are any; --write rewrites them; then there is nothing to list.
func TestPolicyFmtListsThenWrites(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "rule.rego")
	os.WriteFile(f, []byte("package affwatch.rules.mine.x\n\ndeny contains {\"msg\": \"x\"} if   input.title == \"a\"\n"), 0o644)
	code, out, errOut := runCLI(t, "policy", "fmt", dir)
	if code != exitViolations || strings.TrimSpace(out) != f || !strings.Contains(errOut, "--write") {
		t.Fatalf("policy fmt: exit %d, want %d listing %s\n%s%s", code, exitViolations, f, out, errOut)
	}
	if code, out, _ := runCLI(t, "policy", "fmt", "--write", dir); code != exitOK || !strings.Contains(out, "formatted "+f) {
		t.Fatalf("policy fmt --write: exit %d\n%s", code, out)
	}
	if code, out, _ := runCLI(t, "policy", "fmt", dir); code != exitOK || out != "" {
		t.Fatalf("policy fmt after --write: exit %d %q", code, out)
	}
}

// Tried as a new user would: a Page document that is not one ({}) gave "affwatch policy:
// : , not checked: " and exit 4; without --program the program's rules ran on no data and
// said nothing.
func TestPolicyEvalSaysWhatItLacks(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "page.json")
	os.WriteFile(empty, []byte("{}"), 0o644)
	code, _, errOut := runCLI(t, "policy", "eval", "--input", empty)
	if code != exitError || !strings.Contains(errOut, "not a Page document of a verified page") {
		t.Fatalf("--input {}: exit %d %q", code, errOut)
	}
	page := filepath.Join(dir, "page.html")
	os.WriteFile(page, []byte(undisclosed), 0o644)
	cfg := writeConfig(t, dir, "programs: [{id: acme}]\n")
	_, _, errOut = runCLI(t, "policy", "eval", "--file", page, "--config", cfg)
	if !strings.Contains(errOut, "no --program") {
		t.Fatalf("without --program nothing said so: %q", errOut)
	}
}
