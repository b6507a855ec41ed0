package rules_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/policies"
	"github.com/affwatch/affwatch/rules"
)

// TestAffiliateKind loads the same pack as two engines: the page engine has no joined
// rule, the affiliate engine only the joined rules, compiled against the affiliate
// document's schema; an affiliate document is judged with the program's settings.
func TestAffiliateKind(t *testing.T) {
	ctx := context.Background()
	src := []rules.Source{{Name: "policies", FS: policies.FS}}
	page, err := rules.Load(ctx, src, rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range page.RuleIDs() {
		if strings.HasPrefix(id, "JOIN-") {
			t.Errorf("page engine has joined rule %s", id)
		}
	}
	prog := affwatch.Program{ID: "acme", SeverityOverrides: map[string]affwatch.Severity{"JOIN-003": affwatch.SeverityLow}}
	aff, err := rules.Load(ctx, src, rules.Options{Kind: rules.KindAffiliate, Programs: []affwatch.Program{prog}})
	if err != nil {
		t.Fatal(err)
	}
	if got := aff.RuleIDs(); !slices.Equal(got, []string{"JOIN-001", "JOIN-002", "JOIN-003", "JOIN-004", "JOIN-005"}) {
		t.Fatalf("affiliate engine rules %v", got)
	}
	doc := &affwatch.AffiliateDocument{SchemaVersion: 1, Affiliate: affwatch.DocAffiliate{ID: "alpha", Program: "acme", Sites: []string{}},
		Scorecard: affwatch.DocScorecard{OpenViolations: map[string]int{}},
		Pages: []affwatch.DocPage{{URL: "https://alpha.example/", Verified: true, Promotions: []affwatch.DocPromotion{
			{Network: "awin", Merchant: "1001", Links: 2, Ours: true}, {Network: "awin", Merchant: "2002", Links: 1}}}},
		Violations: []affwatch.DocViolation{}, Findings: []affwatch.DocFinding{}, Promotions: []affwatch.DocPromotion{}}
	fs, err := aff.EvaluateAffiliate(ctx, doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].RuleID != "JOIN-003" || fs[0].Severity != affwatch.SeverityLow || fs[0].Evidence.Key != "https://alpha.example/|awin|2002" {
		t.Fatalf("findings %+v, want JOIN-003 at the program's low severity", fs)
	}
	if _, err := page.EvaluateAffiliate(ctx, doc); err == nil {
		t.Error("the page engine judged an affiliate document")
	}
	cat, err := rules.ReadCatalogue(src)
	if err != nil || !slices.ContainsFunc(cat, func(r rules.Rule) bool { return r.ID == "JOIN-005" }) {
		t.Errorf("catalogue (err %v) lacks the joined rules", err)
	}
}
