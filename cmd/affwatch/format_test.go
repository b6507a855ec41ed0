package main

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/affwatch/affwatch/fixtures"
	"github.com/affwatch/affwatch/internal/testkit"
)

const (
	outputSchema = "../../docs/schemas/output.schema.json"
	sarifSchema  = "../../internal/output/testdata/sarif-2.1.0-subset.schema.json"
)

// TestFormatsOfEveryCommand runs policy eval, policy test, policy check and scan with each
// --format they offer and checks the documents against their schemas.
func TestFormatsOfEveryCommand(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "mine")
	os.MkdirAll(pol, 0o755)
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(pol, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("title.rego", "# METADATA\n# title: Title A\n# custom:\n#   id: MINE-001\n#   severity: low\npackage affwatch.rules.mine.title\n\ndeny contains {\"msg\": \"x\"} if input.title == \"a\"\n")
	write("title_test.rego", "package affwatch.rules.mine.title_test\n\nimport data.affwatch.rules.mine.title\n\ntest_fires if {\n\tcount(title.deny) == 1 with input as {\"title\": \"b\"}\n}\n\ntest_quiet if {\n\tcount(title.deny) == 0 with input as {\"title\": \"b\"}\n}\n")
	prog, _ := json.Marshal(fixtures.Program())
	cfg := writeConfig(t, dir, fmt.Sprintf("policies:\n  dirs: [mine]\nprograms:\n  - %s\n", prog))
	claims := filepath.Join("..", "..", "fixtures", "sites", "policy-cases", "claims.html")

	t.Run("policy eval", func(t *testing.T) {
		for _, f := range []string{"json", "sarif"} {
			code, out, errOut := runCLI(t, "policy", "eval", "--config", cfg, "--program", "acme", "--file", claims, "--format", f)
			if code != exitViolations {
				t.Fatalf("%s: exit %d\n%s", f, code, errOut)
			}
			schema := map[string]string{"json": outputSchema, "sarif": sarifSchema}[f]
			testkit.MatchSchema(t, schema, []byte(out))
			if !strings.Contains(out, "CLAIM-001") || !strings.Contains(out, "file://") {
				t.Errorf("%s: no CLAIM-001 finding on the file:\n%s", f, out)
			}
		}
		_, out, _ := runCLI(t, "policy", "eval", "--config", cfg, "--program", "acme", "--file", claims, "--format", "sarif")
		if !strings.Contains(out, `"level": "error"`) || !strings.Contains(out, `"kind": "element"`) {
			t.Errorf("sarif: no error-level result located at an element:\n%s", out)
		}
		if code, _, errOut := runCLI(t, "policy", "eval", "--file", claims, "--format", "junit"); code != exitError || !strings.Contains(errOut, "text, json, sarif") {
			t.Errorf("--format junit on eval: exit %d %s", code, errOut)
		}
	})

	t.Run("policy test", func(t *testing.T) {
		code, out, errOut := runCLI(t, "policy", "test", "--config", cfg, "--run", "mine", "--format", "junit")
		if code != exitViolations {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		var suites struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Suites   []struct {
				Cases []struct {
					Name    string `xml:"name,attr"`
					Failure *struct {
						Message string `xml:"message,attr"`
					} `xml:"failure"`
				} `xml:"testcase"`
			} `xml:"testsuite"`
		}
		if err := xml.Unmarshal([]byte(out), &suites); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if suites.Tests != 2 || suites.Failures != 1 {
			t.Fatalf("tests %d failures %d, want 2 and 1\n%s", suites.Tests, suites.Failures, out)
		}
		for _, c := range suites.Suites[0].Cases {
			if c.Name == "test_fires" && (c.Failure == nil || !strings.Contains(c.Failure.Message, "title_test.rego:6: count(title.deny) == 1")) {
				t.Errorf("the failure does not say the expression and where: %+v", c.Failure)
			}
		}
		code, out, _ = runCLI(t, "policy", "test", "--config", cfg, "--coverage", "--format", "json")
		if code != exitViolations {
			t.Fatalf("json: exit %d", code)
		}
		testkit.MatchSchema(t, outputSchema, []byte(out))
		if !strings.Contains(out, `"expression": "count(title.deny) == 1`) {
			t.Errorf("json: the failing expression is missing:\n%.2000s", out)
		}
	})

	t.Run("policy check", func(t *testing.T) {
		write("bad.rego", "# METADATA\n# title: Bad\n# custom:\n#   id: MINE-002\n#   severity: low\npackage affwatch.rules.mine.bad\n\ndeny contains {\"msg\": \"x\"} if input.titel == \"a\"\n")
		defer os.Remove(filepath.Join(pol, "bad.rego"))
		for _, f := range []string{"json", "sarif"} {
			code, out, _ := runCLI(t, "policy", "check", "--config", cfg, "--format", f)
			if code != exitViolations {
				t.Fatalf("%s: exit %d", f, code)
			}
			schema := map[string]string{"json": outputSchema, "sarif": sarifSchema}[f]
			testkit.MatchSchema(t, schema, []byte(out))
			if !strings.Contains(out, "bad.rego") || !strings.Contains(out, `"startLine": 8`) && f == "sarif" || !strings.Contains(out, `"line": 8`) && f == "json" {
				t.Errorf("%s: the problem is not located at bad.rego line 8:\n%s", f, out)
			}
		}
	})

	t.Run("scan", func(t *testing.T) {
		srv, err := fixtures.Start()
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		for _, f := range []string{"json", "sarif"} {
			sdir := t.TempDir()
			scfg := writeConfig(t, sdir, demoConfig(srv))
			code, out, errOut := runCLI(t, "scan", "--config", scfg, "--format", f)
			if code != exitViolations {
				t.Fatalf("%s: exit %d\n%s", f, code, errOut)
			}
			schema := map[string]string{"json": outputSchema, "sarif": sarifSchema}[f]
			testkit.MatchSchema(t, schema, []byte(out))
			if !strings.Contains(out, srv.URL("stuffer")) || !strings.Contains(out, "STUFF-001") {
				t.Errorf("%s: the stuffer's violation is missing:\n%.3000s", f, out)
			}
		}
	})
}
