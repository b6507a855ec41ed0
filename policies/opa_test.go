package policies_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPlainOPA runs the opa command of the module's own OPA version (`go tool opa`) on the
// policy directory the way a policy author would: the pack must test, check in strict
// mode (with and without the schemas: the page rules with the Page schema, the joined
// rules in affiliate/ with the affiliate document's) and be formatted without affwatch.
func TestPlainOPA(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the opa command (about a minute the first time)")
	}
	out, err := exec.Command("go", "tool", "-n", "opa").CombinedOutput()
	if err != nil {
		t.Fatalf("go tool -n opa: %v\n%s", err, out)
	}
	opa := strings.TrimSpace(string(out))
	for _, args := range [][]string{
		{"test", "policies/"},
		{"test", "-s", "policies/schemas/page/page.schema.json", "--ignore", "affiliate", "policies/"},
		{"test", "-s", "policies/schemas/affiliate/affiliate.schema.json", "policies/affiliate/"},
		{"check", "--strict", "policies/"},
		{"check", "--strict", "-s", "policies/schemas/page/page.schema.json", "--ignore", "affiliate", "policies/"},
		{"check", "--strict", "-s", "policies/schemas/affiliate/affiliate.schema.json", "policies/affiliate/"},
		{"fmt", "--list", "--fail", "policies/"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			cmd := exec.Command(opa, args...)
			cmd.Dir = ".." // the repository root, where an author runs it
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("opa %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			if args[0] == "fmt" && len(strings.TrimSpace(string(out))) > 0 {
				t.Fatalf("opa fmt would change:\n%s", out)
			}
			t.Logf("opa %s: %s", strings.Join(args, " "), strings.TrimSpace(string(out)))
		})
	}
}
