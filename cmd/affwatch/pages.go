package main

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/affwatch/affwatch/internal/output"
)

// cmdPages answers questions about the pages the scans looked at: `pages show URL` lists
// each scan's decision record about the page (fetch status, policy revision, rules judged,
// rules that found something).
func cmdPages(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "show" {
		return groupUsage("pages", args, stdout)
	}
	fs := newFlags("pages show", stderr)
	cfgPath := configFlag(fs)
	affiliate := fs.String("affiliate", "", "only this affiliate's page (a URL on several partners' sites has a record for each)")
	rule := fs.String("rule", "", "only the scans whose decision record names this rule as judged")
	limit := fs.Int("limit", 30, "at most this many scans, newest first")
	outFmt := formatFlag(fs, output.Text, output.JSON)
	// The URL comes first (pages show URL --flags); flags after it are parsed too.
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	pageURL, err := oneArg(pos, "the page: affwatch pages show URL")
	if err != nil {
		return err
	}
	out, err := output.Get(*outFmt, output.Text, output.JSON)
	if err != nil {
		return err
	}
	_, st, err := loadWithStore(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	ds, err := st.PageDecisions(ctx, pageURL, *limit)
	if err != nil {
		return fmt.Errorf("page %s: %w", pageURL, err)
	}
	rep := newReport(output.CommandPages)
	for _, d := range ds {
		if *affiliate != "" && d.AffiliateID != *affiliate {
			continue
		}
		od := output.DecisionOf(d)
		if *rule != "" && !slices.Contains(od.Judged, *rule) {
			continue
		}
		rep.Decisions = append(rep.Decisions, od)
	}
	rep.Summary.OK = true
	return out.Output(stdout, rep)
}
