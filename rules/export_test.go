package rules

import (
	"encoding/json"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/affwatch/affwatch"
)

// IndexWords exposes the index words an engine's inputs carry (nil: all).
func (e *Engine) IndexWords() map[string]struct{} { return e.words }

// JSONInput exposes the JSON-built input for the test that the direct one agrees with it.
var JSONInput = jsonInput

// jsonInput is the input as encoding/json and OPA's JSON reader make it, with the word
// index cut to the engine's words: the reference toValue must agree with.
func jsonInput(e *Engine, page *affwatch.Page) (ast.Value, error) {
	p := *page
	if e.words != nil && p.Words != nil {
		p.Words = map[string][]int{}
		for w, is := range page.Words {
			if _, ok := e.words[w]; ok {
				p.Words[w] = is
			}
		}
	}
	raw, err := json.Marshal(&p)
	if err != nil {
		return nil, err
	}
	return ast.ValueFromReader(strings.NewReader(string(raw)))
}
