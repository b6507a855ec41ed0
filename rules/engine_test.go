package rules_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/policies"
	"github.com/affwatch/affwatch/rules"
)

func load(t *testing.T, extra fstest.MapFS) (*rules.Engine, error) {
	t.Helper()
	srcs := []rules.Source{{Name: "policies", FS: policies.FS}}
	if extra != nil {
		srcs = append(srcs, rules.Source{Name: "extra", FS: extra})
	}
	return rules.Load(context.Background(), srcs, rules.Options{Programs: []affwatch.Program{{ID: "acme"}}})
}

func TestDefaultPackLoads(t *testing.T) {
	e, err := load(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, r := range e.Rules() {
		ids[r.ID] = true
	}
	for _, want := range []string{"DISC-001", "DISC-002", "STUFF-001"} {
		if !ids[want] {
			t.Errorf("rule %s missing from catalogue %v", want, ids)
		}
	}
}

func TestEvaluateFindsMissingDisclosure(t *testing.T) {
	e, err := load(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	page := &affwatch.Page{SchemaVersion: 1, URL: "https://blog.example/p", Program: "acme", FetchStatus: affwatch.FetchOK,
		Links: []affwatch.Link{{Href: "https://www.amazon.com/dp/B0?tag=x-20", Text: "buy", Rel: []string{}, Offset: 5,
			Affiliate: &affwatch.AffiliateLink{Network: "amazon", AffiliateID: "x-20"}}}}
	fs, err := e.Evaluate(context.Background(), page)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 2 || fs[0].RuleID != "DISC-001" || fs[0].Severity != affwatch.SeverityHigh {
		t.Fatalf("findings = %+v, want DISC-001 (high) and LINK-001", fs)
	}
}

func TestBadPoliciesNameFileAndLine(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"syntax", "package affwatch.rules.x.y\n\ndeny contains f if {\n  f := \n}\n", "bad.rego:"},
		{"unknown input field", "# METADATA\n# title: T\n# custom:\n#   id: XX-001\n#   severity: low\npackage affwatch.rules.x.y\n\ndeny contains f if {\n  input.titel == \"a\"\n  f := {\"msg\": \"m\"}\n}\n", "titel"},
		{"missing id", "# METADATA\n# title: T\n# custom:\n#   severity: low\npackage affwatch.rules.x.y\n\ndeny contains f if {\n  f := {\"msg\": \"m\"}\n}\n", "bad.rego:1: package affwatch.rules.x.y: METADATA custom.id is missing"},
		{"duplicate id", "# METADATA\n# title: T\n# custom:\n#   id: DISC-001\n#   severity: low\npackage affwatch.rules.x.y\n\ndeny contains f if {\n  f := {\"msg\": \"m\"}\n}\n", "custom.id DISC-001 is already used"},
		{"bad severity", "# METADATA\n# title: T\n# custom:\n#   id: XX-001\n#   severity: urgent\npackage affwatch.rules.x.y\n\ndeny contains f if {\n  f := {\"msg\": \"m\"}\n}\n", "unknown severity \"urgent\""},
		{"network builtin", "# METADATA\n# title: T\n# custom:\n#   id: XX-001\n#   severity: low\npackage affwatch.rules.x.y\n\ndeny contains f if {\n  r := http.send({\"method\": \"get\", \"url\": \"http://127.0.0.1/\"})\n  f := {\"msg\": r.body}\n}\n", "http.send"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := load(t, fstest.MapFS{"bad.rego": {Data: []byte(tc.src)}})
			if err == nil {
				t.Fatal("loaded a bad policy")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "left out: extra/bad.rego") {
				t.Errorf("error %q does not say which file was left out", err)
			}
			// The broken file does not take the pack down: the built-in rules still judge.
			if e == nil {
				t.Fatal("no engine: one broken file took every rule down")
			}
			for _, r := range e.Rules() {
				if r.File == "extra/bad.rego" {
					t.Errorf("the broken file's rule %s is in force", r.ID)
				}
				if r.ID == "DISC-001" && !strings.HasPrefix(r.File, "policies/") {
					t.Errorf("DISC-001 comes from %s, not the built-in pack", r.File)
				}
			}
			fs, err := e.Evaluate(context.Background(), &affwatch.Page{SchemaVersion: 1, URL: "https://blog.example/p", Program: "acme",
				FetchStatus: affwatch.FetchOK, Links: []affwatch.Link{{Href: "https://www.amazon.com/dp/B0?tag=x-20", Text: "buy",
					Rel: []string{"sponsored"}, Offset: 5, Affiliate: &affwatch.AffiliateLink{Network: "amazon", AffiliateID: "x-20"}}}})
			if err != nil || len(fs) != 1 || fs[0].RuleID != "DISC-001" {
				t.Fatalf("the built-in DISC-001 no longer runs beside the broken file: %+v %v", fs, err)
			}
		})
	}
}

func TestRuntimeErrorInOneRuleLeavesTheOthers(t *testing.T) {
	conflict := "# METADATA\n# title: Conflicting rule\n# custom:\n#   id: XX-001\n#   severity: low\npackage affwatch.rules.x.conflict\n\n" +
		"v := input.url\n\nv := input.title\n\ndeny contains {\"msg\": v} if true\n"
	e, err := load(t, fstest.MapFS{"conflict.rego": {Data: []byte(conflict)}})
	if err != nil {
		t.Fatal(err)
	}
	page := &affwatch.Page{SchemaVersion: 1, URL: "https://blog.example/p", Title: "different", Program: "acme",
		Links: []affwatch.Link{{Href: "https://www.amazon.com/dp/B0?tag=x-20", Text: "buy", Rel: []string{"sponsored"}, Offset: 5,
			Affiliate: &affwatch.AffiliateLink{Network: "amazon", AffiliateID: "x-20"}}}}
	fs, err := e.Evaluate(context.Background(), page)
	var failed affwatch.RulesFailed
	if !errors.As(err, &failed) || strings.Join(failed.Failed(), ",") != "XX-001" {
		t.Fatalf("error %v, want XX-001 named as failed", err)
	}
	if !strings.Contains(err.Error(), "conflict.rego") && !strings.Contains(err.Error(), "conflict") {
		t.Errorf("error does not locate the rule: %v", err)
	}
	if len(fs) != 1 || fs[0].RuleID != "DISC-001" {
		t.Fatalf("the other rules' findings: %+v", fs)
	}
}
