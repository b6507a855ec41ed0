package rules

import (
	"context"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/open-policy-agent/opa/v1/util"

	"github.com/affwatch/affwatch"
)

// TestResult is the outcome of one Rego unit test.
type TestResult = tester.Result

// RunTests runs the Rego unit tests (test_ rules in *_test.rego files) of the sources
// with the OPA tester, under the same capabilities and Page schema as the engine.
// filter, when not empty, is a regular expression selecting tests by name.
func RunTests(ctx context.Context, sources []Source, programs []affwatch.Program, filter string) ([]*TestResult, error) {
	files, schemaRaw, err := readSources(sources, true)
	if err != nil {
		return nil, err
	}
	mods, err := parse(files)
	if err != nil {
		return nil, err
	}
	comp := ast.NewCompiler().
		WithCapabilities(Capabilities()).
		WithEnablePrintStatements(true)
	if schemaRaw != nil {
		var schema any
		if err := util.Unmarshal(schemaRaw, &schema); err != nil {
			return nil, fmt.Errorf("%s: %w", PageSchemaPath, err)
		}
		ss := ast.NewSchemaSet()
		ss.Put(ast.SchemaRootRef, schema)
		comp = comp.WithSchemas(ss)
	}
	data, err := programData(programs)
	if err != nil {
		return nil, err
	}
	store := inmem.NewFromObject(data)
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return nil, err
	}
	defer store.Abort(ctx, txn)
	r := tester.NewRunner().SetCompiler(comp).SetStore(store).SetModules(mods).CapturePrintOutput(true).
		SetDefaultRegoVersion(ast.RegoV1)
	if filter != "" {
		r = r.Filter(filter)
	}
	ch, err := r.RunTests(ctx, txn)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPolicy, err)
	}
	var out []*TestResult
	for res := range ch {
		out = append(out, res)
	}
	return out, nil
}
