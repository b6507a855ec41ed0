package rules

import (
	"errors"

	"github.com/open-policy-agent/opa/v1/ast"
)

// ValidRuleID reports whether id has the form of a rule id: capitals, a dash and at least
// three digits (DISC-001).
func ValidRuleID(id string) bool { return ruleIDPattern.MatchString(id) }

// ReadCatalogue reads the rule catalogue of the sources from their METADATA alone, without
// compiling them (tools that need only the ids and titles, such as `policy new`). Files
// that do not parse, or whose METADATA is wrong, are left out and named in the error.
func ReadCatalogue(sources []Source) ([]Rule, error) {
	files, _, err := readSources(sources, false)
	if err != nil {
		return nil, err
	}
	mods := map[string]*ast.Module{}
	var order []string
	var errs []error
	for _, f := range files {
		m, err := ast.ParseModuleWithOpts(f.name, string(f.src), ast.ParserOptions{ProcessAnnotation: true, RegoVersion: ast.RegoV1})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		mods[f.name] = m
		order = append(order, f.name)
	}
	rules, bad := catalogue(mods, order, RulePrefix, AffiliateRulePrefix)
	for _, name := range order {
		if bad[name] != nil {
			errs = append(errs, bad[name])
		}
	}
	return rules, errors.Join(errs...)
}
