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
	results, err := rules.RunTests(context.Background(), []rules.Source{{Name: "policies", FS: policies.FS}}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(results) == 0 {
		t.Fatal("the default pack has no Rego tests")
	}
	for _, r := range results {
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
