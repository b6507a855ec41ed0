package rules

import (
	"maps"
	"strings"
	"unicode"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Words of the page's index (Page.Words) that no rule can ask for are left out of the
// input: a page has a key per distinct word (hundreds on a long page) and a rule looks up
// a few dozen, so building the rest costs allocations every evaluation pays for nothing.

var (
	// libWords is the index as the rules reach it (lib/page.rego's words).
	libWords = ast.MustParseRef("data.affwatch.lib.page.words")
	// inputWords is the index in the input.
	inputWords = ast.MustParseRef("input.words")
	// objectFilter is the built-in that looks a set of words up in the index.
	objectFilter = ast.MustParseRef("object.filter")
)

// libPackage is the package of the helpers that build words from the input.
const libPackage = "data.affwatch.lib.page"

// indexWords returns the words of the page index the rules can ask for, or nil when they
// may ask for any: every string constant of the modules and of the programs' data (the
// words lists are written as constants; a brand term may be looked up), lower-cased and
// split into words as the index has them. It is nil when a rule reads the index other than
// by object.filter(index, words): iterating over its keys, or indexing it with a value
// built from the page, could name a word no constant names.
func indexWords(mods map[string]*ast.Module, data map[string]any) map[string]struct{} {
	words := map[string]struct{}{}
	add := func(s string) {
		words[s] = struct{}{}
		for _, w := range tokenize(s) {
			words[w] = struct{}{}
		}
	}
	for _, m := range mods {
		if m.Package.Path.String() == libPackage {
			// lib/page.rego defines words (input.words, or built from the blocks) and
			// reads it nowhere else.
			if usesIndex(m, false) {
				return nil
			}
		} else if usesIndex(m, true) {
			return nil
		}
		ast.WalkTerms(m, func(t *ast.Term) bool {
			if s, ok := t.Value.(ast.String); ok {
				add(string(s))
			}
			return false
		})
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			add(v)
		case map[string]any:
			for k, x := range maps.All(v) {
				add(k)
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(data)
	return words
}

// usesIndex is true when the module reads the word index other than as the first argument
// of object.filter (or, in the lib module, at all outside its words rule).
func usesIndex(m *ast.Module, rules bool) bool {
	aliases := map[ast.Var]ast.Ref{}
	for _, imp := range m.Imports {
		if r, ok := imp.Path.Value.(ast.Ref); ok {
			alias := imp.Alias
			if alias == "" {
				alias = ast.Var(r[len(r)-1].Value.(ast.String))
			}
			aliases[alias] = r
		}
	}
	resolve := func(r ast.Ref) ast.Ref {
		if v, ok := r[0].Value.(ast.Var); ok {
			if to, ok := aliases[v]; ok {
				return to.Concat(r[1:])
			}
		}
		return r
	}
	isIndex := func(t *ast.Term) bool {
		r, ok := t.Value.(ast.Ref)
		if !ok {
			return false
		}
		r = resolve(r)
		if r.HasPrefix(libWords) || r.HasPrefix(inputWords) {
			return true
		}
		// the whole input, or a key of it chosen at run time, may be the index too
		if r[0].Value.Compare(ast.InputRootDocument.Value) == 0 {
			if len(r) == 1 {
				return true
			}
			_, named := r[1].Value.(ast.String)
			return !named
		}
		// in the lib module, its own words rule
		return !rules && r[0].Value.Compare(ast.Var("words")) == 0
	}
	if !rules {
		for _, rule := range m.Rules {
			if rule.Head.Name == "words" || rule.Head.Ref().String() == "words" {
				continue
			}
			found := false
			ast.WalkTerms(rule, func(t *ast.Term) bool {
				found = found || isIndex(t)
				return found
			})
			if found {
				return true
			}
		}
		return false
	}
	all, filtered := 0, 0
	ast.WalkTerms(m, func(t *ast.Term) bool {
		if isIndex(t) {
			all++
		}
		return false
	})
	count := func(ts []*ast.Term) {
		if len(ts) >= 2 && ts[0].Value.Compare(objectFilter) == 0 && isIndex(ts[1]) {
			filtered++
		}
	}
	ast.WalkExprs(m, func(x *ast.Expr) bool {
		if ts, ok := x.Terms.([]*ast.Term); ok {
			count(ts)
		}
		return false
	})
	ast.WalkTerms(m, func(t *ast.Term) bool {
		if c, ok := t.Value.(ast.Call); ok {
			count(c)
		}
		return false
	})
	return all != filtered
}

// tokenize splits a lower-cased text into words as the crawler's index does: runs of
// letters, and each other character that is neither a digit nor a space.
func tokenize(s string) []string {
	s = strings.ToLower(s)
	var out []string
	start := -1
	for j, r := range s {
		if unicode.IsLetter(r) {
			if start < 0 {
				start = j
			}
			continue
		}
		if start >= 0 {
			out = append(out, s[start:j])
			start = -1
		}
		if !unicode.IsDigit(r) && !unicode.IsSpace(r) {
			out = append(out, string(r))
		}
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out
}
