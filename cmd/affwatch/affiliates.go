package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/detectors"
	"github.com/affwatch/affwatch/internal/app"
	"github.com/affwatch/affwatch/internal/scorecard"
	"github.com/affwatch/affwatch/internal/store"
	"github.com/affwatch/affwatch/rules"
)

// cmdAffiliates is `affwatch affiliates list|show`: the partner scorecards and the risk
// worklist.
func cmdAffiliates(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "list":
			return affiliatesList(ctx, args[1:], stdout, stderr)
		case "show":
			return affiliatesShow(ctx, args[1:], stdout, stderr)
		}
	}
	return groupUsage("affiliates", args, stdout)
}

// scorecardFlags are the flags both affiliates commands take.
type scorecardFlags struct {
	cfg, period, end *string
}

func addScorecardFlags(fs interface {
	String(name, value, usage string) *string
}) scorecardFlags {
	return scorecardFlags{
		cfg:    fs.String("config", "affwatch.yaml", "the configuration `FILE`"),
		period: fs.String("period", "", "the scorecard's `PERIOD`, compared with the period before it: 7d, 30d (default: the config's scorecard.period, else 7d)"),
		end:    fs.String("end", "", "end of the period, a `TIME` (RFC 3339; default now)"),
	}
}

// cards builds every affiliate's scorecard for the flags and runs the joined rules on
// them (their findings in each card's Joined).
func (f scorecardFlags) cards(ctx context.Context) (*Config, []scorecard.Card, error) {
	cfg, err := LoadConfig(*f.cfg)
	if err != nil {
		return nil, nil, err
	}
	opt, err := scorecardOptions(cfg, *f.period, *f.end)
	if err != nil {
		return nil, nil, err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	defer st.Close()
	eng, err := loadJoinedRules(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	cards, err := buildCards(ctx, st, opt, eng)
	return cfg, cards, err
}

// scorecardOptions are the scorecard settings of the config and the flags.
func scorecardOptions(cfg *Config, period, end string) (scorecard.Options, error) {
	opt := scorecard.Options{End: time.Now(), Period: time.Duration(cfg.Scorecard.Period), FastSeconds: cfg.Scorecard.FastSeconds,
		Programs: cfg.Programs, Affiliates: cfg.Affiliates, Weights: cfg.Scorecard.Weights}
	if period != "" {
		d, err := parseDuration(period)
		if err != nil || d <= 0 {
			return opt, usageErrorf("--period %q: want a duration such as 7d or 30d", period)
		}
		opt.Period = d
	}
	if end != "" {
		t, err := detectors.ParseTime(end)
		if err != nil {
			return opt, usageErrorf("--end: %w", err)
		}
		opt.End = t
	}
	return opt, nil
}

// loadJoinedRules loads the joined rules (the affiliate engine) of the configured policy
// sources; nil when they hold none (a pack without policies/affiliate).
func loadJoinedRules(ctx context.Context, cfg *Config) (*rules.Engine, error) {
	srcs, err := allPolicySources(ctx, cfg)
	if err != nil {
		return nil, err
	}
	opt := ruleOptions(cfg, cfg.Programs, nil)
	opt.Kind = rules.KindAffiliate
	eng, err := rules.Load(ctx, srcs, opt)
	if eng == nil {
		if cat, cerr := rules.ReadCatalogue(srcs); cerr == nil && !hasJoined(cat) {
			return nil, nil // no joined rule anywhere: nothing to run
		}
		return nil, fmt.Errorf("joined rules: %w", err)
	}
	if err != nil {
		return eng, fmt.Errorf("joined rules: %w", err)
	}
	return eng, nil
}

func hasJoined(cat []rules.Rule) bool {
	for _, r := range cat {
		if strings.HasPrefix(r.Package, rules.AffiliateRulePrefix) {
			return true
		}
	}
	return false
}

// buildCards builds the scorecards from the store and, with an engine, runs the joined
// rules on them.
func buildCards(ctx context.Context, st *store.DB, opt scorecard.Options, eng *rules.Engine) ([]scorecard.Card, error) {
	opt.Vettings, opt.Verdicts = st, st
	cards, err := scorecard.Build(ctx, st, opt)
	if err != nil || eng == nil {
		return cards, err
	}
	_, err = scorecard.Judge(ctx, eng, cards)
	return cards, err
}

func affiliatesList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("affiliates list", stderr)
	f := addScorecardFlags(fs)
	format := fs.String("format", "table", "output `table|json|csv`")
	limit := fs.Int("limit", 0, "at most `N` affiliates, riskiest first (0: all)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *format != "table" && *format != "json" && *format != "csv" {
		return usageErrorf("--format %q: want table, json or csv", *format)
	}
	_, cards, err := f.cards(ctx)
	if err != nil {
		return err
	}
	if *limit > 0 && len(cards) > *limit {
		cards = cards[:*limit]
	}
	switch *format {
	case "json":
		if cards == nil {
			cards = []scorecard.Card{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(cards)
	case "csv":
		w := csv.NewWriter(stdout)
		w.Write([]string{"rank", "affiliate", "program", "risk", "clicks", "conversions", "conversion_rate", "conversion_rate_change",
			"revenue", "commission", "epc", "reversal_rate", "commission_at_risk", "open_critical", "open_high", "open_medium", "open_low",
			"median_days_to_fix", "pages_not_verified", "reasons"})
		for i, c := range cards {
			cur, sc := c.Scorecard.Current, c.Scorecard
			w.Write(csvSafe([]string{strconv.Itoa(i + 1), c.Affiliate.ID, c.Affiliate.Program, num(c.Risk.Score), strconv.Itoa(cur.Clicks),
				strconv.Itoa(cur.Conversions), num(cur.ConversionRate), optNum(c.Trend.ConversionRate), num(cur.Revenue), num(cur.Commission),
				num(cur.EPC), num(cur.ReversalRate), optNum(sc.CommissionAtRisk), strconv.Itoa(sc.OpenViolations["critical"]),
				strconv.Itoa(sc.OpenViolations["high"]), strconv.Itoa(sc.OpenViolations["medium"]), strconv.Itoa(sc.OpenViolations["low"]),
				optNum(sc.MedianDaysToFix), strconv.Itoa(sc.PagesNotVerified), app.ReasonList(c, 0)}))
		}
		w.Flush()
		return w.Error()
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tAFFILIATE\tRISK\tCLICKS\tCONV\tCR\tCR Δ\tCOMMISSION\tEPC\tREVERSED\tAT RISK\tOPEN C/H/M/L\tFIX DAYS\tUNVERIFIED\tTOP REASONS")
	for i, c := range cards {
		cur, sc := c.Scorecard.Current, c.Scorecard
		fmt.Fprintf(tw, "%d\t%s\t%.1f\t%d\t%d\t%s\t%s\t%.2f\t%.3f\t%s\t%s\t%d/%d/%d/%d\t%s\t%d\t%s\n", i+1, oneLine(c.Affiliate.ID, 30),
			c.Risk.Score, cur.Clicks, cur.Conversions, app.Percent(cur.ConversionRate), app.Change(c.Trend.ConversionRate), cur.Commission, cur.EPC,
			app.Percent(cur.ReversalRate), money(sc.CommissionAtRisk), sc.OpenViolations["critical"], sc.OpenViolations["high"],
			sc.OpenViolations["medium"], sc.OpenViolations["low"], days(sc.MedianDaysToFix), sc.PagesNotVerified, oneLine(app.ReasonList(c, 3), 80))
	}
	return tw.Flush()
}

func affiliatesShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("affiliates show", stderr)
	f := addScorecardFlags(fs)
	format := fs.String("format", "text", "output `text|json`")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	id, err := oneArg(pos, "the affiliate (its id)")
	if err != nil {
		return err
	}
	if *format != "text" && *format != "json" {
		return usageErrorf("--format %q: want text or json", *format)
	}
	_, cards, err := f.cards(ctx)
	if err != nil {
		return err
	}
	for i, c := range cards {
		if c.Affiliate.ID != id {
			continue
		}
		if *format == "json" {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(c)
		}
		return writeCard(stdout, c, i+1, len(cards))
	}
	return fmt.Errorf("affiliate %q: %w (not in the config, the traffic or the violations)", id, affwatch.ErrNotFound)
}

// writeCard is one scorecard for a terminal.
func writeCard(w io.Writer, c scorecard.Card, rank, of int) error {
	a := c.Affiliate
	name := a.ID
	if a.Name != "" {
		name += " (" + oneLine(a.Name, 60) + ")"
	}
	fmt.Fprintf(w, "%s, program %s: risk %.1f, #%d of %d\n", name, orNone(a.Program), c.Risk.Score, rank, of)
	fmt.Fprintf(w, "period %s to %s (%g days), against the %g days before\n\n", c.Period.Start.Format(time.RFC3339),
		c.Period.End.Format(time.RFC3339), c.Period.Days, c.Period.Days)
	cur, prev, tr := c.Scorecard.Current, c.Scorecard.Previous, c.Trend
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\tTHIS PERIOD\tBEFORE\tCHANGE\tPROGRAM")
	fmt.Fprintf(tw, "clicks\t%d\t%d\t%s\t%d\n", cur.Clicks, prev.Clicks, app.Change(tr.Clicks), c.Baseline.Clicks)
	fmt.Fprintf(tw, "conversions\t%d\t%d\t%s\t%d\n", cur.Conversions, prev.Conversions, app.Change(tr.Conversions), c.Baseline.Conversions)
	fmt.Fprintf(tw, "conversion rate\t%s\t%s\t%s\t%s\n", app.Percent(cur.ConversionRate), app.Percent(prev.ConversionRate), app.Change(tr.ConversionRate), app.Percent(c.Baseline.ConversionRate))
	fmt.Fprintf(tw, "revenue\t%.2f\t%.2f\t%s\t%.2f\n", cur.Revenue, prev.Revenue, app.Change(tr.Revenue), c.Baseline.Revenue)
	fmt.Fprintf(tw, "commission\t%.2f\t%.2f\t%s\t%.2f\n", cur.Commission, prev.Commission, app.Change(tr.Commission), c.Baseline.Commission)
	fmt.Fprintf(tw, "EPC\t%.3f\t%.3f\t%s\t%.3f\n", cur.EPC, prev.EPC, app.Change(tr.EPC), c.Baseline.EPC)
	fmt.Fprintf(tw, "reversal rate\t%s\t%s\t%s\t%s\n", app.Percent(cur.ReversalRate), app.Percent(prev.ReversalRate), app.Change(tr.ReversalRate), app.Percent(c.Baseline.ReversalRate))
	fmt.Fprintf(tw, "fast conversions\t%s\t%s\t\t%s\n", app.Percent(cur.FastShare), app.Percent(prev.FastShare), app.Percent(c.Baseline.FastShare))
	tw.Flush()
	sc := c.Scorecard
	fmt.Fprintf(w, "\ncommission at risk: %s\n", money(sc.CommissionAtRisk))
	fmt.Fprintf(w, "open violations: critical %d, high %d, medium %d, low %d; median days to fix: %s\n", sc.OpenViolations["critical"],
		sc.OpenViolations["high"], sc.OpenViolations["medium"], sc.OpenViolations["low"], days(sc.MedianDaysToFix))
	fmt.Fprintf(w, "pages (last scan): %d checked, %d not verified\n", sc.PagesChecked, sc.PagesNotVerified)
	if v := c.Vetting; v != nil {
		fmt.Fprintf(w, "vetted: %s on %s (%s): %d page(s), %d disclosure(s), %d program(s) promoted\n", strings.ToUpper(v.Verdict),
			v.VettedAt.Format("2006-01-02"), v.Site, v.Pages, v.Disclosures, len(v.Promotions))
	}
	fmt.Fprintf(w, "\nrisk %.1f:\n", c.Risk.Score)
	if len(c.Risk.Items) == 0 {
		fmt.Fprintln(w, "  nothing: no open violation, no finding, no traffic signal")
	}
	for _, it := range c.Risk.Items {
		fmt.Fprintf(w, "  %+7.1f  %-9s %-20s %s\n", it.Weight, it.Kind, it.Name, oneLine(it.Detail, 160))
	}
	if len(c.Joined) > 0 {
		fmt.Fprintln(w, "\njoined findings (evaluated now; `affwatch detect` stores them):")
		for _, f := range c.Joined {
			fmt.Fprintf(w, "  %-8s %s %s\n", f.Severity, f.RuleID, oneLine(f.Message, 200))
		}
	}
	nights := 0
	for _, n := range c.Nights {
		if n.Clicks > 0 || n.Conversions > 0 {
			nights++
		}
	}
	if nights > 0 {
		fmt.Fprintln(w, "\nnights:")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  DATE\tCLICKS\tCONV\tCR\tCOMMISSION\tREVERSED")
		for _, n := range c.Nights {
			fmt.Fprintf(tw, "  %s\t%d\t%d\t%s\t%.2f\t%d\n", n.Date, n.Clicks, n.Conversions, app.Percent(n.ConversionRate), n.Commission, n.Reversed)
		}
		tw.Flush()
	}
	return nil
}

func num(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

func optNum(p *float64) string {
	if p == nil {
		return ""
	}
	return num(*p)
}

func money(p *float64) string {
	if p == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", *p)
}

func days(p *float64) string {
	if p == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.1f", *p)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// csvSafe quotes cells a spreadsheet would run as formulas.
func csvSafe(cells []string) []string {
	for i, c := range cells {
		if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
			if _, err := strconv.ParseFloat(c, 64); err != nil {
				cells[i] = "'" + c
			}
		}
	}
	return cells
}
