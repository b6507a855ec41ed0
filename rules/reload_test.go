package rules_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/affwatch/affwatch/policies"
	"github.com/affwatch/affwatch/rules"
)

const extraRule = `# METADATA
# title: Title mentions a giveaway
# custom:
#   id: EXTRA-001
#   severity: low
package affwatch.rules.extra.giveaway

deny contains {"msg": "giveaway"} if contains(lower(input.title), "giveaway")
`

const extraTest = `package affwatch.rules.extra.giveaway_test

import data.affwatch.rules.extra.giveaway

test_giveaway if count(giveaway.deny) == 1 with input as {"title": "Big GIVEAWAY"}
`

func TestReloaderSwapsOnlyGoodRevisions(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("giveaway.rego", extraRule)
	write("giveaway_test.rego", extraTest)
	ctx := context.Background()
	r, err := rules.NewReloader(ctx, []rules.Source{{Name: "policies", FS: policies.FS}, {Name: dir, FS: os.DirFS(dir)}}, rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	first := r.Revision()
	if changed, err := r.Check(ctx); changed || err != nil {
		t.Fatalf("nothing changed, yet Check = %v, %v", changed, err)
	}

	// A syntax error is refused with its file and line; the last good revision stays.
	write("giveaway.rego", strings.Replace(extraRule, `contains(lower(input.title), "giveaway")`, `contains(lower(input.title),`, 1))
	changed, err := r.Check(ctx)
	if changed || err == nil || !strings.Contains(err.Error(), "giveaway.rego:") || r.Revision() != first {
		t.Fatalf("broken policy: changed %v, err %v, revision %s (was %s)", changed, err, r.Revision(), first)
	}

	// A revision that compiles but fails its own test is refused too.
	write("giveaway.rego", strings.Replace(extraRule, `"giveaway")`, `"sweepstakes")`, 1))
	changed, err = r.Check(ctx)
	if changed || err == nil || !strings.Contains(err.Error(), "test_giveaway") || r.Revision() != first {
		t.Fatalf("failing test: changed %v, err %v", changed, err)
	}

	// A good edit is swapped in.
	write("giveaway.rego", strings.Replace(extraRule, "severity: low", "severity: medium", 1))
	changed, err = r.Check(ctx)
	if !changed || err != nil || r.Revision() == first {
		t.Fatalf("good edit: changed %v, err %v", changed, err)
	}
	for _, rule := range r.Engine().Rules() {
		if rule.ID == "EXTRA-001" && rule.Severity.String() != "medium" {
			t.Errorf("EXTRA-001 severity %s after reload", rule.Severity)
		}
	}
}
