package output

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/affwatch/affwatch"
)

// textOutput is for people at a terminal: each command's own summary and table.
type textOutput struct{}

func (textOutput) Output(w io.Writer, r *Report) error {
	switch r.Command {
	case CommandEval:
		return textEval(w, r)
	case CommandTest:
		return textTest(w, r)
	case CommandCheck:
		return textCheck(w, r)
	case CommandScan:
		return textScan(w, r)
	case CommandPages:
		return textDecisions(w, r)
	}
	return fmt.Errorf("text output: unknown command %q", r.Command)
}

func textEval(w io.Writer, r *Report) error {
	for _, p := range r.Pages {
		fmt.Fprintf(w, "%s: %s, %d links (%d affiliate), %d disclosures, %d embeds\n", p.URL, p.FetchStatus,
			p.Links, p.AffiliateLinks, p.Disclosures, p.Embeds)
		byRule := map[string][]Finding{}
		for _, f := range p.Findings {
			byRule[f.RuleID] = append(byRule[f.RuleID], f)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, rule := range r.Rules {
			fs := byRule[rule.ID]
			if len(fs) == 0 {
				if r.Explain {
					fmt.Fprintf(tw, "pass\t%s\t%s\t%s\n", rule.ID, rule.Severity, rule.Title)
				}
				continue
			}
			for _, f := range fs {
				kind := "DENY"
				if f.Kind == "warn" {
					kind = "WARN"
				}
				if f.Suppressed != "" {
					kind = "SUPPRESSED"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", kind, f.RuleID, f.Severity, f.Message)
				if f.Evidence.Snippet != "" {
					fmt.Fprintf(tw, "\t\tevidence\t%s\n", OneLine(f.Evidence.Snippet, 120))
				}
				if f.Evidence.Selector != "" {
					fmt.Fprintf(tw, "\t\tselector\t%s (offset %d)\n", f.Evidence.Selector, f.Evidence.Offset)
				}
				if r.Explain {
					fmt.Fprintf(tw, "\t\twhy\t%s\n", OneLine(rule.Description, 160))
					fmt.Fprintf(tw, "\t\tfix\t%s\n", OneLine(rule.Remediation, 160))
				}
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(w, "%d findings\n", len(p.Findings))
	}
	return nil
}

func textTest(w io.Writer, r *Report) error {
	for _, t := range r.Tests {
		switch t.Status {
		case "error":
			fmt.Fprintf(w, "ERROR %s:%d: %s.%s\n      %s\n", t.File, t.Line, t.Package, t.Name, t.Error)
		case "fail":
			fmt.Fprintf(w, "FAIL  %s:%d: %s.%s\n", t.File, t.Line, t.Package, t.Name)
			// The failing expressions with the values of their variables.
			for _, f := range t.Failures {
				fmt.Fprintf(w, "      %s: %s\n", f.Location, f.Expression)
				names := make([]string, 0, len(f.Vars))
				for k := range f.Vars {
					names = append(names, k)
				}
				sort.Strings(names)
				for _, k := range names {
					fmt.Fprintf(w, "          %s = %s\n", k, f.Vars[k])
				}
			}
			if t.Output != "" {
				fmt.Fprintf(w, "      output: %s\n", strings.TrimSpace(t.Output))
			}
		}
	}
	if c := r.Coverage; c != nil {
		for _, f := range c.Files {
			line := fmt.Sprintf("coverage %5.1f%%  %s", f.Percent, f.File)
			if len(f.NotCovered) > 0 {
				var rows []string
				for _, nc := range f.NotCovered {
					rows = append(rows, fmt.Sprintf("%d-%d", nc.Start, nc.End))
				}
				line += "  (not run: lines " + strings.Join(rows, ", ") + ")"
			}
			fmt.Fprintln(w, line)
		}
		fmt.Fprintf(w, "coverage %.1f%% overall\n", c.Percent)
	}
	s := r.Summary
	d := time.Duration(s.DurationMS * float64(time.Millisecond)).Round(time.Millisecond)
	_, err := fmt.Fprintf(w, "%d tests, %d passed, %d failed in %s\n", s.Tests, s.Tests-s.Failed, s.Failed, d)
	return err
}

func textCheck(w io.Writer, r *Report) error {
	c := r.Check
	if c == nil {
		return nil
	}
	if c.Error != "" {
		fmt.Fprintln(w, c.Error)
	}
	if c.Compiled {
		fmt.Fprintf(w, "compiled %d rules (revision %s)\n", c.Rules, c.Revision)
	}
	for _, f := range c.Unformatted {
		fmt.Fprintf(w, "%s: not formatted (run affwatch policy fmt --write)\n", f)
	}
	if c.Error == "" && len(c.Unformatted) == 0 {
		fmt.Fprintln(w, "ok")
	}
	return nil
}

func textScan(w io.Writer, r *Report) error {
	s := r.Scan
	if s == nil {
		return nil
	}
	fmt.Fprintf(w, "scan #%d %s: %d pages (%d verified, %d not verified), %d findings: %d new, %d reopened, %d resolved\n",
		s.ID, s.Status, s.Pages, s.Verified, s.NotVerified, s.Findings, s.New, s.Reopened, s.Resolved)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEVERITY\tRULE\tSTATE\tAFFILIATE\tURL\tMESSAGE")
	for _, v := range r.Violations {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", v.Severity, v.RuleID, v.State, v.AffiliateID, v.URL, OneLine(v.Message, 90))
	}
	if len(r.Violations) == 0 {
		fmt.Fprintln(tw, "-\t-\t-\t-\t-\tno violations")
	}
	return tw.Flush()
}

func textDecisions(w io.Writer, r *Report) error {
	for i, d := range r.Decisions {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "scan #%d (%s) %s, affiliate %s: %s", d.ScanID, d.ScanStarted, d.URL, d.AffiliateID, d.FetchStatus)
		if d.FetchError != "" {
			fmt.Fprintf(w, " (%s)", OneLine(d.FetchError, 100))
		}
		fmt.Fprintln(w)
		switch {
		case d.Recorded:
			fmt.Fprintf(w, "  policy revision %s\n", d.PolicyRevision)
			fmt.Fprintf(w, "  rules judged (%d): %s\n", len(d.Judged), listOrNone(d.Judged))
			fmt.Fprintf(w, "  rules failed (%d): %s\n", len(d.Violated), listOrNone(d.Violated))
		case affwatch.FetchStatus(d.FetchStatus).Verified():
			fmt.Fprintf(w, "  no decision record (stored before they were kept); %d findings\n", d.Findings)
		default:
			fmt.Fprintln(w, "  not judged: the page could not be verified, so no rule checked it")
		}
		if d.EvalErrors != "" {
			fmt.Fprintf(w, "  rule errors: %s\n", OneLine(d.EvalErrors, 200))
		}
	}
	if len(r.Decisions) == 0 {
		fmt.Fprintln(w, "no scan has looked at this page")
	}
	return nil
}

func listOrNone(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ", ")
}

// OneLine puts s on one line of at most n characters.
func OneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// jsonOutput is one JSON document per run (docs/schemas/output.schema.json).
type jsonOutput struct{}

func (jsonOutput) Output(w io.Writer, r *Report) error {
	doc := *r
	doc.SchemaVersion = SchemaVersion
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
