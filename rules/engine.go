// Package rules is affwatch's policy engine: it loads the Rego policy pack once, checks
// its METADATA conventions, compiles it with the Page schema, prepares one query, and
// evaluates every page with it.
package rules

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/util"

	"github.com/affwatch/affwatch"
)

// RulePrefix is the package prefix of every page rule: package affwatch.rules.<category>.<name>.
const RulePrefix = "affwatch.rules."

// AffiliateRulePrefix is the package prefix of every affiliate (joined) rule: package
// affwatch.affiliate_rules.<category>.<name>. Their input is the affiliate document.
const AffiliateRulePrefix = "affwatch.affiliate_rules."

// PageSchemaPath is where a policy source keeps the Page document schema;
// AffiliateSchemaPath the affiliate document's.
const (
	PageSchemaPath      = "schemas/page/page.schema.json"
	AffiliateSchemaPath = "schemas/affiliate/affiliate.schema.json"
)

// Kind is the kind of document an engine's rules judge: a page (the Page document, the
// rules under affwatch.rules.) or an affiliate (the affiliate document with its
// scorecard, violations, findings, pages and vetting: the joined rules under
// affwatch.affiliate_rules.). One policy source holds both; each engine compiles only
// the modules of its kind, against its kind's schema.
type Kind string

// The kinds of input.
const (
	KindPage      Kind = "page"
	KindAffiliate Kind = "affiliate"
)

// Kinds lists the kinds of input, page first.
var Kinds = []Kind{KindPage, KindAffiliate}

// Prefix is the package prefix of the kind's rules.
func (k Kind) Prefix() string {
	if k == KindAffiliate {
		return AffiliateRulePrefix
	}
	return RulePrefix
}

// SchemaPath is where a policy source keeps the kind's input schema.
func (k Kind) SchemaPath() string {
	if k == KindAffiliate {
		return AffiliateSchemaPath
	}
	return PageSchemaPath
}

// kindOfPackage is the kind of a module by its package: everything under affwatch.affiliate_
// (rules, their tests, a library) judges affiliate documents; the rest, pages.
func kindOfPackage(pkg string) Kind {
	if strings.HasPrefix(strings.TrimPrefix(pkg, "data."), "affwatch.affiliate_") {
		return KindAffiliate
	}
	return KindPage
}

// Source is a tree of policy files: the embedded default pack or a directory on disk.
type Source struct {
	// Name says where the files come from in messages ("policies (embedded)", a path).
	Name string
	FS   fs.FS
	// Revision, when set, is the source's own revision (an OPA bundle's manifest
	// revision): the engine's revision is then made of these rather than a hash.
	Revision string
}

// Rule is one entry of the rule catalogue, read from the rule's # METADATA.
type Rule struct {
	ID          string            `json:"id"`
	Title       string            `json:"title"`
	Description string            `json:"description"`
	Severity    affwatch.Severity `json:"severity"`
	Remediation string            `json:"remediation"`
	// Package is the rule's Rego package (affwatch.rules.disclosure.missing).
	Package string `json:"package"`
	// File and Line locate the rule's METADATA.
	File string `json:"file"`
	Line int    `json:"line"`
	Deny bool   `json:"deny"`
	Warn bool   `json:"warn"`
}

// Options configure an Engine.
type Options struct {
	// Programs are the advertisers' parameters, given to policies as data.programs.
	Programs []affwatch.Program
	// Now is the clock used for exception expiry.
	Now    func() time.Time
	Logger *slog.Logger
	// EvalTimeout bounds the evaluation of one page (default DefaultEvalTimeout); a rule
	// that runs past it is named as failed on that page and judges nothing there, and
	// from then on it is evaluated on its own so the other rules do not wait for it.
	EvalTimeout time.Duration
	// EvalMemory is how large the heap may grow while pages are evaluated before the
	// evaluations in flight are stopped (default DefaultEvalMemory; -1: no limit).
	EvalMemory int64
	// MaxFindingsPerRule caps the findings one rule makes on one page (default
	// DefaultMaxFindingsPerRule): past it they are folded into one finding that counts
	// them, so one hostile page cannot flood the store and the reports.
	MaxFindingsPerRule int
	// Kind is the input the rules judge (default KindPage).
	Kind Kind
}

// DefaultMaxFindingsPerRule is how many findings of one rule one page may give before
// they are folded into one.
const DefaultMaxFindingsPerRule = 20

// Engine evaluates pages against a compiled policy pack. It is safe for concurrent use:
// the query is prepared once and shared.
type Engine struct {
	kind     Kind
	rules    []Rule
	byPkg    map[string]*Rule
	binds    []binding
	regoOpts []func(*rego.Rego) // everything but the query, for the per-rule queries
	programs map[string]affwatch.Program
	// words are the words of a page's index the rules can ask for (nil: any), the only
	// ones its input carries.
	words    map[string]struct{}
	revision string
	now      func() time.Time
	log      *slog.Logger

	// plan is the shared query and the rules evaluated on their own; planMu serialises
	// its replacement when a rule runs past its budget.
	plan    atomic.Pointer[evalPlan]
	planMu  sync.Mutex
	timeout time.Duration
	mem     *memWatch
	maxPer  int
}

// evalPlan is how the rules are evaluated: the shared query binds the rules in shared
// (indexes into Engine.binds); the rules in alone ran past their budget once and are
// evaluated one at a time, each under its own budget.
type evalPlan struct {
	query  rego.PreparedEvalQuery
	shared []int
	alone  []int
}

// binding is one query variable: the deny or warn set of one rule. Its own query, made
// the first time the shared query fails, evaluates that set alone to tell which rule failed.
type binding struct {
	name    string
	rule    *Rule
	warn    bool
	set     string // "deny" or "warn"
	once    *sync.Once
	query   rego.PreparedEvalQuery
	prepErr error
}

var _ affwatch.Evaluator = (*Engine)(nil)

// ErrPolicy marks errors in the policies themselves (syntax, types, METADATA), as
// opposed to I/O errors reading them.
var ErrPolicy = errors.New("policy error")

// policyFile is one .rego file read from a source.
type policyFile struct {
	name string // source-qualified path, used in every message
	src  []byte
}

// readSources collects the .rego files (tests too, when withTests) and the input schemas
// by kind (the first source that has one gives it).
func readSources(sources []Source, withTests bool) (files []policyFile, schemas map[Kind][]byte, err error) {
	schemas = map[Kind][]byte{}
	for _, s := range sources {
		first := len(files)
		werr := fs.WalkDir(s.FS, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			for _, k := range Kinds {
				if p == k.SchemaPath() && schemas[k] == nil {
					schemas[k], err = fs.ReadFile(s.FS, p)
					return err
				}
			}
			if !strings.HasSuffix(p, ".rego") || (!withTests && strings.HasSuffix(p, "_test.rego")) {
				return nil
			}
			b, err := fs.ReadFile(s.FS, p)
			if err != nil {
				return err
			}
			files = append(files, policyFile{name: path.Join(s.Name, p), src: b})
			return nil
		})
		if werr != nil {
			return nil, nil, fmt.Errorf("read policies from %s: %w", s.Name, werr)
		}
		// Sources keep their order (the built-in pack first), so where two files claim
		// one rule id, the earlier source keeps it.
		own := files[first:]
		sort.Slice(own, func(i, j int) bool { return own[i].name < own[j].name })
	}
	return files, schemas, nil
}

// parse parses the files with annotations, collecting every syntax error.
func parse(files []policyFile) (map[string]*ast.Module, error) {
	mods := make(map[string]*ast.Module, len(files))
	var errs []error
	for _, f := range files {
		m, err := ast.ParseModuleWithOpts(f.name, string(f.src), ast.ParserOptions{ProcessAnnotation: true, RegoVersion: ast.RegoV1})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		mods[f.name] = m
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrPolicy, errors.Join(errs...))
	}
	return mods, nil
}

// Capabilities are the built-ins policies may use: OPA's own, less those that reach the
// network or the host (policies judge pages; they fetch nothing).
func Capabilities() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	banned := map[string]bool{"http.send": true, "net.lookup_ip_addr": true, "opa.runtime": true, "trace": false}
	kept := caps.Builtins[:0]
	for _, b := range caps.Builtins {
		if !banned[b.Name] {
			kept = append(kept, b)
		}
	}
	caps.Builtins = kept
	caps.AllowNet = []string{}
	return caps
}

// LoadErrors are the problems found in some policy files. When Load returns it beside an
// engine, the engine runs the rules of the other files: one broken rule does not take the
// pack down, and the broken rules judge nothing (their violations are not resolved).
type LoadErrors struct {
	Errs []error
	// Dropped are the files left out.
	Dropped []string
}

func (e *LoadErrors) Error() string {
	msg := fmt.Sprintf("%d problem(s) in the policies", len(e.Errs))
	if len(e.Dropped) > 0 {
		msg += fmt.Sprintf(" (left out: %s)", strings.Join(e.Dropped, ", "))
	}
	for _, err := range e.Errs {
		msg += "\n  " + strings.ReplaceAll(err.Error(), "\n", "\n  ")
	}
	return msg
}

func (e *LoadErrors) Unwrap() error { return ErrPolicy }

// Load reads, checks and compiles the policies of the sources and prepares the query.
// Every problem is reported with its file and line, all at once. A file with problems is
// left out and the rest is compiled: the engine is returned with a *LoadErrors. Without
// an engine (nil), nothing could be compiled.
func Load(ctx context.Context, sources []Source, opt Options) (*Engine, error) {
	if opt.Kind == "" {
		opt.Kind = KindPage
	}
	files, schemas, err := readSources(sources, false)
	if err != nil {
		return nil, err
	}
	schemaRaw := schemas[opt.Kind]
	if len(files) == 0 {
		return nil, fmt.Errorf("load policies: no .rego files in %s", sourceNames(sources))
	}
	problems := &LoadErrors{}
	drop := func(file string, err error) {
		problems.Errs = append(problems.Errs, err)
		problems.Dropped = append(problems.Dropped, file)
	}
	mods := map[string]*ast.Module{}
	var order []string
	for _, f := range files {
		m, err := ast.ParseModuleWithOpts(f.name, string(f.src), ast.ParserOptions{ProcessAnnotation: true, RegoVersion: ast.RegoV1})
		if err != nil {
			drop(f.name, err)
			continue
		}
		if kindOfPackage(m.Package.Path.String()) != opt.Kind {
			continue // another engine's document
		}
		mods[f.name] = m
		order = append(order, f.name)
	}
	rules, bad := catalogue(mods, order, opt.Kind.Prefix())
	for _, name := range order {
		if bad[name] == nil {
			continue
		}
		drop(name, bad[name])
		delete(mods, name)
	}
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00%d\x00", f.name, len(f.src))
		h.Write(f.src)
	}
	h.Write(schemaRaw)
	revision := hex.EncodeToString(h.Sum(nil))[:12]
	if revs := sourceRevisions(sources); revs != "" {
		revision = revs
	}

	for {
		e, err := build(ctx, mods, rules, schemaRaw, opt, revision)
		if err == nil {
			if len(problems.Errs) > 0 {
				return e, fmt.Errorf("load policies: %w", problems)
			}
			return e, nil
		}
		// Leave out the files the compiler blames, and try again with the rest.
		var astErrs ast.Errors
		// Each file's errors are kept as the compiler's, with their line and column.
		blamed := map[string]ast.Errors{}
		if errors.As(err, &astErrs) {
			for _, ae := range astErrs {
				if ae.Location != nil && mods[ae.Location.File] != nil {
					blamed[ae.Location.File] = append(blamed[ae.Location.File], ae)
				}
			}
		}
		if len(blamed) == 0 {
			problems.Errs = append(problems.Errs, err)
			return nil, fmt.Errorf("load policies: %w", problems)
		}
		for _, file := range sortedKeys(blamed) {
			drop(file, blamed[file])
			delete(mods, file)
			kept := rules[:0]
			for _, r := range rules {
				if r.File != file {
					kept = append(kept, r)
				}
			}
			rules = kept
		}
	}
}

// build compiles the modules and prepares the shared query over the rules' sets.
func build(ctx context.Context, mods map[string]*ast.Module, rules []Rule, schemaRaw []byte, opt Options, revision string) (*Engine, error) {
	e := &Engine{kind: opt.Kind, rules: append([]Rule(nil), rules...), byPkg: map[string]*Rule{}, programs: map[string]affwatch.Program{},
		now: opt.Now, log: opt.Logger, revision: revision, timeout: opt.EvalTimeout, maxPer: opt.MaxFindingsPerRule}
	if e.now == nil {
		e.now = time.Now
	}
	if e.timeout <= 0 {
		e.timeout = DefaultEvalTimeout
	}
	if e.maxPer <= 0 {
		e.maxPer = DefaultMaxFindingsPerRule
	}
	switch {
	case opt.EvalMemory == 0:
		e.mem = newMemWatch(DefaultEvalMemory)
	case opt.EvalMemory > 0:
		e.mem = newMemWatch(uint64(opt.EvalMemory))
	}
	if e.log == nil {
		e.log = slog.Default().With("component", "rules")
	}
	for i := range e.rules {
		r := &e.rules[i]
		e.byPkg[r.Package] = r
		for _, warn := range []bool{false, true} {
			if (!warn && !r.Deny) || (warn && !r.Warn) {
				continue
			}
			name := fmt.Sprintf("r%d", len(e.binds))
			set := "deny"
			if warn {
				set = "warn"
			}
			e.binds = append(e.binds, binding{name: name, rule: r, warn: warn, set: set, once: &sync.Once{}})
		}
	}
	if len(e.binds) == 0 {
		return nil, fmt.Errorf("%w: no deny or warn rule under package %s*", ErrPolicy, opt.Kind.Prefix())
	}
	for _, p := range opt.Programs {
		e.programs[p.ID] = p
	}
	data, err := programData(opt.Programs)
	if err != nil {
		return nil, err
	}
	e.words = indexWords(mods, data)
	regoOpts := []func(*rego.Rego){
		rego.Store(inmem.NewFromObject(data)),
		rego.Capabilities(Capabilities()),
		rego.Strict(true),
		rego.SetRegoVersion(ast.RegoV1),
	}
	if schemaRaw != nil {
		var schema any
		if err := util.Unmarshal(schemaRaw, &schema); err != nil {
			return nil, fmt.Errorf("%s: %w", opt.Kind.SchemaPath(), err)
		}
		ss := ast.NewSchemaSet()
		ss.Put(ast.SchemaRootRef, schema)
		regoOpts = append(regoOpts, rego.Schemas(ss))
	}
	for _, name := range sortedKeys(mods) {
		regoOpts = append(regoOpts, rego.ParsedModule(mods[name]))
	}
	e.regoOpts = regoOpts
	all := make([]int, len(e.binds))
	for i := range all {
		all[i] = i
	}
	pq, err := e.prepareShared(ctx, all)
	if err != nil {
		return nil, err
	}
	e.plan.Store(&evalPlan{query: pq, shared: all})
	return e, nil
}

// prepareShared prepares the query that binds the sets of the given rules at once.
func (e *Engine) prepareShared(ctx context.Context, shared []int) (rego.PreparedEvalQuery, error) {
	q := make([]string, len(shared))
	for j, i := range shared {
		b := &e.binds[i]
		q[j] = fmt.Sprintf("%s := data.%s.%s", b.name, b.rule.Package, b.set)
	}
	opts := append(append([]func(*rego.Rego){}, e.regoOpts...), rego.Query(strings.Join(q, "; ")))
	return rego.New(opts...).PrepareForEval(ctx)
}

// ruleQuery is the query of one rule's set alone, prepared on first use.
func (e *Engine) ruleQuery(ctx context.Context, b *binding) (rego.PreparedEvalQuery, error) {
	b.once.Do(func() {
		opts := append(append([]func(*rego.Rego){}, e.regoOpts...), rego.Query(fmt.Sprintf("x := data.%s.%s", b.rule.Package, b.set)))
		b.query, b.prepErr = rego.New(opts...).PrepareForEval(context.WithoutCancel(ctx))
	})
	return b.query, b.prepErr
}

// evalAlone evaluates one rule's set on its own, under its own budget.
func (e *Engine) evalAlone(ctx context.Context, b *binding, input ast.Value) ([]any, error) {
	q, err := e.ruleQuery(ctx, b)
	if err != nil {
		return nil, err
	}
	ectx, stop, overrun := e.budget(ctx)
	rs, err := q.Eval(ectx, rego.EvalParsedInput(input))
	over := overrun()
	stop()
	if over != nil {
		return nil, over
	}
	if err != nil {
		return nil, err
	}
	var set []any
	if len(rs) > 0 {
		set, _ = rs[0].Bindings["x"].([]any)
	}
	return set, nil
}

// Isolated lists the rules that once ran past their budget and are since evaluated on
// their own, by id.
func (e *Engine) Isolated() []string {
	var ids []string
	for _, i := range e.plan.Load().alone {
		ids = append(ids, e.binds[i].rule.ID)
	}
	sort.Strings(ids)
	return ids
}

// isolate takes a rule that ran past its budget out of the shared query: from then on it
// is evaluated on its own, so the other rules are not held up (or stopped) with it.
func (e *Engine) isolate(ctx context.Context, i int) {
	e.planMu.Lock()
	defer e.planMu.Unlock()
	p := e.plan.Load()
	if !slices.Contains(p.shared, i) {
		return
	}
	shared := slices.DeleteFunc(slices.Clone(p.shared), func(j int) bool { return j == i })
	next := &evalPlan{shared: shared, alone: append(slices.Clone(p.alone), i)}
	if len(shared) > 0 {
		q, err := e.prepareShared(context.WithoutCancel(ctx), shared)
		if err != nil {
			e.log.Error("prepare the query without a slow rule", "rule", e.binds[i].rule.ID, "err", err)
			return
		}
		next.query = q
	}
	e.plan.Store(next)
	e.log.Warn("rule ran past its evaluation budget: from now on it is evaluated on its own",
		"rule", e.binds[i].rule.ID, "file", e.binds[i].rule.File)
}

// sourceRevisions is the revision of sources that carry their own (bundles), joined with
// "+" in source order; "" when none does.
func sourceRevisions(sources []Source) string {
	var revs []string
	for _, s := range sources {
		if s.Revision != "" {
			revs = append(revs, s.Revision)
		}
	}
	return strings.Join(revs, "+")
}

func sourceNames(sources []Source) string {
	var names []string
	for _, s := range sources {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// programData is data.programs: each program's parameters keyed by id, with empty lists
// rather than nulls so that rules can count and iterate them.
func programData(programs []affwatch.Program) (map[string]any, error) {
	byID := map[string]affwatch.Program{}
	for _, p := range programs {
		byID[p.ID] = p.Normalized()
	}
	raw, err := json.Marshal(map[string]any{"programs": byID})
	if err != nil {
		return nil, err
	}
	var data map[string]any
	if err := util.UnmarshalJSON(raw, &data); err != nil {
		return nil, err
	}
	return data, nil
}

// catalogue reads the rule catalogue from the modules' METADATA: every package under one
// of the prefixes (affwatch.rules., affwatch.affiliate_rules.) must carry a unique
// custom.id, a title and a known custom.severity. It returns the good rules and the
// problems by file; files are read in order, so the first file to claim an id keeps it.
func catalogue(mods map[string]*ast.Module, order []string, prefixes ...string) ([]Rule, map[string]error) {
	var (
		rules []Rule
		bad   = map[string]error{}
		ids   = map[string]string{}
	)
	for _, name := range order {
		m := mods[name]
		pkg := strings.TrimPrefix(m.Package.Path.String(), "data.")
		if !slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(pkg, p) }) || strings.HasSuffix(pkg, "_test") {
			continue
		}
		r := Rule{Package: pkg, File: name, Line: m.Package.Location.Row}
		for _, rule := range m.Rules {
			switch rule.Head.Name.String() {
			case "deny":
				r.Deny = true
			case "warn":
				r.Warn = true
			}
			if len(rule.Head.Reference) > 0 {
				switch rule.Head.Reference[0].Value.String() {
				case "deny":
					r.Deny = true
				case "warn":
					r.Warn = true
				}
			}
		}
		var meta *ast.Annotations
		for _, a := range m.Annotations {
			if a.Scope == "package" || (meta == nil && a.Custom != nil) {
				meta = a
			}
		}
		var errs []error
		where := fmt.Sprintf("%s:%d", name, r.Line)
		if meta == nil {
			bad[name] = fmt.Errorf("%s: package %s has no # METADATA block (title, custom.id, custom.severity)", where, pkg)
			continue
		}
		if meta.Location != nil {
			r.Line = meta.Location.Row
			where = fmt.Sprintf("%s:%d", name, r.Line)
		}
		r.Title, r.Description = strings.TrimSpace(meta.Title), strings.TrimSpace(meta.Description)
		id, _ := meta.Custom["id"].(string)
		sev, _ := meta.Custom["severity"].(string)
		r.Remediation, _ = meta.Custom["remediation"].(string)
		r.Remediation = strings.TrimSpace(r.Remediation)
		r.ID = strings.TrimSpace(id)
		switch {
		case r.ID == "":
			errs = append(errs, fmt.Errorf("%s: package %s: METADATA custom.id is missing", where, pkg))
		case !ruleIDPattern.MatchString(r.ID):
			errs = append(errs, fmt.Errorf("%s: package %s: custom.id %q must look like ABC-001", where, pkg, r.ID))
		case ids[r.ID] != "":
			errs = append(errs, fmt.Errorf("%s: package %s: custom.id %s is already used by %s", where, pkg, r.ID, ids[r.ID]))
		}
		if r.Title == "" {
			errs = append(errs, fmt.Errorf("%s: package %s: METADATA title is missing", where, pkg))
		}
		s, err := affwatch.ParseSeverity(sev)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: package %s: custom.severity: %w", where, pkg, err))
		}
		r.Severity = s
		if !r.Deny && !r.Warn {
			errs = append(errs, fmt.Errorf("%s: package %s defines neither deny nor warn", where, pkg))
		}
		if len(errs) > 0 {
			bad[name] = errors.Join(errs...)
			continue
		}
		ids[r.ID] = where
		rules = append(rules, r)
	}
	sort.Slice(rules, func(i, j int) bool { return rules[i].ID < rules[j].ID })
	return rules, bad
}

var ruleIDPattern = regexp.MustCompile(`^[A-Z][A-Z0-9]*-\d{3,}$`)

// Kind is the kind of input the engine's rules judge.
func (e *Engine) Kind() Kind { return e.kind }

// Rules returns the rule catalogue, ordered by id.
func (e *Engine) Rules() []Rule { return append([]Rule(nil), e.rules...) }

// RuleIDs are the ids of the rules in force.
func (e *Engine) RuleIDs() []string {
	ids := make([]string, len(e.rules))
	for i, r := range e.rules {
		ids[i] = r.ID
	}
	return ids
}

// Revision identifies the compiled policies (a hash of the files).
func (e *Engine) Revision() string { return e.revision }

// regoFinding is the shape of a finding that a rule adds to deny or warn.
type regoFinding struct {
	Msg      string            `json:"msg"`
	Evidence affwatch.Evidence `json:"evidence"`
}

// RuleErrors are the rules that failed on one page, by rule id. The findings of the
// other rules are still returned beside it.
type RuleErrors struct {
	URL  string
	Errs map[string]error
}

func (e *RuleErrors) Error() string {
	var parts []string
	for _, id := range sortedKeys(e.Errs) {
		parts = append(parts, fmt.Sprintf("rule %s: %v", id, e.Errs[id]))
	}
	return fmt.Sprintf("evaluate %s: %s", e.URL, strings.Join(parts, "; "))
}

// Failed lists the ids of the rules that could not be evaluated.
func (e *RuleErrors) Failed() []string { return sortedKeys(e.Errs) }

// Unwrap gives the rules' errors, so errors.Is tells a rule past its budget
// (ErrEvalTimeout, ErrEvalMemory).
func (e *RuleErrors) Unwrap() []error {
	errs := make([]error, 0, len(e.Errs))
	for _, id := range sortedKeys(e.Errs) {
		errs = append(errs, e.Errs[id])
	}
	return errs
}

// Evaluate runs every rule on the page and returns the findings, with the program's
// disabled rules dropped, severity overrides applied and exceptions marked. When some
// rules fail at run time (an error, or past the evaluation's time or memory budget), the
// others' findings are returned with a *RuleErrors. Findings of one rule that share their
// evidence key are merged (both messages kept), and past MaxFindingsPerRule one rule's
// findings on the page are folded into one that counts them. An error without findings
// means the page was not judged: ctx ended (the scan is being stopped) or the page could
// not be turned into the input.
func (e *Engine) Evaluate(ctx context.Context, page *affwatch.Page) ([]affwatch.Finding, error) {
	input, err := e.Input(page)
	if err != nil {
		return nil, err
	}
	out, err := e.evaluate(ctx, input, page.URL, page.Program, page.Affiliate.ID)
	locate(out, page)
	return out, err
}

// EvaluateAffiliate runs an affiliate engine's rules (KindAffiliate) on an affiliate
// document, as Evaluate does a page's: the program's disabled rules, severity overrides
// and exceptions apply (an exception's url_glob is matched against "affiliate:<id>").
func (e *Engine) EvaluateAffiliate(ctx context.Context, doc *affwatch.AffiliateDocument) ([]affwatch.Finding, error) {
	where := affwatch.AffiliateWhere(doc.Affiliate.ID)
	if e.kind != KindAffiliate {
		return nil, fmt.Errorf("evaluate %s: the engine judges %s documents", where, e.kind)
	}
	b := builder{}
	input, err := b.toValue(reflect.ValueOf(doc))
	if err != nil {
		return nil, fmt.Errorf("evaluate %s: %w", where, err)
	}
	return e.evaluate(ctx, input, where, doc.Affiliate.Program, doc.Affiliate.ID)
}

// evaluate runs every rule on one input; where names it in errors (a page URL, or
// affiliate:<id>) and is the URL exceptions are matched against.
func (e *Engine) evaluate(ctx context.Context, input ast.Value, where, program, affiliateID string) ([]affwatch.Finding, error) {
	sets := make(map[string][]any, len(e.binds))
	var ruleErrs *RuleErrors
	fail := func(id string, err error) {
		if ruleErrs == nil {
			ruleErrs = &RuleErrors{URL: where, Errs: map[string]error{}}
		}
		ruleErrs.Errs[id] = err
	}
	p := e.plan.Load()
	alone := p.alone
	if len(p.shared) > 0 {
		// Why the shared query failed does not matter: each rule is then run alone.
		ectx, stop, _ := e.budget(ctx)
		rs, err := p.query.Eval(ectx, rego.EvalParsedInput(input))
		stop()
		switch {
		case ctx.Err() != nil:
			return nil, fmt.Errorf("evaluate %s: %w", where, context.Cause(ctx))
		case err == nil:
			if len(rs) > 0 {
				for _, i := range p.shared {
					b := &e.binds[i]
					sets[b.name], _ = rs[0].Bindings[b.name].([]any)
				}
			}
		default:
			// Find the rules at fault, each alone; the others still count.
			alone = append(slices.Clone(p.shared), p.alone...)
		}
	}
	for _, i := range alone {
		b := &e.binds[i]
		set, err := e.evalAlone(ctx, b, input)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("evaluate %s: %w", where, context.Cause(ctx))
		}
		if err != nil {
			fail(b.rule.ID, err)
			if errors.Is(err, ErrEvalTimeout) || errors.Is(err, ErrEvalMemory) {
				e.isolate(ctx, i)
			}
			continue
		}
		sets[b.name] = set
	}
	prog := e.programs[program]
	var out []affwatch.Finding
	for _, b := range e.binds {
		for _, item := range sets[b.name] {
			f, err := e.finding(b, item)
			if err != nil {
				fail(b.rule.ID, fmt.Errorf("%s: %w", b.rule.File, err))
				continue
			}
			if ApplyProgram(&f, prog, affiliateID, where, e.now()) {
				out = append(out, f)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].RuleID != out[j].RuleID {
			return out[i].RuleID < out[j].RuleID
		}
		return out[i].Evidence.Offset < out[j].Evidence.Offset
	})
	if ruleErrs != nil {
		// drop the findings of a rule whose output was malformed: it is not judged
		out = slices.DeleteFunc(out, func(f affwatch.Finding) bool {
			_, bad := ruleErrs.Errs[f.RuleID]
			return bad
		})
	}
	out = foldFindings(mergeSameKey(out), e.maxPer)
	if ruleErrs != nil {
		return out, ruleErrs
	}
	return out, nil
}

// locate points the evidence of each finding on a rendered page at the element's box in
// the page's screenshot, when the element it names is one the browser measured.
func locate(fs []affwatch.Finding, page *affwatch.Page) {
	if page.Screenshot == "" {
		return
	}
	for i := range fs {
		ev := &fs[i].Evidence
		if ev.Box == nil {
			ev.Box = page.BoxOf(ev.Selector)
		}
		if ev.Box != nil {
			ev.Screenshot = page.Screenshot
		}
	}
}

func (e *Engine) finding(b binding, item any) (affwatch.Finding, error) {
	raw, err := json.Marshal(item)
	if err != nil {
		return affwatch.Finding{}, err
	}
	var rf regoFinding
	if err := json.Unmarshal(raw, &rf); err != nil {
		return affwatch.Finding{}, fmt.Errorf("finding %s is not {msg, evidence}: %w", raw, err)
	}
	if rf.Msg == "" {
		return affwatch.Finding{}, fmt.Errorf("finding %s has no msg", raw)
	}
	return affwatch.Finding{
		RuleID:      b.rule.ID,
		Title:       b.rule.Title,
		Severity:    b.rule.Severity,
		Message:     rf.Msg,
		Remediation: b.rule.Remediation,
		Advisory:    b.warn,
		Evidence:    rf.Evidence,
	}, nil
}

// ApplyProgram applies a program's parameters to a finding of a page or a detector: it
// reports false for a disabled rule, applies severity overrides, and marks findings an
// exception covers.
func ApplyProgram(f *affwatch.Finding, prog affwatch.Program, affiliateID, pageURL string, now time.Time) bool {
	for _, id := range prog.DisabledRules {
		if id == f.RuleID {
			return false
		}
	}
	if s, ok := prog.SeverityOverrides[f.RuleID]; ok && s != affwatch.SeverityUnknown {
		f.Severity = s
	}
	for _, ex := range prog.Exceptions {
		if ExceptionApplies(ex, f.RuleID, affiliateID, pageURL, now) {
			f.Suppressed = ex.Reason
			if f.Suppressed == "" {
				f.Suppressed = "program exception"
			}
			break
		}
	}
	return true
}

// ExceptionApplies reports whether an unexpired program exception covers a finding of
// rule on an affiliate's URL.
func ExceptionApplies(ex affwatch.Exception, rule, affiliate, pageURL string, now time.Time) bool {
	if ex.Rule != rule && ex.Rule != "*" {
		return false
	}
	if ex.Affiliate != "" && ex.Affiliate != affiliate {
		return false
	}
	if ex.URLGlob != "" && !globMatch(ex.URLGlob, pageURL) {
		return false
	}
	if ex.Expires != "" {
		until, err := parseDate(ex.Expires)
		if err != nil || now.After(until) {
			return false
		}
	}
	return true
}

// parseDate reads a date (the whole day counts) or an RFC 3339 time.
func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return t, err
	}
	return t.Add(24*time.Hour - time.Nanosecond), nil
}

// globMatch matches a URL against a glob where * is any run of characters.
func globMatch(glob, s string) bool {
	if re, ok := globs.Load(glob); ok {
		return re.(*regexp.Regexp).MatchString(s)
	}
	var b strings.Builder
	b.WriteString("^")
	for _, part := range strings.Split(glob, "*") {
		b.WriteString(regexp.QuoteMeta(part))
		b.WriteString(".*")
	}
	re := regexp.MustCompile(strings.TrimSuffix(b.String(), ".*") + "$")
	globs.Store(glob, re)
	return re.MatchString(s)
}

// globs are the url_glob patterns compiled once: an exception is checked against every
// finding of every page, and a program has few of them.
var globs sync.Map // glob -> *regexp.Regexp
