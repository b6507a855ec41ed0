package app

import (
	"context"
	"errors"
	"sort"

	"github.com/affwatch/affwatch"
)

// ErrNoScan is returned by DiffPolicies when no crawl scan has finished: there is nothing
// to compare with.
var ErrNoScan = errors.New("no finished scan to compare with: run affwatch scan first")

// DiffStore is what a policy diff reads: the scans, the pages the last one saw, and the
// violations stored.
type DiffStore interface {
	Scans(ctx context.Context, limit int) ([]affwatch.Scan, error)
	Pages(ctx context.Context, scanID int64) ([]affwatch.Page, error)
	Violations(ctx context.Context, f affwatch.ViolationFilter) ([]affwatch.Violation, error)
}

// PolicyDiff is what other policies would change in the last scan's violations.
type PolicyDiff struct {
	// Scan is the last finished crawl scan; Judged the verified pages judged again.
	Scan   affwatch.Scan
	Judged int
	// Appear would be found and are not active now; Disappear are active and would not
	// be found. Both are sorted by rule and URL.
	Appear, Disappear []affwatch.Violation
	Unchanged         int
}

// DiffPolicies judges the verified pages of the last finished crawl scan again with
// eval (the policies on disk) and compares the findings with the policy violations that
// scan left active. affs are the configured affiliates (a page's affiliate that is no
// longer configured is judged as the page recorded it). A rule that fails on a page is
// passed to onErr and the diff goes on.
func DiffPolicies(ctx context.Context, st DiffStore, eval affwatch.Evaluator, affs []affwatch.Affiliate, onErr func(error)) (PolicyDiff, error) {
	var d PolicyDiff
	scans, err := st.Scans(ctx, 50)
	if err != nil {
		return d, err
	}
	for _, s := range scans {
		if s.Kind == affwatch.ScanKindCrawl && s.Status != affwatch.ScanRunning {
			d.Scan = s
			break
		}
	}
	if d.Scan.ID == 0 {
		return d, ErrNoScan
	}
	pages, err := st.Pages(ctx, d.Scan.ID)
	if err != nil {
		return d, err
	}
	stored, err := st.Violations(ctx, affwatch.ViolationFilter{Source: affwatch.SourcePolicy})
	if err != nil {
		return d, err
	}
	before := map[string]affwatch.Violation{}
	for _, v := range stored {
		if v.LastScan == d.Scan.ID && v.State.Active() {
			before[v.Fingerprint] = v
		}
	}
	byID := map[string]affwatch.Affiliate{}
	for _, a := range affs {
		byID[a.ID] = a
	}
	after := map[string]affwatch.Violation{}
	for i := range pages {
		p := &pages[i]
		if !p.FetchStatus.Verified() {
			continue
		}
		d.Judged++
		aff, ok := byID[p.Affiliate.ID]
		if !ok {
			aff = affwatch.Affiliate{ID: p.Affiliate.ID, Program: p.Program}
		}
		findings, err := eval.Evaluate(ctx, p)
		if err != nil && onErr != nil {
			onErr(err)
		}
		for _, f := range findings {
			v := affwatch.NewViolation(f, affwatch.SourcePolicy, aff, p.URL)
			after[v.Fingerprint] = v
		}
	}
	for fp, v := range after {
		if _, ok := before[fp]; !ok {
			d.Appear = append(d.Appear, v)
		}
	}
	for fp, v := range before {
		if _, ok := after[fp]; !ok {
			d.Disappear = append(d.Disappear, v)
		}
	}
	d.Unchanged = len(after) - len(d.Appear)
	sortViolations(d.Appear)
	sortViolations(d.Disappear)
	return d, nil
}

// sortViolations orders violations by rule, then URL.
func sortViolations(vs []affwatch.Violation) {
	sort.Slice(vs, func(i, j int) bool {
		if vs[i].RuleID != vs[j].RuleID {
			return vs[i].RuleID < vs[j].RuleID
		}
		return vs[i].URL < vs[j].URL
	})
}
