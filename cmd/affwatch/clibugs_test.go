package main

import (
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Every command's -h, and every command group's (evidence -h, policy bundle -h, pages -h),
// is help: exit 0 with the usage on standard output, like `affwatch help COMMAND`.
func TestEveryCommandsHelpExitsZero(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range commands {
		var words []string
		for _, w := range strings.Fields(c.name) {
			words = append(words, strings.Split(w, "|")[0])
		}
		// The command itself, and each group it is in (policy, policy bundle).
		for n := len(words); n >= 1; n-- {
			args := strings.Join(words[:n], " ")
			if seen[args] {
				continue
			}
			seen[args] = true
			t.Run(args, func(t *testing.T) {
				code, out, errOut := runCLI(t, append(slices.Clone(words[:n]), "-h")...)
				if code != exitOK || !strings.Contains(out, "usage:") || errOut != "" {
					t.Errorf("affwatch %s -h: exit %d, stdout %q, stderr %q", args, code, out, errOut)
				}
			})
		}
	}
}

// parseArgs takes positional arguments wherever they are among the flags, as every
// command does now, and everything after "--".
func TestParseArgsTakesPositionalsAroundFlags(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		wantPos   []string
		wantLimit int
	}{
		{[]string{"A"}, []string{"A"}, 0},
		{[]string{"A", "--limit", "3"}, []string{"A"}, 3},
		{[]string{"--limit", "3", "A"}, []string{"A"}, 3},
		{[]string{"A", "--limit", "3", "B", "--limit=4"}, []string{"A", "B"}, 4},
		{[]string{"A", "--", "--limit", "5"}, []string{"A", "--limit", "5"}, 0},
		{[]string{"-", "--limit", "2"}, []string{"-"}, 2},
		{nil, nil, 0},
	} {
		fs := newFlags("test", io.Discard)
		limit := fs.Int("limit", 0, "")
		pos, err := parseArgs(fs, tc.args)
		if err != nil || !slices.Equal(pos, tc.wantPos) || *limit != tc.wantLimit {
			t.Errorf("parseArgs(%q) = %q, limit %d, %v; want %q, limit %d", tc.args, pos, *limit, err, tc.wantPos, tc.wantLimit)
		}
	}
	fs := newFlags("test", io.Discard)
	if _, err := parseArgs(fs, []string{"A", "--nope"}); err == nil {
		t.Error("an unknown flag after a positional argument was accepted")
	}
	if _, err := oneArg([]string{"A", "B"}, "the thing"); err == nil || !strings.Contains(err.Error(), "B is one too many") {
		t.Errorf("oneArg with two arguments: %v", err)
	}
}

// writePolicy writes a policy file under dir.
func writePolicy(t *testing.T, dir, name, src string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

const (
	goodRule = "# METADATA\n# title: Page titled Deals\n# custom:\n#   id: HOUSE-001\n#   severity: low\npackage affwatch.rules.house.title\n\n" +
		"deny contains {\"msg\": \"titled deals\", \"evidence\": {\"key\": \"title\"}} if input.text != \"\"\n"
	// syntaxError does not parse: line 8, column 1.
	syntaxError = "# METADATA\n# title: Broken\n# custom:\n#   id: HOUSE-002\n#   severity: low\npackage affwatch.rules.house.broken\n\n}\n"
	// compileError parses but does not compile: line 8 calls a function nobody defines.
	compileError = "# METADATA\n# title: Unknown call\n# custom:\n#   id: HOUSE-003\n#   severity: low\npackage affwatch.rules.house.unknown\n\n" +
		"deny contains {\"msg\": \"x\"} if no_such_function(input.text)\n"
)

// policy check reports EVERY broken file with file:line:col and the compiler's message,
// checks the rest (the good rules compile and are counted), and exits 1 (found), the code
// of a check that found problems; before, the first file that did not parse stopped it
// with exit 2 and the rest went unchecked.
func TestPolicyCheckReportsEveryBrokenFileAndGoesOn(t *testing.T) {
	dir := t.TempDir()
	writePolicy(t, dir, "house/title.rego", goodRule)
	writePolicy(t, dir, "house/broken.rego", syntaxError)
	writePolicy(t, dir, "house/unknown.rego", compileError)
	cfg := writeConfig(t, dir, "policies: {dirs: [house]}\n")
	code, out, errOut := runCLI(t, "policy", "check", "--config", cfg)
	if code != exitViolations {
		t.Fatalf("policy check: exit %d, want %d\n%s%s", code, exitViolations, out, errOut)
	}
	for _, want := range []string{
		filepath.Join(dir, "house", "broken.rego") + ":8:1: rego_parse_error",
		filepath.Join(dir, "house", "unknown.rego") + ":8:",
		"no_such_function",
		"compiled ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("policy check output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI(t, "policy", "check", "--config", cfg, "--format", "json")
	var rep struct {
		Check struct {
			Problems []struct {
				File   string
				Line   int
				Column int
			}
		}
		Rules []struct{ ID string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("policy check --format json: %v\n%s", err, out)
	}
	files := map[string]bool{}
	for _, p := range rep.Check.Problems {
		if p.Line == 0 || p.Column == 0 {
			t.Errorf("problem without line and column: %+v", p)
		}
		files[filepath.Base(p.File)] = true
	}
	if code != exitViolations || !files["broken.rego"] || !files["unknown.rego"] || len(rep.Check.Problems) != 2 {
		t.Errorf("json check: exit %d, problems %+v; want each broken file once", code, rep.Check.Problems)
	}
	if !slices.ContainsFunc(rep.Rules, func(r struct{ ID string }) bool { return r.ID == "HOUSE-001" }) {
		t.Errorf("the good rule beside the broken files was not checked: %+v", rep.Rules)
	}
}

// policy check and policy docs cover the joined (affiliate) rules too, not only the page
// rules.
func TestPolicyCheckAndDocsIncludeJoinedRules(t *testing.T) {
	t.Chdir(t.TempDir()) // no affwatch.yaml: the built-in pack
	code, out, errOut := runCLI(t, "policy", "docs")
	if code != exitOK || !strings.Contains(out, "| JOIN-001 |") || !strings.Contains(out, "joined violation") || !strings.Contains(out, "| DISC-001 |") {
		t.Errorf("policy docs: exit %d, lacks the joined rules or the page rules:\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "policy", "check", "--format", "json")
	if code != exitOK || !strings.Contains(out, `"JOIN-001"`) || !strings.Contains(out, `"DISC-001"`) {
		t.Errorf("policy check: exit %d, lacks the joined rules:\n%s%s", code, out, errOut)
	}
}

// policy bundle build refuses policies that do not compile, naming each problem with its
// file and line, exits 2 and writes no bundle; policies that compile (using the built-in
// library, as the daemon loads them) are bundled.
func TestPolicyBundleBuildRefusesPoliciesThatDoNotCompile(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"syntax", syntaxError, "broken.rego:8:1:"},
		{"compile", compileError, "broken.rego:8:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			pol := filepath.Join(dir, "pol")
			writePolicy(t, pol, "house/title.rego", goodRule)
			writePolicy(t, pol, "house/broken.rego", tc.src)
			out := filepath.Join(dir, "bundle.tar.gz")
			code, stdout, errOut := runCLI(t, "policy", "bundle", "build", pol, "-o", out)
			if code != exitError || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "no bundle written") {
				t.Errorf("bundle build of a broken rule: exit %d, stderr lacks %q\n%s%s", code, tc.want, stdout, errOut)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("a bundle was written anyway")
			}
			leftovers, _ := filepath.Glob(filepath.Join(dir, ".bundle-*"))
			if len(leftovers) > 0 {
				t.Errorf("temporary files left: %v", leftovers)
			}
			os.Remove(filepath.Join(pol, "house", "broken.rego"))
			if code, stdout, errOut := runCLI(t, "policy", "bundle", "-o", out, "build", pol); code != exitError {
				t.Errorf("flags before the subcommand: exit %d\n%s%s", code, stdout, errOut)
			}
			if code, stdout, errOut := runCLI(t, "policy", "bundle", "build", "-o", out, pol); code != exitOK {
				t.Fatalf("bundle build of good policies: exit %d\n%s%s", code, stdout, errOut)
			}
			if _, err := os.Stat(out); err != nil {
				t.Error(err)
			}
		})
	}
}

// clickIDs reads the click ids of a generated clicks.csv.gz.
func clickIDs(t *testing.T, dir string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "clicks.csv.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(zr).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := slices.Index(rows[0], "click_id")
	if col < 0 {
		t.Fatalf("no click_id column in %v", rows[0])
	}
	var ids []string
	for _, r := range rows[1:] {
		ids = append(ids, r[col])
	}
	return ids
}

// events generate: the same seed gives the same ids; another seed gives ids of its own,
// so two generated sets load into one store side by side (before, every seed numbered
// its clicks c0000000001, ..., and the second set was "already loaded").
func TestGeneratedEventIDsDependOnTheSeed(t *testing.T) {
	dir := t.TempDir()
	gen := func(name, seed string) []string {
		out := filepath.Join(dir, name)
		code, stdout, errOut := runCLI(t, "events", "generate", "--seed", seed, "--out", out, "--affiliates", "80", "--fraud-per-pattern", "1",
			"--days", "3", "--clicks-per-day", "20", "--end", "2026-11-01T00:00:00Z")
		if code != exitOK {
			t.Fatalf("events generate --seed %s: exit %d\n%s%s", seed, code, stdout, errOut)
		}
		return clickIDs(t, out)
	}
	a, again, b := gen("a", "1"), gen("a2", "1"), gen("b", "2")
	if !slices.Equal(a, again) {
		t.Error("the same seed wrote other click ids")
	}
	inA := map[string]bool{}
	for _, id := range a {
		inA[id] = true
	}
	shared := 0
	for _, id := range b {
		if inA[id] {
			shared++
		}
	}
	if len(a) == 0 || len(b) == 0 || shared > 0 {
		t.Errorf("seeds 1 and 2: %d and %d clicks, %d ids shared", len(a), len(b), shared)
	}
	// Both sets load into one store: every click of the second is new.
	cfg := writeConfig(t, dir, "store: {dsn: events.db}\n")
	if code, out, errOut := runCLI(t, "ingest", "clicks", "--config", cfg, filepath.Join(dir, "a", "clicks.csv.gz")); code != exitOK {
		t.Fatalf("ingest a: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := runCLI(t, "ingest", "clicks", filepath.Join(dir, "b", "clicks.csv.gz"), "--config", cfg)
	if code != exitOK || !strings.Contains(out, " 0 already loaded") {
		t.Errorf("ingest b after a: exit %d\n%s%s", code, out, errOut)
	}
}

// demo --dir D run twice gives the same state, not the first run's violations beside the
// second's (each run serves the fixture sites on a new port, so on new URLs): a rerun
// starts clean. A directory that is not a demo's is refused, untouched.
func TestDemoRerunStartsClean(t *testing.T) {
	dir := t.TempDir()
	list := func() []string {
		code, out, errOut := runCLI(t, "violations", "list", "--config", filepath.Join(dir, "affwatch.yaml"), "--format", "csv")
		if code != exitOK {
			t.Fatalf("violations list: exit %d\n%s%s", code, out, errOut)
		}
		var rules []string
		rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		col := slices.Index(rows[0], "rule_id")
		for _, r := range rows[1:] {
			rules = append(rules, r[col]+" "+r[slices.Index(rows[0], "affiliate_id")])
		}
		slices.Sort(rules)
		return rules
	}
	for i := range 2 {
		if code, out, errOut := runCLI(t, "demo", "--dir", dir); code != exitOK {
			t.Fatalf("demo run %d: exit %d\n%s%s", i+1, code, out, errOut)
		}
	}
	after := list()
	if len(after) == 0 {
		t.Fatal("no violations after the demo")
	}
	// The flags may follow the scan's number.
	code, out, errOut := runCLI(t, "scans", "show", "--config", filepath.Join(dir, "affwatch.yaml"), "1", "--format", "json")
	if code != exitOK || !strings.HasPrefix(strings.TrimSpace(out), "[") {
		t.Errorf("scans show ID --format json: exit %d\n%s%s", code, out, errOut)
	}
	fresh := t.TempDir()
	if code, out, errOut := runCLI(t, "demo", "--dir", fresh); code != exitOK {
		t.Fatalf("demo in a fresh dir: exit %d\n%s%s", code, out, errOut)
	}
	dir = fresh
	if once := list(); !slices.Equal(once, after) {
		t.Errorf("two demo runs left %d violations, one run %d:\n%v\n%v", len(after), len(once), after, once)
	}

	mine := t.TempDir()
	cfg := writeConfig(t, mine, "store: {dsn: affwatch.db}\n")
	before, _ := os.ReadFile(cfg)
	if code, out, errOut := runCLI(t, "demo", "--dir", mine); code != exitError || !strings.Contains(errOut, "not a demo's configuration") {
		t.Errorf("demo over a config of one's own: exit %d\n%s%s", code, out, errOut)
	}
	if now, _ := os.ReadFile(cfg); string(now) != string(before) {
		t.Error("the demo overwrote a config it had not written")
	}
}
