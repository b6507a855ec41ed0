package rules

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/util"

	"github.com/affwatch/affwatch"
)

// TestResult is the outcome of one Rego unit test.
type TestResult = tester.Result

// TestOptions select tests and ask for coverage.
type TestOptions struct {
	// Filter, when not empty, is a regular expression selecting tests by name.
	Filter string
	// Coverage measures which lines of the policies (not of the tests) the tests ran.
	Coverage bool
	// Trace records the evaluation, so that a failing test can show the expression that
	// failed and the values of its variables (slower; use it to explain failures).
	Trace bool
}

// TestRun is what a run of the policy tests gives.
type TestRun struct {
	Results []*TestResult
	// Coverage is set when asked for: per policy file and overall, in percent.
	Coverage *cover.Report
}

// Failed counts the tests that failed or errored.
func (r TestRun) Failed() int {
	n := 0
	for _, t := range r.Results {
		if t.Fail || t.Error != nil {
			n++
		}
	}
	return n
}

// RunTests runs the Rego unit tests (test_ rules in *_test.rego files) of the sources
// with the OPA tester, under the same capabilities as the engine: the page rules' tests
// with the Page schema, the affiliate rules' tests (packages under affwatch.affiliate_)
// with the affiliate document's schema, each kind compiled on its own.
func RunTests(ctx context.Context, sources []Source, programs []affwatch.Program, opt TestOptions) (TestRun, error) {
	files, schemas, err := readSources(sources, true)
	if err != nil {
		return TestRun{}, err
	}
	all, err := parse(files)
	if err != nil {
		return TestRun{}, err
	}
	byKind := map[Kind]map[string]*ast.Module{}
	for name, m := range all {
		k := kindOfPackage(m.Package.Path.String())
		if byKind[k] == nil {
			byKind[k] = map[string]*ast.Module{}
		}
		byKind[k][name] = m
	}
	var run TestRun
	for _, k := range Kinds {
		if len(byKind[k]) == 0 {
			continue
		}
		part, err := runTests(ctx, byKind[k], k, schemas[k], programs, opt)
		if err != nil {
			return TestRun{}, err
		}
		run.Results = append(run.Results, part.Results...)
		run.Coverage = mergeCoverage(run.Coverage, part.Coverage)
	}
	return run, nil
}

// runTests runs the tests of one kind's modules.
func runTests(ctx context.Context, mods map[string]*ast.Module, kind Kind, schemaRaw []byte, programs []affwatch.Program, opt TestOptions) (TestRun, error) {
	comp := ast.NewCompiler().
		WithCapabilities(Capabilities()).
		WithEnablePrintStatements(true)
	if schemaRaw != nil {
		var schema any
		if err := util.Unmarshal(schemaRaw, &schema); err != nil {
			return TestRun{}, fmt.Errorf("%s: %w", kind.SchemaPath(), err)
		}
		ss := ast.NewSchemaSet()
		ss.Put(ast.SchemaRootRef, schema)
		comp = comp.WithSchemas(ss)
	}
	data, err := programData(programs)
	if err != nil {
		return TestRun{}, err
	}
	store := inmem.NewFromObject(data)
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return TestRun{}, err
	}
	defer store.Abort(ctx, txn)
	r := tester.NewRunner().SetCompiler(comp).SetStore(store).SetModules(mods).CapturePrintOutput(true).
		SetDefaultRegoVersion(ast.RegoV1)
	if opt.Filter != "" {
		r = r.Filter(opt.Filter)
	}
	if opt.Trace {
		r = r.EnableTracing(true)
	}
	var cov *cover.Cover
	if opt.Coverage {
		cov = cover.New()
		r = r.SetCoverageQueryTracer(cov)
	}
	ch, err := r.RunTests(ctx, txn)
	if err != nil {
		return TestRun{}, fmt.Errorf("%w: %w", ErrPolicy, err)
	}
	var run TestRun
	for res := range ch {
		run.Results = append(run.Results, res)
	}
	if cov != nil {
		policiesOnly := map[string]*ast.Module{}
		for name, m := range mods {
			if !strings.HasSuffix(name, "_test.rego") {
				policiesOnly[name] = m
			}
		}
		rep := cov.Report(policiesOnly)
		// Only the policies count: what the tests themselves ran says nothing.
		for name := range rep.Files {
			if _, ok := policiesOnly[name]; !ok {
				delete(rep.Files, name)
			}
		}
		run.Coverage = &rep
	}
	return run, nil
}

// mergeCoverage adds the files of b to a and sums the lines of both again.
func mergeCoverage(a, b *cover.Report) *cover.Report {
	if b == nil {
		return a
	}
	if a == nil {
		a = &cover.Report{Files: map[string]*cover.FileReport{}}
	}
	if a.Files == nil {
		a.Files = map[string]*cover.FileReport{}
	}
	maps.Copy(a.Files, b.Files)
	a.CoveredLines, a.NotCoveredLines = 0, 0
	for _, f := range a.Files {
		a.CoveredLines += f.CoveredLines
		a.NotCoveredLines += f.NotCoveredLines
	}
	a.Coverage = 0
	if total := a.CoveredLines + a.NotCoveredLines; total > 0 {
		a.Coverage = 100 * float64(a.CoveredLines) / float64(total)
	}
	return a
}

// FailureDetail is where a failing test failed and what its variables held there.
type FailureDetail struct {
	Location string
	Expr     string
	Vars     map[string]string
}

// Failures reads a traced failing test's trace: the last expressions of the test's own
// file that failed, each with the values of the variables it uses.
func Failures(r *TestResult, most int) []FailureDetail {
	var out []FailureDetail
	seen := map[string]bool{}
	for i := len(r.Trace) - 1; i >= 0 && len(out) < most; i-- {
		ev := r.Trace[i]
		if ev.Op != topdown.FailOp || ev.Location == nil || r.Location == nil || ev.Location.File != r.Location.File {
			continue
		}
		expr, ok := ev.Node.(*ast.Expr)
		if !ok {
			continue
		}
		text := strings.TrimSpace(string(ev.Location.Text))
		if text == "" {
			text = expr.String()
		}
		if seen[ev.Location.String()] {
			continue
		}
		seen[ev.Location.String()] = true
		d := FailureDetail{Location: ev.Location.String(), Expr: text, Vars: map[string]string{}}
		ast.WalkVars(expr, func(v ast.Var) bool {
			if ev.Locals == nil || v.IsWildcard() {
				return false
			}
			name := string(v)
			if md, ok := ev.LocalMetadata[v]; ok && md.Name != "" {
				name = string(md.Name)
			}
			if strings.HasPrefix(name, "__") {
				return false
			}
			if val := ev.Locals.Get(v); val != nil {
				s := val.String()
				if len(s) > 200 {
					s = s[:200] + "…"
				}
				d.Vars[name] = s
			}
			return false
		})
		out = append(out, d)
	}
	return out
}
