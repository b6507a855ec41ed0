package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/internal/report"
)

const violationsUsage = `usage:
  affwatch violations list [--config FILE] [--state S] [--affiliate ID] [--rule ID] [--severity SEV] [--since DURATION] [--source policy|detector] [--format table|json|csv]
  affwatch violations show FINGERPRINT [--config FILE] [--format text|json]
  affwatch violations suppress FINGERPRINT --by WHO --reason WHY [--until DATE]
  affwatch violations ack FINGERPRINT --by WHO [--note NOTE]
  affwatch violations reopen FINGERPRINT --by WHO`

func cmdViolations(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(violationsUsage)
	}
	switch args[0] {
	case "list":
		return violationsList(ctx, args[1:], stdout, stderr)
	case "show", "suppress", "ack", "reopen":
		return violationChange(ctx, args[0], args[1:], stdout, stderr)
	}
	return errors.New(violationsUsage)
}

func violationsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("violations list", stderr)
	cfgPath := configFlag(fs)
	state := fs.String("state", "", "only violations in these states, comma-separated (new, open, resolved, reopened, suppressed, acknowledged)")
	aff := fs.String("affiliate", "", "only these affiliates' violations, comma-separated")
	rule := fs.String("rule", "", "only this rule's violations")
	sev := fs.String("severity", "", "only violations at or above this severity")
	since := fs.String("since", "", "only violations seen within this long (e.g. 24h, 7d)")
	source := fs.String("source", "", "policy (pages) or detector (traffic)")
	format := fs.String("format", "table", "table, json or csv")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f := affwatch.ViolationFilter{RuleID: *rule, Source: affwatch.Source(*source)}
	for _, s := range splitList(*state) {
		st := affwatch.State(s)
		if !validState(st) {
			return fmt.Errorf("--state %q: want new, open, resolved, reopened, suppressed or acknowledged", s)
		}
		f.States = append(f.States, st)
	}
	f.AffiliateIDs = splitList(*aff)
	if *sev != "" {
		s, err := affwatch.ParseSeverity(*sev)
		if err != nil {
			return fmt.Errorf("--severity: %w", err)
		}
		f.MinSeverity = s
	}
	if *since != "" {
		d, err := parseDuration(*since)
		if err != nil {
			return fmt.Errorf("--since: %w", err)
		}
		f.Since = time.Now().Add(-d)
	}
	if *source != "" && *source != string(affwatch.SourcePolicy) && *source != string(affwatch.SourceDetector) {
		return fmt.Errorf("--source %q: want policy or detector", *source)
	}
	_, st, err := loadWithStore(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	vs, err := st.Violations(ctx, f)
	if err != nil {
		return err
	}
	switch *format {
	case "json":
		if vs == nil {
			vs = []affwatch.Violation{}
		}
		return writeJSON(stdout, vs)
	case "csv":
		return report.Build("", "", vs, time.Time{}, time.Now()).CSV(stdout)
	case "table":
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "FINGERPRINT\tSEVERITY\tRULE\tSTATE\tAFFILIATE\tWHERE\tFIRST SEEN\tMESSAGE")
		for _, v := range vs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.Fingerprint[:min(12, len(v.Fingerprint))], v.Severity, v.RuleID, v.State,
				v.AffiliateID, v.URL, v.FirstSeen.UTC().Format("2006-01-02"), oneLine(v.Message, 80))
		}
		return tw.Flush()
	}
	return fmt.Errorf("--format %q: want table, json or csv", *format)
}

func validState(s affwatch.State) bool {
	switch s {
	case affwatch.StateNew, affwatch.StateOpen, affwatch.StateResolved, affwatch.StateReopened, affwatch.StateSuppressed, affwatch.StateAcknowledged:
		return true
	}
	return false
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// violationChange shows one violation with its history, or changes its state by hand.
func violationChange(ctx context.Context, verb string, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("violations "+verb, stderr)
	cfgPath := configFlag(fs)
	by := fs.String("by", "", "who decides (an email or name; recorded in the history)")
	reason := fs.String("reason", "", "why the violation is suppressed")
	until := fs.String("until", "", "suppressed until this date (YYYY-MM-DD or RFC 3339; default: until lifted)")
	note := fs.String("note", "", "a note for the history")
	format := fs.String("format", "text", "text or json (show)")
	// The fingerprint may come before or after the flags.
	var fp string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		fp, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fp == "" && fs.NArg() > 0 {
		fp = fs.Arg(0)
	}
	if fp == "" {
		return errors.New(violationsUsage)
	}
	_, st, err := loadWithStore(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	var v affwatch.Violation
	switch verb {
	case "show":
		v, err = st.Violation(ctx, fp)
	case "suppress":
		var u time.Time
		if *until != "" {
			if u, err = time.Parse("2006-01-02", *until); err != nil {
				if u, err = time.Parse(time.RFC3339, *until); err != nil {
					return fmt.Errorf("--until %q: want YYYY-MM-DD or RFC 3339", *until)
				}
			}
		}
		v, err = st.Suppress(ctx, fp, *by, *reason, u)
	case "ack":
		v, err = st.Acknowledge(ctx, fp, *by, *note)
	case "reopen":
		if *by == "" {
			return errors.New("--by is required: the history says who reopened it")
		}
		v, err = st.Reopen(ctx, fp, *by)
	}
	if err != nil {
		return err
	}
	hist, err := st.History(ctx, v.Fingerprint)
	if err != nil {
		return err
	}
	if *format == "json" {
		return writeJSON(stdout, struct {
			affwatch.Violation
			History []affwatch.ViolationEvent `json:"history"`
		}{v, hist})
	}
	fmt.Fprintf(stdout, "%s  %s %s  [%s]\n%s\n", v.Fingerprint, v.RuleID, v.Title, v.State, v.Message)
	fmt.Fprintf(stdout, "affiliate: %s  program: %s\n", v.AffiliateID, v.ProgramID)
	if v.URL != "" {
		fmt.Fprintf(stdout, "page:      %s\n", v.URL)
	}
	if v.Evidence.Snippet != "" {
		fmt.Fprintf(stdout, "evidence:  %s\n", oneLine(v.Evidence.Snippet, 300))
	}
	if len(v.Evidence.Numbers) > 0 {
		b, _ := json.Marshal(v.Evidence.Numbers)
		fmt.Fprintf(stdout, "numbers:   %s\n", b)
	}
	if v.State == affwatch.StateSuppressed {
		until := "until lifted"
		if !v.SuppressUntil.IsZero() {
			until = "until " + v.SuppressUntil.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(stdout, "suppressed by %s: %s (%s)\n", v.SuppressedBy, v.SuppressReason, until)
	}
	fmt.Fprintln(stdout, "history:")
	for _, e := range hist {
		scan := ""
		if e.ScanID > 0 {
			scan = " scan #" + strconv.FormatInt(e.ScanID, 10)
		}
		from := string(e.From)
		if from == "" {
			from = "-"
		}
		fmt.Fprintf(stdout, "  %s%s  %s -> %s  %s\n", e.At.UTC().Format("2006-01-02 15:04"), scan, from, e.To, e.Note)
	}
	return nil
}

func cmdScans(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "show") {
		return errors.New("usage: affwatch scans list [--limit N] [--format table|json] | affwatch scans show ID [--format text|json]")
	}
	verb := args[0]
	fs := newFlags("scans "+verb, stderr)
	cfgPath := configFlag(fs)
	limit := fs.Int("limit", 20, "how many scans, newest first")
	format := fs.String("format", "table", "table (text for show) or json")
	var id string
	if verb == "show" && len(args) > 1 && !strings.HasPrefix(args[1], "-") {
		id, args = args[1], append([]string{args[0]}, args[2:]...)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	_, st, err := loadWithStore(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	var scans []affwatch.Scan
	if verb == "show" {
		if id == "" && fs.NArg() > 0 {
			id = fs.Arg(0)
		}
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return fmt.Errorf("scans show: %q is not a scan number", id)
		}
		sc, err := st.Scan(ctx, n)
		if err != nil {
			return err
		}
		scans = []affwatch.Scan{sc}
	} else if scans, err = st.Scans(ctx, *limit); err != nil {
		return err
	}
	if *format == "json" {
		if scans == nil {
			scans = []affwatch.Scan{}
		}
		return writeJSON(stdout, scans)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tSTATUS\tSTARTED\tTOOK\tPAGES\tNOT VERIFIED\tFINDINGS\tNEW\tREOPENED\tRESOLVED\tERROR")
	for _, s := range scans {
		took := "running"
		if !s.Finished.IsZero() {
			took = s.Finished.Sub(s.Started).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", s.ID, s.Kind, s.Status, s.Started.UTC().Format("2006-01-02 15:04"),
			took, s.Counts.Pages, s.Counts.Failed, s.Counts.Findings, s.Counts.New, s.Counts.Reopened, s.Counts.Resolved, oneLine(s.Error, 60))
	}
	return tw.Flush()
}

func cmdOutbox(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("outbox", stderr)
	cfgPath := configFlag(fs)
	pending := fs.Bool("pending", false, "only emails not yet delivered")
	limit := fs.Int("limit", 50, "how many, newest first")
	if err := fs.Parse(args); err != nil {
		return err
	}
	_, st, err := loadWithStore(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	items, err := st.Mail(ctx, *pending, *limit)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTO\tSUBJECT\tQUEUED\tATTEMPTS\tSTATE\tLAST ERROR")
	for _, it := range items {
		state := "sent " + it.SentAt.UTC().Format("2006-01-02 15:04")
		if it.SentAt.IsZero() {
			state = "next try " + it.NextAttempt.UTC().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", it.ID, strings.Join(it.Email.To, ", "), oneLine(it.Email.Subject, 60),
			it.CreatedAt.UTC().Format("2006-01-02 15:04"), it.Attempts, state, oneLine(it.LastError, 80))
	}
	return tw.Flush()
}
