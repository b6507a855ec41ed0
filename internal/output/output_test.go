package output_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/affwatch/affwatch/internal/output"
	"github.com/affwatch/affwatch/internal/testkit"
)

// The schemas the documents are checked against: the JSON output's own (documented in the
// repository) and the subset of SARIF 2.1.0's official schema that matters here.
const (
	jsonSchema  = "../../docs/schemas/output.schema.json"
	sarifSchema = "testdata/sarif-2.1.0-subset.schema.json"
)

func tool() output.Tool { return output.Tool{Name: "affwatch", Version: "test"} }

var catalogue = []output.Rule{
	{ID: "DISC-001", Title: "Affiliate links without a disclosure", Severity: "high", Kind: "deny", Package: "affwatch.rules.disclosure.missing"},
	{ID: "CLAIM-002", Title: "Pressure selling claim", Severity: "medium", Kind: "warn"},
	{ID: "LINK-001", Title: "Affiliate link without rel=sponsored", Severity: "low", Kind: "deny"},
	{ID: "STUFF-001", Title: "Cookie stuffing", Severity: "critical", Kind: "deny"},
}

func reports() map[string]*output.Report {
	return map[string]*output.Report{
		"eval": {Tool: tool(), Command: output.CommandEval, PolicyRevision: "abc", Rules: catalogue,
			Pages: []output.Page{{URL: "https://partner.example/deals", FetchStatus: "ok", Links: 3, AffiliateLinks: 2,
				Findings: []output.Finding{
					{RuleID: "DISC-001", Title: "t", Severity: "high", Kind: "deny", Message: "2 affiliate links and no disclosure",
						Evidence: output.Evidence{Snippet: "Buy here", Selector: "body > p:nth-of-type(2) > a", Offset: 37, Key: "https://click"}},
					{RuleID: "CLAIM-002", Title: "t", Severity: "medium", Kind: "warn", Message: "urgency", Evidence: output.Evidence{Offset: 0}},
					{RuleID: "LINK-001", Title: "t", Severity: "low", Kind: "deny", Message: "no rel", Suppressed: "agreed with the partner"},
				}}},
			Summary: output.Summary{Findings: 3}},
		"scan": {Tool: tool(), Command: output.CommandScan, Rules: catalogue[:1],
			Scan: &output.Scan{ID: 4, Status: "succeeded", Pages: 6, Verified: 6, Findings: 1, New: 1},
			Violations: []output.Violation{{Fingerprint: "f00d", RuleID: "DISC-001", Title: "t", Severity: "high", State: "new",
				AffiliateID: "deal-hunter", URL: "http://127.0.0.1:1/", Message: "m", PolicyRevision: "abc",
				Evidence: output.Evidence{Selector: "a", Offset: 5}}},
			Summary: output.Summary{Findings: 1}},
		"check": {Tool: tool(), Command: output.CommandCheck,
			Check: &output.Check{Error: "load policies: ...", Problems: []output.Problem{{File: "mine/bad.rego", Line: 8, Message: "rego_type_error: undefined ref: input.titel"},
				{Message: "no file"}}, Unformatted: []string{"mine/ok.rego"}},
			Summary: output.Summary{Problems: 3}},
		"test": {Tool: tool(), Command: output.CommandTest,
			Tests: []output.Test{
				{Package: "data.a_test", Name: "test_ok", File: "a_test.rego", Line: 3, Status: "pass", DurationMS: 1.5},
				{Package: "data.a_test", Name: "test_bad", File: "a_test.rego", Line: 7, Status: "fail", DurationMS: 2,
					Failures: []output.Failure{{Location: "a_test.rego:8", Expression: "count(x) == 1", Vars: map[string]string{"x": "[]"}}}},
				{Package: "data.b_test", Name: "test_err", File: "b_test.rego", Line: 2, Status: "error", Error: "eval_conflict_error"},
				{Package: "data.b_test", Name: "todo_test_later", File: "b_test.rego", Line: 9, Status: "skip"},
			},
			Coverage: &output.Coverage{Percent: 91, Files: []output.FileCoverage{{File: "a.rego", Percent: 91, NotCovered: []output.LineRange{{Start: 4, End: 5}}}}},
			Summary:  output.Summary{Tests: 4, Passed: 2, Failed: 2, Skipped: 1, DurationMS: 12}},
	}
}

func render(t *testing.T, f output.Format, r *output.Report) []byte {
	t.Helper()
	out, err := output.Get(string(f), f)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := out.Output(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestJSONMatchesItsSchema(t *testing.T) {
	for name, r := range reports() {
		t.Run(name, func(t *testing.T) {
			doc := render(t, output.JSON, r)
			testkit.MatchSchema(t, jsonSchema, doc)
			var back map[string]any
			json.Unmarshal(doc, &back)
			if back["schema_version"] != float64(output.SchemaVersion) || back["command"] != r.Command {
				t.Errorf("schema_version/command: %v %v", back["schema_version"], back["command"])
			}
		})
	}
}

func TestSARIFMatchesTheSARIFSchema(t *testing.T) {
	for _, name := range []string{"eval", "scan", "check"} {
		t.Run(name, func(t *testing.T) {
			doc := render(t, output.SARIF, reports()[name])
			testkit.MatchSchema(t, sarifSchema, doc)
		})
	}
	// The subset schema is not a rubber stamp: it refuses what SARIF refuses.
	for name, bad := range map[string]string{
		"no version":        `{"runs": []}`,
		"no driver name":    `{"version": "2.1.0", "runs": [{"tool": {"driver": {}}}]}`,
		"unknown level":     `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"ruleId": "A", "level": "fatal", "message": {"text": "m"}, "locations": []}]}]}`,
		"no message text":   `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"ruleId": "A", "level": "note", "message": {}, "locations": []}]}]}`,
		"no rule id":        `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"level": "note", "message": {"text": "m"}, "locations": []}]}]}`,
		"line 0":            `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"ruleId": "A", "level": "note", "message": {"text": "m"}, "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a"}, "region": {"startLine": 0}}}]}]}]}`,
		"other version":     `{"version": "2.0.0", "runs": []}`,
		"bad suppression":   `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"ruleId": "A", "level": "note", "message": {"text": "m"}, "locations": [], "suppressions": [{"kind": "manual"}]}]}]}`,
		"bad baselineState": `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"ruleId": "A", "level": "note", "message": {"text": "m"}, "locations": [], "baselineState": "old"}]}]}`,
	} {
		if errs := testkit.SchemaErrors(t, sarifSchema, []byte(bad)); len(errs) == 0 {
			t.Errorf("%s: the SARIF schema accepts %s", name, bad)
		}
	}
}

func TestSARIFResults(t *testing.T) {
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct{ ID string } `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Message   struct{ Text string }
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string } `json:"artifactLocation"`
						Region           *struct {
							StartLine int `json:"startLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
					LogicalLocations []struct{ Name, Kind string } `json:"logicalLocations"`
				} `json:"locations"`
				Suppressions []struct{ Kind, Justification string } `json:"suppressions"`
				Properties   map[string]any                         `json:"properties"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(render(t, output.SARIF, reports()["eval"]), &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	if len(run.Results) != 3 {
		t.Fatalf("%d results, want 3", len(run.Results))
	}
	want := []struct{ rule, level string }{{"DISC-001", "error"}, {"CLAIM-002", "warning"}, {"LINK-001", "note"}}
	for i, w := range want {
		r := run.Results[i]
		if r.RuleID != w.rule || r.Level != w.level || run.Tool.Driver.Rules[r.RuleIndex].ID != w.rule {
			t.Errorf("result %d: %s %s (rule index %d), want %s %s", i, r.RuleID, r.Level, r.RuleIndex, w.rule, w.level)
		}
		if r.Locations[0].PhysicalLocation.ArtifactLocation.URI != "https://partner.example/deals" {
			t.Errorf("result %d: artifact %q, want the page URL", i, r.Locations[0].PhysicalLocation.ArtifactLocation.URI)
		}
	}
	first := run.Results[0]
	if l := first.Locations[0].LogicalLocations; len(l) != 1 || l[0].Name != "body > p:nth-of-type(2) > a" || l[0].Kind != "element" {
		t.Errorf("the element's selector is not a logical location: %+v", l)
	}
	if first.Properties["selector"] != "body > p:nth-of-type(2) > a" || first.Properties["text_offset"] != float64(37) {
		t.Errorf("properties: %v", first.Properties)
	}
	if s := run.Results[2].Suppressions; len(s) != 1 || s[0].Justification != "agreed with the partner" {
		t.Errorf("a finding a program exception covers is not suppressed: %+v", s)
	}
	for sev, level := range map[string]string{"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"} {
		if got := output.SARIFLevel(sev); got != level {
			t.Errorf("SARIFLevel(%s) = %s, want %s", sev, got, level)
		}
	}
}

func TestJUnit(t *testing.T) {
	doc := render(t, output.JUnit, reports()["test"])
	var suites struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Skipped  int `xml:"skipped,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name    string `xml:"name,attr"`
				File    string `xml:"file,attr"`
				Line    int    `xml:"line,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
					Body    string `xml:",chardata"`
				} `xml:"failure"`
				Error   *struct{} `xml:"error"`
				Skipped *struct{} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(doc, &suites); err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	if suites.Tests != 4 || suites.Failures != 1 || suites.Errors != 1 || suites.Skipped != 1 || len(suites.Suites) != 2 {
		t.Fatalf("counts: %+v\n%s", suites, doc)
	}
	var fail bool
	for _, s := range suites.Suites {
		for _, c := range s.Cases {
			if c.Name == "test_bad" {
				fail = true
				if c.Failure == nil || c.Failure.Message != "a_test.rego:8: count(x) == 1" || !strings.Contains(c.Failure.Body, "x = []") || c.File != "a_test.rego" || c.Line != 7 {
					t.Errorf("the failing test's case: %+v", c)
				}
			}
		}
	}
	if !fail {
		t.Errorf("no testcase for test_bad:\n%s", doc)
	}
}

func TestGetOffersOnlyTheCommandsFormats(t *testing.T) {
	if _, err := output.Get("junit", output.Text, output.JSON, output.SARIF); err == nil || !strings.Contains(err.Error(), "text, json, sarif") {
		t.Errorf("junit for a command without it: %v", err)
	}
	for _, name := range []string{"", "text", "pretty", "TEXT"} {
		if _, err := output.Get(name, output.Text); err != nil {
			t.Errorf("%q: %v", name, err)
		}
	}
}
