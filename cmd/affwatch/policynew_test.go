package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPolicyNewScaffoldsARuleThatPasses: the rule, its tests and its fixture page compile
// and pass as generated; a taken or malformed id is refused.
func TestPolicyNewScaffoldsARuleThatPasses(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "policies:\n  dirs: [mine]\n")
	mine := filepath.Join(dir, "mine")
	code, out, errOut := runCLI(t, "policy", "new", "MINE-001", "--title", "Brand: misspelled", "--severity", "medium",
		"--dir", mine, "--config", cfg)
	if code != exitOK {
		t.Fatalf("policy new: exit %d\n%s%s", code, out, errOut)
	}
	for _, f := range []string{"mine/brand_misspelled.rego", "mine/brand_misspelled_test.rego", "fixtures/mine-001.html"} {
		if _, err := os.Stat(filepath.Join(mine, f)); err != nil {
			t.Errorf("not written: %v", err)
		}
	}
	fixture, _ := os.ReadFile(filepath.Join(mine, "fixtures", "mine-001.html"))
	if !strings.Contains(string(fixture), "<!-- expect: MINE-001 -->") {
		t.Errorf("the fixture page does not say what it must trigger:\n%s", fixture)
	}
	if code, out, errOut := runCLI(t, "policy", "test", "--config", cfg, "--run", "mine"); code != exitOK || !strings.Contains(out, "3 tests, 3 passed") {
		t.Errorf("policy test: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "policy", "check", "--config", cfg); code != exitOK || !strings.HasSuffix(out, "ok\n") {
		t.Errorf("policy check: exit %d\n%s%s", code, out, errOut)
	}
	// The fixture page triggers the rule, and nothing else.
	code, out, errOut = runCLI(t, "policy", "eval", "--config", cfg, "--file", filepath.Join(mine, "fixtures", "mine-001.html"))
	if code != exitViolations || !strings.Contains(out, "DENY  MINE-001") || !strings.Contains(out, "1 findings") {
		t.Errorf("policy eval on the fixture page: exit %d\n%s%s", code, out, errOut)
	}

	refused := []struct {
		name string
		args []string
		want string
	}{
		{"taken id", []string{"MINE-001", "--title", "Other", "--severity", "low"}, "MINE-001 is already used by"},
		{"built-in id", []string{"DISC-001", "--title", "Other", "--severity", "low"}, "DISC-001 is already used by policies/disclosure/missing.rego"},
		{"malformed id", []string{"mine-1", "--title", "Other", "--severity", "low"}, `rule id "mine-1": want capitals`},
		{"no id", []string{"--title", "Other", "--severity", "low"}, "name the new rule's id"},
		{"bad severity", []string{"MINE-002", "--title", "Other", "--severity", "urgent"}, "--severity"},
		{"no title", []string{"MINE-002", "--severity", "low"}, "--title is required"},
		{"bad category", []string{"MINE-002", "--title", "Other", "--severity", "low", "--category", "Mine-Stuff"}, "--category"},
		{"same package", []string{"MINE-002", "--title", "Brand misspelled", "--severity", "low"}, "already MINE-001's"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, append([]string{"policy", "new"}, append(tc.args, "--dir", mine, "--config", cfg)...)...)
			if code != exitError || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 saying %q", code, errOut, tc.want)
			}
		})
	}
}
