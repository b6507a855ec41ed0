package policies_test

import (
	"context"
	"testing"

	"github.com/affwatch/affwatch/policies"
	"github.com/affwatch/affwatch/rules"
)

// TestRegoUnitTests runs every test_ rule of the default pack, so `go test ./...` runs
// the policy authors' tests too.
func TestRegoUnitTests(t *testing.T) {
	run, err := rules.RunTests(context.Background(), []rules.Source{{Name: "policies", FS: policies.FS}}, nil,
		rules.TestOptions{Coverage: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Results) == 0 {
		t.Fatal("the default pack has no Rego tests")
	}
	// The pack's own tests must cover at least 90% of its policy lines.
	if run.Coverage == nil || run.Coverage.Coverage < 90 {
		for name, f := range run.Coverage.Files {
			if f.Coverage < 100 {
				t.Logf("%s: %.1f%% (not covered: %v)", name, f.Coverage, f.NotCovered)
			}
		}
		t.Errorf("policy coverage %.1f%%, want at least 90%%", run.Coverage.Coverage)
	}
	t.Logf("%d Rego tests, policy coverage %.1f%%", len(run.Results), run.Coverage.Coverage)
	for _, r := range run.Results {
		t.Run(r.Package+"."+r.Name, func(t *testing.T) {
			switch {
			case r.Error != nil:
				t.Errorf("%s: error: %v", r.Location, r.Error)
			case r.Fail:
				t.Errorf("%s: failed\n%s", r.Location, r.Output)
			case r.Skip:
				t.Skip("todo_ test")
			}
		})
	}
}
