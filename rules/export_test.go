package rules

import (
	"encoding/json"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/affwatch/affwatch"
)

// JSONInput exposes the JSON-built input for the test that the direct one agrees with it.
var JSONInput = jsonInput

// jsonInput is the input as encoding/json and OPA's JSON reader make it: the reference
// toValue must agree with.
func jsonInput(page *affwatch.Page) (ast.Value, error) {
	raw, err := json.Marshal(page)
	if err != nil {
		return nil, err
	}
	return ast.ValueFromReader(strings.NewReader(string(raw)))
}
