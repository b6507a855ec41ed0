package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/internal/notify"
	"github.com/affwatch/affwatch/internal/report"
	"github.com/affwatch/affwatch/internal/scorecard"
)

// ReportStore is what building, writing and sending the reports need of the store.
type ReportStore interface {
	affwatch.Scans
	affwatch.Violations
	affwatch.VerdictStore
	affwatch.Screenshots
	affwatch.ReportLog
	scorecard.Source
}

// DefaultSince is how far back the first report of a name looks, when no report of that
// name was written before.
const DefaultSince = 24 * time.Hour

// ReportOptions say which reports to build and what goes in them.
type ReportOptions struct {
	// Title heads every report (default "affwatch: affiliate compliance report").
	Title        string
	DashboardURL string
	// Affiliates are the configured ones: a manager's report holds the violations of the
	// affiliates they manage.
	Affiliates []affwatch.Affiliate
	// OnlyManager, when set, builds that manager's report alone (not the program's).
	OnlyManager string
	// Since is what counts as new and as resolved. Zero means since the previous report
	// of the same name (report.Build's since), or DefaultSince before now for the first.
	Since time.Time
	// RiskWindow is how far back the commission at risk looks (the detector window).
	RiskWindow time.Duration
	// Scorecard, when set, makes the partner rows (riskiest partners, big changes); its
	// End is set to now.
	Scorecard *scorecard.Options
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// ReportSet is one night's reports: one per manager (only their affiliates), and one for
// the whole program.
type ReportSet struct {
	Reports []NamedReport
	// ScanKey names the scans the reports cover: a report is emailed once per scan.
	ScanKey string
	// At is when the reports were built.
	At time.Time
}

// NamedReport is one report and whom it is for: Name is "all" or the manager's email
// made safe for a file name; Manager is "" for the program's report.
type NamedReport struct {
	Name, Manager string
	report.Report
}

// BuildReports sorts the stored violations into one report per manager (and one for the
// whole program unless opt.OnlyManager is set).
func BuildReports(ctx context.Context, st ReportStore, opt ReportOptions) (ReportSet, error) {
	at := now(opt.Now)
	all, err := st.Violations(ctx, affwatch.ViolationFilter{})
	if err != nil {
		return ReportSet{}, err
	}
	scans, err := st.Scans(ctx, 50)
	if err != nil {
		return ReportSet{}, err
	}
	var lastCrawl, lastDetect affwatch.Scan
	for _, s := range scans {
		if s.Kind == affwatch.ScanKindCrawl && lastCrawl.ID == 0 {
			lastCrawl = s
		}
		if s.Kind == affwatch.ScanKindDetect && lastDetect.ID == 0 {
			lastDetect = s
		}
	}
	managers := map[string][]string{} // manager -> affiliate ids
	var order []string
	managerOf := map[string]string{}
	for _, a := range opt.Affiliates {
		managerOf[a.ID] = a.ManagerEmail
		if a.ManagerEmail == "" {
			continue
		}
		if _, ok := managers[a.ManagerEmail]; !ok {
			order = append(order, a.ManagerEmail)
		}
		managers[a.ManagerEmail] = append(managers[a.ManagerEmail], a.ID)
	}
	title := opt.Title
	if title == "" {
		title = "affwatch: affiliate compliance report"
	}
	set := ReportSet{ScanKey: fmt.Sprintf("crawl-%d/detect-%d", lastCrawl.ID, lastDetect.ID), At: at}
	var cards []scorecard.Card
	if opt.Scorecard != nil {
		sc := *opt.Scorecard
		sc.End, sc.Verdicts = at, st
		if cards, err = scorecard.Build(ctx, st, sc); err != nil {
			return set, err
		}
	}
	risk, err := riskOf(ctx, st, managerOf, at.Add(-opt.RiskWindow))
	if err != nil {
		return set, err
	}
	add := func(name, manager string, vs []affwatch.Violation, mine func(string) bool) error {
		since := opt.Since
		if since.IsZero() {
			last, err := st.LastReport(ctx, name)
			if err != nil {
				return fmt.Errorf("previous report %s: %w", name, err)
			}
			since = last
			if since.IsZero() {
				since = at.Add(-DefaultSince)
			}
		}
		r := report.Build(title, manager, vs, since, at)
		r.Scan, r.DashboardURL = lastCrawl, opt.DashboardURL
		r.TopRisks, r.BigChanges = partnerRows(cards, manager)
		r.Risk = risk.Only(mine)
		// New violations on rendered pages show the offending element, cut from the screenshot.
		if err := r.AddCrops(ctx, st); err != nil {
			return err
		}
		set.Reports = append(set.Reports, NamedReport{Name: name, Manager: manager, Report: r})
		return nil
	}
	if opt.OnlyManager == "" {
		if err := add("all", "", all, func(string) bool { return true }); err != nil {
			return set, err
		}
	}
	for _, m := range order {
		if opt.OnlyManager != "" && m != opt.OnlyManager {
			continue
		}
		mine := map[string]bool{}
		for _, id := range managers[m] {
			mine[id] = true
		}
		var vs []affwatch.Violation
		for _, v := range all {
			if mine[v.AffiliateID] {
				vs = append(vs, v)
			}
		}
		if err := add(FileSafe(m), m, vs, func(id string) bool { return mine[id] }); err != nil {
			return set, err
		}
	}
	if opt.OnlyManager != "" && len(set.Reports) == 0 {
		return set, fmt.Errorf("no affiliate has manager %q", opt.OnlyManager)
	}
	return set, nil
}

// riskEvents is how many of an affiliate's review and reject conversions a report lists.
const riskEvents = 5

// riskOf is the commission at risk since a time: the store's sums per affiliate, the
// conversions behind them counted by verdict, the first few listed, each affiliate with
// its manager. Conversions the network already took back count for nothing, as in the
// sums.
func riskOf(ctx context.Context, st affwatch.VerdictStore, managerOf map[string]string, since time.Time) (*report.Risk, error) {
	sums, err := st.CommissionAtRisk(ctx, since)
	if err != nil {
		return nil, err
	}
	byAff := map[string]*report.AffiliateRisk{}
	err = st.EachVerdict(ctx, affwatch.VerdictFilter{Verdicts: []affwatch.Verdict{affwatch.VerdictReview, affwatch.VerdictReject}, Since: since},
		func(v affwatch.EventVerdict) error {
			if _, ok := sums[v.AffiliateID]; !ok {
				return nil // every one of them was taken back already
			}
			if affwatch.Reversed(v.Status) {
				return nil
			}
			a := byAff[v.AffiliateID]
			if a == nil {
				a = &report.AffiliateRisk{AffiliateID: v.AffiliateID, Commission: sums[v.AffiliateID], Manager: managerOf[v.AffiliateID]}
				byAff[v.AffiliateID] = a
			}
			if v.Verdict == affwatch.VerdictReject {
				a.Reject++
			} else {
				a.Review++
			}
			if len(a.Events) < riskEvents {
				a.Events = append(a.Events, v)
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	affs := make([]report.AffiliateRisk, 0, len(byAff))
	for _, a := range byAff {
		affs = append(affs, *a)
	}
	return report.NewRisk(since, affs), nil
}

// Write writes every report as HTML, text, CSV and JSON into dir and returns the files.
func (set ReportSet) Write(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	for _, r := range set.Reports {
		for _, out := range []struct {
			ext   string
			write func(io.Writer) error
		}{{"html", r.HTML}, {"txt", r.Text}, {"csv", r.CSV}, {"json", r.JSON}} {
			name := filepath.Join(dir, "report-"+r.Name+"."+out.ext)
			if err := writeFile(name, out.write); err != nil {
				return files, err
			}
			files = append(files, name)
		}
	}
	return files, nil
}

// WriteReports is the report flow every caller runs (the report command, the daemon's
// report job, the demo): build the reports, write them into dir, and record that they
// were written, so the next report of each name lists what changed since this one.
func WriteReports(ctx context.Context, st ReportStore, opt ReportOptions, dir string) (ReportSet, []string, error) {
	set, err := BuildReports(ctx, st, opt)
	if err != nil {
		return set, nil, err
	}
	files, err := set.Write(dir)
	if err != nil {
		return set, files, err
	}
	for _, r := range set.Reports {
		if err := st.RecordReport(context.WithoutCancel(ctx), r.Name, set.At); err != nil {
			return set, files, fmt.Errorf("record report %s: %w", r.Name, err)
		}
	}
	return set, files, nil
}

// SendResult is what sending the reports did.
type SendResult struct {
	// Queued reports are new in the outbox; Already were queued for these scans before.
	Queued, Already int
	notify.Result
}

// ErrNotDelivered is returned by SendReports when some emails could not be delivered:
// they stay in the outbox and are retried.
var ErrNotDelivered = errors.New("not delivered")

// SendReports queues each manager's report in the outbox (once per manager and scan) and
// delivers what is due. What cannot be delivered stays in the outbox for the next run
// (an error wrapping ErrNotDelivered).
func SendReports(ctx context.Context, ob affwatch.Outbox, n affwatch.Notifier, set ReportSet, log *slog.Logger) (SendResult, error) {
	var res SendResult
	for _, r := range set.Reports {
		if r.Manager == "" {
			continue // the program-wide report is for files, not a mailbox
		}
		subject := fmt.Sprintf("%s: %d new, %d open, %d resolved", r.Title, len(r.New), len(r.Open), len(r.Resolved))
		e, err := r.Email([]string{r.Manager}, subject)
		if err != nil {
			return res, fmt.Errorf("report for %s: %w", r.Manager, err)
		}
		ok, err := ob.Enqueue(ctx, "report/"+set.ScanKey+"/"+r.Manager, e)
		if err != nil {
			return res, err
		}
		if ok {
			res.Queued++
		} else {
			res.Already++
		}
	}
	// Run by hand (or by the report job), this is a retry of what waits too.
	if _, err := ob.MakeDue(ctx); err != nil {
		return res, err
	}
	var err error
	res.Result, err = notify.Deliver(ctx, ob, n, time.Now, logger(log, "notify"))
	if err != nil {
		return res, err
	}
	if res.Failed > 0 {
		return res, fmt.Errorf("%d email(s) %w, kept in the outbox and retried by the next `affwatch report --send` or the daemon:\n  %w",
			res.Failed, ErrNotDelivered, errors.Join(res.Errors...))
	}
	return res, nil
}

func writeFile(name string, write func(io.Writer) error) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	return f.Close()
}

// FileSafe turns an email address into a file name part.
func FileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' || r == '@' {
			return r
		}
		return '_'
	}, s)
}

// ReasonList names a card's risk reasons, the heaviest first (at most n; 0: all).
func ReasonList(c scorecard.Card, n int) string {
	var parts []string
	for i, it := range c.Risk.Items {
		if n > 0 && i == n {
			parts = append(parts, fmt.Sprintf("+%d more", len(c.Risk.Items)-n))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %.0f", it.Name, it.Weight))
	}
	return strings.Join(parts, ", ")
}

// Percent writes a rate as a percentage: 0.0125 is 1.25%.
func Percent(x float64) string { return fmt.Sprintf("%.2f%%", 100*x) }

// Change writes a relative change: +25%, -10%; n/a when there was nothing before.
func Change(p *float64) string {
	if p == nil {
		return "n/a"
	}
	return fmt.Sprintf("%+.0f%%", 100**p)
}

// partnerRows are a manager's (all partners' when manager is "") riskiest partners and
// the partners whose conversion rate or commission moved most against the period before,
// five of each.
func partnerRows(cards []scorecard.Card, manager string) (top, changes []report.PartnerRow) {
	type moved struct {
		row report.PartnerRow
		by  float64
	}
	var ms []moved
	for _, c := range cards { // riskiest first
		if manager != "" && c.Affiliate.Manager != manager {
			continue
		}
		row := report.PartnerRow{AffiliateID: c.Affiliate.ID, Name: c.Affiliate.Name, Risk: c.Risk.Score}
		if c.Risk.Score > 0 && len(top) < 5 {
			r := row
			r.Reasons = ReasonList(c, 3)
			top = append(top, r)
		}
		cur, prev, tr := c.Scorecard.Current, c.Scorecard.Previous, c.Trend
		for _, m := range []struct {
			name       string
			by         *float64
			now, then  string
			enoughData bool
		}{
			{"conversion rate", tr.ConversionRate, Percent(cur.ConversionRate), Percent(prev.ConversionRate), cur.Conversions+prev.Conversions >= 10},
			{"commission", tr.Commission, fmt.Sprintf("%.2f", cur.Commission), fmt.Sprintf("%.2f", prev.Commission), cur.Conversions+prev.Conversions >= 10},
		} {
			if m.by == nil || !m.enoughData || math.Abs(*m.by) < 0.5 {
				continue
			}
			r := row
			r.Change = fmt.Sprintf("%s %s (%s against %s)", m.name, Change(m.by), m.now, m.then)
			ms = append(ms, moved{r, math.Abs(*m.by)})
			break
		}
	}
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].by > ms[j].by })
	for i := 0; i < len(ms) && i < 5; i++ {
		changes = append(changes, ms[i].row)
	}
	return top, changes
}
