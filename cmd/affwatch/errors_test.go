package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestErrorsEndWithOneNewline: every error a command returns reaches stderr through
// printError, ends with exactly one newline (so the next output never runs into it) and
// names the file, line or key involved.
func TestErrorsEndWithOneNewline(t *testing.T) {
	dir := t.TempDir()
	unknownKey := filepath.Join(dir, "unknown-key.yaml")
	if err := os.WriteFile(unknownKey, []byte("store:\n  dsn: x.db\nbogus: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.yaml")
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"scan unknown config key", []string{"scan", "--config", unknownKey}, []string{unknownKey, "line 3", "bogus"}},
		{"scan missing config", []string{"scan", "--config", missing}, []string{missing}},
		{"policy eval missing file", []string{"policy", "eval", "--file", filepath.Join(dir, "nope.html")}, []string{"nope.html"}},
		{"policy eval bad input", []string{"policy", "eval", "--input", unknownKey}, []string{unknownKey}},
		{"unknown policy command", []string{"policy", "frobnicate"}, []string{"frobnicate"}},
		{"unknown command", []string{"frobnicate"}, []string{"frobnicate"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, tc.args...)
			if code != exitError {
				t.Fatalf("exit %d, want %d; stderr %q", code, exitError, errOut)
			}
			if !strings.HasSuffix(errOut, "\n") || strings.HasSuffix(errOut, "\n\n") {
				t.Errorf("stderr does not end with exactly one newline: %q", errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q does not name %q", errOut, w)
				}
			}
		})
	}
}

func TestPrintError(t *testing.T) {
	for _, msg := range []string{"plain", "ends in a newline\n", "ends in two\n\n", "multi\nline\n  indented \n"} {
		var b bytes.Buffer
		printError(&b, "affwatch scan", errors.New(msg))
		got := b.String()
		if !strings.HasPrefix(got, "affwatch scan: ") || !strings.HasSuffix(got, "\n") || strings.HasSuffix(got, "\n\n") || strings.HasSuffix(got, " \n") {
			t.Errorf("printError(%q) = %q", msg, got)
		}
	}
}
