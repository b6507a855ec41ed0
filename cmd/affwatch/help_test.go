package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func readme(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// section returns the README's text under a "## title" heading, up to the next one.
func section(t *testing.T, doc, title string) string {
	t.Helper()
	_, rest, ok := strings.Cut(doc, "\n## "+title+"\n")
	if !ok {
		t.Fatalf("the README has no %q section", title)
	}
	body, _, _ := strings.Cut(rest, "\n## ")
	return body
}

var flagWord = regexp.MustCompile(`(?:^|[\s\[(|])(--?[a-z][a-z-]*)`)

// flagsIn lists the flags a piece of synopsis names (--name or -v).
func flagsIn(s string) []string {
	var out []string
	for _, m := range flagWord.FindAllStringSubmatch(s, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	slices.Sort(out)
	return out
}

// The README's CLI reference, `affwatch help` and each command's flags are one thing: every
// command has a row, and the row names exactly the flags the command's flag set defines.
func TestREADMECLIReferenceMatchesTheCommandsFlags(t *testing.T) {
	ref := section(t, readme(t), "CLI reference")
	rows := map[string]string{} // command -> its synopsis cell
	for _, line := range strings.Split(ref, "\n") {
		if !strings.HasPrefix(line, "| `affwatch ") {
			continue
		}
		cell := strings.SplitN(strings.TrimPrefix(line, "| "), " |", 2)[0]
		// One cell may hold several commands: `a ...` / `b ...`.
		for _, part := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(cell, -1) {
			syn := strings.ReplaceAll(part[1], `\|`, "|")
			name := commandOf(syn)
			if name == "" {
				t.Errorf("README row %q names no known command", syn)
				continue
			}
			rows[name] = syn
		}
	}
	for _, c := range commands {
		syn, ok := rows[c.name]
		if !ok {
			t.Errorf("the README's CLI reference has no row for %q", c.name)
			continue
		}
		want := flagNames(c)
		if got := flagsIn(syn); !slices.Equal(got, want) {
			t.Errorf("README %q names flags %v; the command defines %v", c.name, got, want)
		}
	}
}

// commandOf finds the longest command name a README synopsis starts with.
func commandOf(syn string) string {
	words := strings.Fields(strings.TrimPrefix(syn, "affwatch "))
	best := ""
	for _, c := range commands {
		cw := strings.Fields(c.name)
		if len(cw) <= len(words) && slices.Equal(cw, words[:len(cw)]) && len(c.name) > len(best) {
			best = c.name
		}
	}
	return best
}

// flagNames are a command's flags as a synopsis writes them.
func flagNames(c command) []string {
	var out []string
	fs := flagSetOf(c)
	if fs == nil {
		return nil
	}
	for _, f := range visitFlags(fs) {
		out = append(out, dashed(f.Name))
	}
	slices.Sort(out)
	return out
}

// `affwatch help` lists every command with every flag, and each command's -h describes
// its flags and exits 0.
func TestHelpListsEveryCommandAndItsFlags(t *testing.T) {
	code, help, errOut := runCLI(t, "help")
	if code != exitOK {
		t.Fatalf("help: exit %d %s", code, errOut)
	}
	for _, c := range commands {
		line := ""
		for _, l := range strings.Split(help, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "affwatch "+c.name) {
				line = l
				break
			}
		}
		if line == "" {
			t.Errorf("help does not list %q", c.name)
			continue
		}
		if got, want := flagsIn(line), flagNames(c); !slices.Equal(got, want) {
			t.Errorf("help's %q names %v; the command defines %v", c.name, got, want)
		}
		args := append(strings.Fields(strings.ReplaceAll(c.name, "|", " ")), "-h")
		if c.name == "ingest clicks|conversions" {
			args = []string{"ingest", "clicks", "-h"}
		}
		code, out, errOut := runCLI(t, args...)
		if code != exitOK || !strings.Contains(out, "usage: affwatch "+c.name) {
			t.Errorf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
		for _, f := range flagNames(c) {
			if !strings.Contains(out, "  "+f) {
				t.Errorf("%v does not describe %s:\n%s", args, f, out)
			}
		}
	}
	for _, group := range []string{"policy", "violations", "scans", "events", "ingest"} {
		if code, out, errOut := runCLI(t, group, "-h"); code != exitOK || !strings.Contains(out, "affwatch "+group+" ") {
			t.Errorf("%s -h: exit %d\n%s%s", group, code, out, errOut)
		}
		if code, _, errOut := runCLI(t, group); code != exitError || !strings.Contains(errOut, "affwatch "+group+" ") {
			t.Errorf("%s without a subcommand: exit %d, want %d listing them\n%s", group, code, exitError, errOut)
		}
	}
	if code, out, _ := runCLI(t, "help", "policy", "eval"); code != exitOK || !strings.Contains(out, "--affiliate") {
		t.Errorf("help policy eval: exit %d\n%s", code, out)
	}
	if code, _, errOut := runCLI(t, "scan", "--colour"); code != exitError || !strings.Contains(errOut, "usage: affwatch scan") {
		t.Errorf("an unknown flag: exit %d, want %d with the synopsis\n%s", code, exitError, errOut)
	}
}

// `init -h` describes init; a second file name is a usage error, and nothing is written.
func TestInitHelpAndExtraArguments(t *testing.T) {
	code, out, errOut := runCLI(t, "init", "-h")
	if code != exitOK || !strings.Contains(out, "usage: affwatch init") || !strings.Contains(out, "--force") {
		t.Errorf("init -h: exit %d\n%s%s", code, out, errOut)
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	code, _, errOut = runCLI(t, "init", a, b)
	if code != exitError || !strings.Contains(errOut, "b.yaml") {
		t.Errorf("init a.yaml b.yaml: exit %d %q, want %d naming b.yaml", code, errOut, exitError)
	}
	for _, f := range []string{a, b} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s was written by a refused command", f)
		}
	}
}

// The README says how to get a binary, how to send the reports to a local mailpit (and the
// config it shows loads), and lists every exit code the commands use.
func TestREADMEGettingStartedAndExitCodes(t *testing.T) {
	doc := readme(t)
	for _, want := range []string{"go install ./cmd/affwatch", "go build -o affwatch ./cmd/affwatch", "go tool mailpit", "tls: none"} {
		if !strings.Contains(doc, want) {
			t.Errorf("the README does not say %q", want)
		}
	}
	mail := section(t, doc, "Sending the reports to a local mail server")
	_, block, ok := strings.Cut(mail, "```yaml\n")
	block, _, _ = strings.Cut(block, "```")
	if !ok {
		t.Fatal("the mail section shows no yaml config")
	}
	cfg, err := ParseConfig([]byte(block), t.TempDir())
	if err != nil {
		t.Fatalf("the README's mail config does not load: %v", err)
	}
	if _, err := smtpOf(cfg); err != nil || cfg.SMTP.TLS != "none" {
		t.Errorf("the README's mail config is not usable: %v %+v", err, cfg.SMTP)
	}
	codes := section(t, doc, "Exit codes")
	for code, name := range map[int]string{exitOK: "ok", exitViolations: "found", exitError: "usage or configuration error", exitPartial: "partial", exitFailed: "failed"} {
		if !regexp.MustCompile(`(?m)^\| ` + "`" + regexp.QuoteMeta(string(rune('0'+code))) + "`" + ` \| \*\*` + regexp.QuoteMeta(name) + `\*\*`).MatchString(codes) {
			t.Errorf("the exit code table has no row `%d` | **%s**", code, name)
		}
	}
}
