package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/internal/output"
	"github.com/affwatch/affwatch/rules"
)

// formatFlag adds --format to a command, offering the given formats (text first, the
// default).
func formatFlag(fs *flag.FlagSet, offered ...output.Format) *string {
	names := make([]string, len(offered))
	for i, f := range offered {
		names[i] = string(f)
	}
	return fs.String("format", string(output.Text), "output `"+strings.Join(names, "|")+"`")
}

// newReport starts the report of one command run.
func newReport(command string) *output.Report {
	return &output.Report{
		SchemaVersion: output.SchemaVersion,
		Tool:          output.Tool{Name: "affwatch", Version: version, URI: "https://github.com/affwatch/affwatch"},
		Command:       command,
	}
}

// reportRules is the rule catalogue as reported.
func reportRules(rs []rules.Rule) []output.Rule {
	out := make([]output.Rule, 0, len(rs))
	for _, r := range rs {
		out = append(out, output.Rule{ID: r.ID, Title: r.Title, Description: r.Description, Severity: r.Severity.String(),
			Remediation: r.Remediation, Package: r.Package, File: r.File, Line: r.Line, Kind: ruleKindWord(r)})
	}
	return out
}

func ruleKindWord(r rules.Rule) string {
	switch {
	case r.Deny && r.Warn:
		return "deny+warn"
	case r.Warn:
		return "warn"
	}
	return "deny"
}

// reportTests are the policy tests as reported; traced holds the failing tests run again
// with a trace, which say the expressions that failed.
func reportTests(results []*rules.TestResult, traced map[string]*rules.TestResult) []output.Test {
	out := make([]output.Test, 0, len(results))
	for _, r := range results {
		t := output.Test{Package: r.Package, Name: r.Name, Status: "pass", DurationMS: output.Duration(r.Duration)}
		if r.Location != nil {
			t.File, t.Line = r.Location.File, r.Location.Row
		}
		switch {
		case r.Error != nil:
			t.Status, t.Error = "error", r.Error.Error()
		case r.Fail:
			t.Status = "fail"
			if tr := traced[r.Package+"."+r.Name]; tr != nil {
				for _, d := range rules.Failures(tr, 3) {
					t.Failures = append(t.Failures, output.Failure{Location: d.Location, Expression: d.Expr, Vars: d.Vars})
				}
			}
		case r.Skip:
			t.Status = "skip"
		}
		if len(r.Output) > 0 {
			t.Output = string(bytes.TrimSpace(r.Output))
		}
		out = append(out, t)
	}
	return out
}

// reportCoverage is the tests' coverage of the policy lines as reported.
func reportCoverage(run rules.TestRun, threshold float64) *output.Coverage {
	if run.Coverage == nil {
		return nil
	}
	c := &output.Coverage{Percent: run.Coverage.Coverage, Threshold: threshold, Files: []output.FileCoverage{}}
	names := make([]string, 0, len(run.Coverage.Files))
	for n := range run.Coverage.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f := run.Coverage.Files[n]
		fc := output.FileCoverage{File: n, Percent: f.Coverage}
		for _, r := range f.NotCovered {
			fc.NotCovered = append(fc.NotCovered, output.LineRange{Start: r.Start.Row, End: r.End.Row})
		}
		c.Files = append(c.Files, fc)
	}
	return c
}

// problemStart is how a problem's message begins: file:line[:column]: .
var problemStart = regexp.MustCompile(`^(\S+?):(\d+)(?::(\d+))?: `)

// reportProblems splits a policy load error into its problems, each with its file and line.
func reportProblems(err error) []output.Problem {
	if err == nil {
		return nil
	}
	var le *rules.LoadErrors
	if !errors.As(err, &le) {
		return problemsOf(err)
	}
	var out []output.Problem
	for _, e := range le.Errs {
		out = append(out, problemsOf(e)...)
	}
	return out
}

func problemsOf(err error) []output.Problem {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		// Several errors joined (a catalogue's broken files): each one's problems.
		var out []output.Problem
		for _, e := range j.Unwrap() {
			out = append(out, problemsOf(e)...)
		}
		return out
	}
	var astErrs ast.Errors
	if errors.As(err, &astErrs) {
		var out []output.Problem
		for _, ae := range astErrs {
			p := output.Problem{Message: ae.Error()}
			if ae.Location != nil {
				p.File, p.Line, p.Column = ae.Location.File, ae.Location.Row, ae.Location.Col
				p.Message = strings.TrimPrefix(p.Message, ae.Location.String()+": ")
			}
			out = append(out, p)
		}
		return out
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []output.Problem
		for _, e := range j.Unwrap() {
			out = append(out, problemsOf(e)...)
		}
		return out
	}
	// Text: each line that starts with file:line: begins a problem; the lines after it
	// (the compiler's caret and hints) belong to it.
	var out []output.Problem
	for _, line := range strings.Split(err.Error(), "\n") {
		if m := problemStart.FindStringSubmatch(line); m != nil {
			p := output.Problem{File: m[1], Message: strings.TrimPrefix(line, m[0])}
			p.Line, _ = strconv.Atoi(m[2])
			p.Column, _ = strconv.Atoi(m[3])
			out = append(out, p)
			continue
		}
		if len(out) > 0 {
			out[len(out)-1].Message += "\n" + line
			continue
		}
		out = append(out, output.Problem{Message: line})
	}
	return out
}

// scanReport is what a scan saw: the violations it found or saw again, and those it
// resolved; worst is the highest severity among the standing, non-advisory ones.
func scanReport(ctx context.Context, st affwatch.Store, scan affwatch.Scan) (*output.Report, affwatch.Severity, error) {
	rep := newReport(output.CommandScan)
	rep.Scan = output.ScanOf(scan)
	vs, err := st.Violations(ctx, affwatch.ViolationFilter{Source: affwatch.SourcePolicy})
	if err != nil {
		return nil, 0, err
	}
	worst := affwatch.SeverityUnknown
	seenRules := map[string]bool{}
	for _, v := range vs {
		seen := v.LastScan == scan.ID
		resolvedNow := v.State == affwatch.StateResolved && v.LastScan < scan.ID && !v.ResolvedAt.Before(scan.Started)
		if !seen && !resolvedNow {
			continue
		}
		if seen && v.State != affwatch.StateSuppressed && !v.Advisory && v.Severity > worst {
			worst = v.Severity
		}
		if seen && v.PolicyRevision != "" {
			rep.PolicyRevision = v.PolicyRevision
		}
		if !seenRules[v.RuleID] {
			seenRules[v.RuleID] = true
			kind := "deny"
			if v.Advisory {
				kind = "warn"
			}
			rep.Rules = append(rep.Rules, output.Rule{ID: v.RuleID, Title: v.Title, Severity: v.Severity.String(), Remediation: v.Remediation, Kind: kind})
		}
		rep.Violations = append(rep.Violations, output.ViolationOf(v))
	}
	sort.Slice(rep.Rules, func(i, j int) bool { return rep.Rules[i].ID < rep.Rules[j].ID })
	rep.Summary.Findings = scan.Counts.Findings
	return rep, worst, nil
}
