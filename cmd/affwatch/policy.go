package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/format"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/crawler"
	"github.com/affwatch/affwatch/internal/app"
	"github.com/affwatch/affwatch/internal/output"
	"github.com/affwatch/affwatch/rules"
)

func cmdPolicy(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	if len(args) > 0 {
		sub, rest := args[0], args[1:]
		switch sub {
		case "test":
			return policyTest(ctx, rest, stdout, stderr)
		case "check":
			return policyCheck(ctx, rest, stdout, stderr)
		case "fmt":
			return policyFmt(rest, stdout, stderr)
		case "eval":
			return policyEval(ctx, rest, stdout, stderr)
		case "docs":
			return policyDocs(ctx, rest, stdout, stderr)
		case "diff":
			return policyDiff(ctx, rest, stdout, stderr)
		case "new":
			return policyNew(ctx, rest, stdout, stderr)
		case "bundle":
			return policyBundle(rest, stdout, stderr)
		}
	}
	if err := groupUsage("policy", args, stdout); err != nil {
		return exitError, err
	}
	return exitOK, nil // help was asked for
}

// policyConfigFlag adds --config to a policy command: optional, as policy authors can work
// on the built-in pack without one (affwatch.yaml is read when it is here).
func policyConfigFlag(fs *flag.FlagSet, what string) *string {
	return fs.String("config", "", "the configuration `FILE` ("+what+"; default affwatch.yaml when it exists)")
}

// optionalConfig loads the config when one is named, or when affwatch.yaml exists here;
// policy authors can work on the built-in pack without one.
func optionalConfig(path string) (*Config, error) {
	if path == "" {
		if _, err := os.Stat("affwatch.yaml"); err != nil {
			return &Config{}, nil
		}
		path = "affwatch.yaml"
	}
	return LoadConfig(path)
}

func policyTest(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := newFlags("policy test", stderr)
	cfgPath := policyConfigFlag(fs, "extra policy directories, program data")
	filter := fs.String("run", "", "run only the tests whose name matches this `REGEX`")
	coverage := fs.Bool("coverage", false, "report which policy lines the tests ran")
	threshold := fs.Float64("threshold", 0, "with --coverage: exit 1 below this percentage `N`")
	outFmt := formatFlag(fs, output.Text, output.JSON, output.JUnit)
	if err := parseFlags(fs, args); err != nil {
		return exitError, err
	}
	if *threshold < 0 || *threshold > 100 {
		return exitError, usageErrorf("--threshold %g: a percentage, from 0 to 100", *threshold)
	}
	out, err := output.Get(*outFmt, output.Text, output.JSON, output.JUnit)
	if err != nil {
		return exitError, err
	}
	cfg, err := optionalConfig(*cfgPath)
	if err != nil {
		return exitError, err
	}
	srcs, err := allPolicySources(ctx, cfg)
	if err != nil {
		return exitError, err
	}
	start := time.Now()
	run, err := rules.RunTests(ctx, srcs, cfg.Programs, rules.TestOptions{Filter: *filter, Coverage: *coverage || *threshold > 0})
	if err != nil {
		return exitError, err
	}
	failed := run.Failed()
	// Explain the failures: run the failing tests again with a trace.
	var failing []string
	for _, r := range run.Results {
		if r.Fail {
			failing = append(failing, regexp.QuoteMeta(r.Package+"."+r.Name))
		}
	}
	traced := map[string]*rules.TestResult{}
	if len(failing) > 0 {
		again, err := rules.RunTests(ctx, srcs, cfg.Programs, rules.TestOptions{Filter: "^(" + strings.Join(failing, "|") + ")$", Trace: true})
		if err == nil {
			for _, r := range again.Results {
				traced[r.Package+"."+r.Name] = r
			}
		}
	}
	rep := newReport(output.CommandTest)
	rep.Tests = reportTests(run.Results, traced)
	rep.Coverage = reportCoverage(run, *threshold)
	belowThreshold := *threshold > 0 && run.Coverage.Coverage < *threshold
	rep.Summary = output.Summary{OK: failed == 0 && !belowThreshold, Tests: len(run.Results), Passed: len(run.Results) - failed,
		Failed: failed, DurationMS: output.Duration(time.Since(start))}
	for _, t := range rep.Tests {
		if t.Status == "skip" {
			rep.Summary.Skipped++
		}
	}
	if err := out.Output(stdout, rep); err != nil {
		return exitError, err
	}
	if failed > 0 {
		return exitViolations, nil
	}
	if belowThreshold {
		fmt.Fprintf(stderr, "coverage %.2f%% is below the threshold %.2f%%\n", run.Coverage.Coverage, *threshold)
		return exitViolations, nil
	}
	return exitOK, nil
}

// policyCheck compiles the policies with the schemas, checks METADATA conventions, and
// lists the files `opa fmt` would change.
func policyCheck(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := newFlags("policy check", stderr)
	cfgPath := policyConfigFlag(fs, "extra policy directories, program data")
	outFmt := formatFlag(fs, output.Text, output.JSON, output.SARIF)
	if err := parseFlags(fs, args); err != nil {
		return exitError, err
	}
	out, err := output.Get(*outFmt, output.Text, output.JSON, output.SARIF)
	if err != nil {
		return exitError, err
	}
	cfg, err := optionalConfig(*cfgPath)
	if err != nil {
		return exitError, err
	}
	srcs, err := allPolicySources(ctx, cfg)
	if err != nil {
		return exitError, err
	}
	code := exitOK
	rep := newReport(output.CommandCheck)
	check := &output.Check{}
	rep.Check = check
	engs, problems := compileAll(ctx, srcs, ruleOptions(cfg, cfg.Programs, nil))
	if len(problems) == 0 && len(engs) > 0 {
		if err := cfg.checkRuleIDs(knownRule(engs...)); err != nil {
			problems = reportProblems(err)
		}
	}
	if len(problems) > 0 {
		check.Problems = problems
		check.Error = problemText(problems)
		code = exitViolations
	}
	if len(engs) > 0 {
		var revs []string
		for _, eng := range engs {
			check.Rules += len(eng.Rules())
			rep.Rules = append(rep.Rules, reportRules(eng.Rules())...)
			revs = append(revs, eng.Revision())
		}
		check.Compiled, check.Revision = true, revs[0]
		rep.PolicyRevision = revs[0]
	}
	for _, src := range srcs {
		diffs, err := unformatted(src.FS)
		if err != nil {
			return exitError, fmt.Errorf("%s: %w", src.Name, err)
		}
		for _, f := range diffs {
			check.Unformatted = append(check.Unformatted, filepath.Join(src.Name, f))
			code = exitViolations
		}
	}
	rep.Summary = output.Summary{OK: code == exitOK, Problems: len(check.Problems) + len(check.Unformatted)}
	if err := out.Output(stdout, rep); err != nil {
		return exitError, err
	}
	return code, nil
}

// unformatted lists the .rego files of a tree that opa fmt would change.
func unformatted(fsys fs.FS) ([]string, error) {
	var out []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".rego") {
			return err
		}
		src, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		formatted, err := format.SourceWithOpts(p, src, format.Opts{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil // it does not parse: the compiler reports it with its line and column
		}
		if !bytes.Equal(formatted, src) {
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

func policyFmt(args []string, stdout, stderr io.Writer) (int, error) {
	fs := newFlags("policy fmt", stderr)
	cfgPath := policyConfigFlag(fs, "its policy directories are the ones formatted")
	write := fs.Bool("write", false, "rewrite the files opa fmt would change, instead of listing them")
	dirs, err := parseArgs(fs, args)
	if err != nil {
		return exitError, err
	}
	if len(dirs) == 0 {
		cfg, err := optionalConfig(*cfgPath)
		if err != nil {
			return exitError, err
		}
		for _, d := range cfg.Policies.Dirs {
			dirs = append(dirs, cfg.path(d))
		}
	}
	if len(dirs) == 0 {
		return exitError, usageErrorf("name the policy directories to format, or a config with policies.dirs (the built-in pack is formatted in the repository)")
	}
	changed := 0
	for _, dir := range dirs {
		files, err := unformatted(os.DirFS(dir))
		if err != nil {
			return exitError, fmt.Errorf("%s: %w", dir, err)
		}
		for _, f := range files {
			p := filepath.Join(dir, f)
			changed++
			if !*write {
				fmt.Fprintln(stdout, p)
				continue
			}
			src, err := os.ReadFile(p)
			if err != nil {
				return exitError, err
			}
			out, err := format.SourceWithOpts(p, src, format.Opts{RegoVersion: ast.RegoV1})
			if err != nil {
				return exitError, err
			}
			if err := os.WriteFile(p, out, 0o644); err != nil {
				return exitError, err
			}
			fmt.Fprintf(stdout, "formatted %s\n", p)
		}
	}
	if changed > 0 && !*write {
		fmt.Fprintf(stderr, "%d file(s) not formatted (affwatch policy fmt --write rewrites them)\n", changed)
		return exitViolations, nil
	}
	return exitOK, nil
}

func policyEval(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := newFlags("policy eval", stderr)
	cfgPath := policyConfigFlag(fs, "programs, affiliates, crawl settings")
	program := fs.String("program", "", "the program `ID` whose parameters apply")
	affID := fs.String("affiliate", "", "the affiliate `ID` whose page it is (for ID and coupon rules)")
	pageURL := fs.String("url", "", "fetch and check the page at this http(s) `URL`, as the crawler does")
	file := fs.String("file", "", "check this HTML `FILE`")
	input := fs.String("input", "", "check this Page document (JSON `FILE`)")
	explain := fs.Bool("explain", false, "show every rule, also those that passed, with the rule's description")
	dump := fs.String("dump-input", "", "write the Page document to this `FILE` (- for standard output)")
	outFmt := formatFlag(fs, output.Text, output.JSON, output.SARIF)
	if err := parseFlags(fs, args); err != nil {
		return exitError, err
	}
	out, err := output.Get(*outFmt, output.Text, output.JSON, output.SARIF)
	if err != nil {
		return exitError, err
	}
	n := 0
	for _, s := range []string{*pageURL, *file, *input} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return exitError, usageErrorf("give exactly one of --url, --file, --input")
	}
	if *pageURL != "" {
		u, err := url.Parse(*pageURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return exitError, usageErrorf("--url %q: want an http(s) URL (for a page on disk use --file)", *pageURL)
		}
	}
	cfg, err := optionalConfig(*cfgPath)
	if err != nil {
		return exitError, err
	}
	srcs, err := allPolicySources(ctx, cfg)
	if err != nil {
		return exitError, err
	}
	prog := affwatch.Program{ID: *program}
	if *program != "" {
		found := false
		for _, p := range cfg.Programs {
			if p.ID == *program {
				prog, found = p, true
			}
		}
		if !found && len(cfg.Programs) > 0 {
			return exitError, usageErrorf("--program %q is not in the config", *program)
		}
	}
	if *program == "" && len(cfg.Programs) > 0 {
		// Tried as a new user would: without --program the program's rules ran on no data
		// (coupons, claim lists, brand terms, landing domains) and said nothing.
		fmt.Fprintf(stderr, "note: no --program: the rules run without any program's data (its coupons, claims, brand terms and landing domains); the config has %d program(s)\n", len(cfg.Programs))
	}
	aff := affwatch.Affiliate{ID: *affID, Program: prog.ID}
	if a, ok := cfg.affiliate(*affID); ok {
		aff = a
	}
	page, err := evalInput(ctx, cfg, prog, aff, *pageURL, *file, *input)
	if err != nil {
		if *pageURL != "" {
			return exitFailed, failed(err)
		}
		return exitError, err
	}
	if !page.FetchStatus.Verified() {
		// A page that was not seen is not checked: no finding would mean nothing.
		if *input != "" && (page.URL == "" || page.FetchStatus == "") {
			return exitError, fmt.Errorf("%s: not a Page document of a verified page: it needs url and fetch_status ok (affwatch policy eval --dump-input writes one)", *input)
		}
		return exitFailed, failed(fmt.Errorf("%s: %s, not checked: %s", page.URL, page.FetchStatus, page.FetchError))
	}
	if *dump != "" {
		raw, _ := json.MarshalIndent(page, "", "  ")
		raw = append(raw, '\n')
		if *dump == "-" {
			stdout.Write(raw)
		} else if err := os.WriteFile(*dump, raw, 0o644); err != nil {
			return exitError, err
		}
	}
	programs := cfg.Programs
	if len(programs) == 0 {
		programs = []affwatch.Program{prog}
	}
	eng, err := rules.Load(ctx, srcs, ruleOptions(cfg, programs, nil))
	if eng == nil {
		return exitError, err
	}
	// Something not checked (broken policy files left out, rules that failed) makes the
	// answer partial: exit 3 even when findings were shown.
	var gaps []error
	if err != nil {
		fmt.Fprintln(stderr, err)
		gaps = append(gaps, errors.New("broken policy files were left out"))
	} else if err := cfg.checkRuleIDs(knownRule(eng)); err != nil {
		return exitError, err
	}
	findings, err := eng.Evaluate(ctx, &page)
	var ruleErrs *rules.RuleErrors
	if err != nil {
		var rf affwatch.RulesFailed
		if !errors.As(err, &rf) {
			return exitFailed, failed(fmt.Errorf("evaluate policies: %w", err))
		}
		fmt.Fprintln(stderr, err)
		gaps = append(gaps, fmt.Errorf("rules failed: %s", strings.Join(rf.Failed(), ", ")))
		errors.As(err, &ruleErrs)
	}
	rep := newReport(output.CommandEval)
	rep.PolicyRevision, rep.Rules, rep.Explain = eng.Revision(), reportRules(eng.Rules()), *explain
	rp := output.PageOf(&page, findings)
	if ruleErrs != nil {
		rp.RuleErrors = map[string]string{}
		for id, e := range ruleErrs.Errs {
			rp.RuleErrors[id] = e.Error()
		}
	}
	rep.Pages = []output.Page{rp}
	code := exitOK
	for _, f := range findings {
		if !f.Advisory && f.Suppressed == "" {
			code = exitViolations
		}
	}
	rep.Summary = output.Summary{OK: code == exitOK && len(gaps) == 0, Findings: len(findings)}
	if err := out.Output(stdout, rep); err != nil {
		return exitError, err
	}
	if len(gaps) > 0 {
		return exitPartial, partial(fmt.Errorf("not every rule judged the page: %w", errors.Join(gaps...)))
	}
	return code, nil
}

// evalInput builds the Page document to evaluate: fetched, read from HTML, or given.
func evalInput(ctx context.Context, cfg *Config, prog affwatch.Program, aff affwatch.Affiliate, pageURL, file, input string) (affwatch.Page, error) {
	switch {
	case input != "":
		raw, err := os.ReadFile(input)
		if err != nil {
			return affwatch.Page{}, err
		}
		var p affwatch.Page
		if err := json.Unmarshal(raw, &p); err != nil {
			return p, fmt.Errorf("%s: %w", input, err)
		}
		if prog.ID != "" {
			p.Program = prog.ID
		}
		return p, nil
	case file != "":
		raw, err := os.ReadFile(file)
		if err != nil {
			return affwatch.Page{}, err
		}
		abs, _ := filepath.Abs(file)
		p, err := crawler.Extract(raw, "file://"+filepath.ToSlash(abs), crawler.ExtractOptions{Program: &prog, MaxLinks: cfg.Crawl.MaxLinks})
		if err != nil {
			return p, err
		}
		p.URL, p.FinalURL, p.FetchStatus, p.FetchedAt = "file://"+filepath.ToSlash(abs), "file://"+filepath.ToSlash(abs), affwatch.FetchOK, time.Now().UTC()
		p.Program, p.Affiliate = prog.ID, affwatch.PageAffiliate{ID: aff.ID, Name: aff.Name, NetworkIDs: orEmpty(aff.NetworkIDs)}
		return p, nil
	}
	cr := newCrawler(cfg, []affwatch.Program{prog})
	defer cr.Close()
	aff.Sites = []string{pageURL}
	var page *affwatch.Page
	err := cr.Crawl(ctx, aff, func(s affwatch.Snapshot) error {
		if page == nil {
			page = &s.Page
		}
		return nil
	})
	if err != nil {
		return affwatch.Page{}, err
	}
	if page == nil {
		return affwatch.Page{}, fmt.Errorf("%s: nothing fetched", pageURL)
	}
	return *page, nil
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func policyDocs(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := newFlags("policy docs", stderr)
	cfgPath := policyConfigFlag(fs, "extra policy directories, program data")
	if err := parseFlags(fs, args); err != nil {
		return exitError, err
	}
	cfg, err := optionalConfig(*cfgPath)
	if err != nil {
		return exitError, err
	}
	srcs, err := allPolicySources(ctx, cfg)
	if err != nil {
		return exitError, err
	}
	engs, problems := compileAll(ctx, srcs, ruleOptions(cfg, cfg.Programs, nil))
	if len(engs) == 0 {
		return exitError, fmt.Errorf("no policy compiled:\n%s", problemText(problems))
	}
	if len(problems) > 0 {
		fmt.Fprintln(stderr, problemText(problems))
	}
	var all []rules.Rule
	revs := make([]string, len(engs))
	for i, eng := range engs {
		all = append(all, eng.Rules()...)
		revs[i] = eng.Revision()
	}
	fmt.Fprintf(stdout, "# affwatch rule catalogue\n\nPolicy revision `%s`.\n\n| id | severity | kind | title |\n|---|---|---|---|\n", strings.Join(slices.Compact(revs), "`, `"))
	for _, r := range all {
		fmt.Fprintf(stdout, "| %s | %s | %s | %s |\n", r.ID, r.Severity, ruleKind(r), r.Title)
	}
	for _, r := range all {
		fmt.Fprintf(stdout, "\n## %s: %s\n\n- severity: %s (%s)\n- package: `%s` (`%s:%d`)\n\n%s\n", r.ID, r.Title, r.Severity, ruleKind(r),
			r.Package, r.File, r.Line, r.Description)
		if r.Remediation != "" {
			fmt.Fprintf(stdout, "\n**What to do:** %s\n", r.Remediation)
		}
	}
	if len(problems) > 0 {
		return exitPartial, partial(errors.New("broken policy files left out of the catalogue"))
	}
	return exitOK, nil
}

// ruleKind says what a rule's findings are: violations, advisories or both, and "joined"
// for the affiliate rules that judge a partner's scorecard rather than one page.
func ruleKind(r rules.Rule) string {
	kind := "violation"
	switch {
	case r.Deny && r.Warn:
		kind = "violation and advisory"
	case r.Warn:
		kind = "advisory"
	}
	if strings.HasPrefix(r.Package, rules.AffiliateRulePrefix) {
		kind = "joined " + kind
	}
	return kind
}

// compileAll compiles the policies of every kind that has rules: the page rules always,
// the joined (affiliate) rules when there are any. It goes on past broken files: it
// returns the engines that compiled, and every problem found, with its file, line and
// column, each reported once although every kind's compiler reads every file.
func compileAll(ctx context.Context, srcs []rules.Source, opt rules.Options) ([]*rules.Engine, []output.Problem) {
	kinds := []rules.Kind{rules.KindPage}
	if cat, _ := rules.ReadCatalogue(srcs); hasJoined(cat) {
		kinds = append(kinds, rules.KindAffiliate)
	}
	var (
		engs     []*rules.Engine
		problems []output.Problem
	)
	seen := map[output.Problem]bool{}
	for _, k := range kinds {
		opt.Kind = k
		eng, err := rules.Load(ctx, srcs, opt)
		if eng != nil {
			engs = append(engs, eng)
		}
		for _, p := range reportProblems(err) {
			if !seen[p] {
				seen[p] = true
				problems = append(problems, p)
			}
		}
	}
	return engs, problems
}

// problemText writes problems one a line, each after its file:line:col.
func problemText(problems []output.Problem) string {
	var b strings.Builder
	for i, p := range problems {
		if i > 0 {
			b.WriteString("\n")
		}
		if p.File != "" {
			fmt.Fprintf(&b, "%s:%d:%d: ", p.File, p.Line, p.Column)
		}
		b.WriteString(p.Message)
	}
	return b.String()
}

// policyDiff re-evaluates the last scan's stored pages with the policies on disk and lists
// which violations would appear and which would disappear.
func policyDiff(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := newFlags("policy diff", stderr)
	cfgPath := configFlag(fs)
	against := fs.String("against", "last-scan", "what to compare with: `last-scan`")
	if err := parseFlags(fs, args); err != nil {
		return exitError, err
	}
	if *against != "last-scan" {
		return exitError, usageErrorf("--against %q: only last-scan is supported", *against)
	}
	cfg, st, err := loadWithStore(ctx, *cfgPath)
	if err != nil {
		return exitError, err
	}
	defer st.Close()
	srcs, err := allPolicySources(ctx, cfg)
	if err != nil {
		return exitError, err
	}
	eng, err := rules.Load(ctx, srcs, ruleOptions(cfg, cfg.Programs, nil))
	if eng == nil {
		return exitError, err
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
	} else if err := cfg.checkRuleIDs(knownRule(eng)); err != nil {
		return exitError, err
	}
	d, err := app.DiffPolicies(ctx, st, eng, cfg.Affiliates, func(err error) { fmt.Fprintln(stderr, err) })
	if err != nil {
		return exitError, err
	}
	appear, disappear := d.Appear, d.Disappear
	fmt.Fprintf(stdout, "scan #%d, %d verified pages, policies on disk (revision %s) against the scan's:\n", d.Scan.ID, d.Judged, eng.Revision())
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	for _, v := range appear {
		fmt.Fprintf(tw, "+\t%s\t%s\t%s\t%s\t%s\n", v.Severity, v.RuleID, v.AffiliateID, v.URL, oneLine(v.Message, 80))
	}
	for _, v := range disappear {
		fmt.Fprintf(tw, "-\t%s\t%s\t%s\t%s\t%s\n", v.Severity, v.RuleID, v.AffiliateID, v.URL, oneLine(v.Message, 80))
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%d would appear, %d would disappear, %d unchanged\n", len(appear), len(disappear), d.Unchanged)
	if len(appear)+len(disappear) > 0 {
		return exitViolations, nil
	}
	return exitOK, nil
}
