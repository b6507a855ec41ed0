package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/internal/report"
)

func cmdViolations(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "list":
			return violationsList(ctx, args[1:], stdout, stderr)
		case "show", "suppress", "ack", "reopen":
			return violationChange(ctx, args[0], args[1:], stdout, stderr)
		}
	}
	return groupUsage("violations", args, stdout)
}

func violationsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("violations list", stderr)
	cfgPath := configFlag(fs)
	state := fs.String("state", "", "only violations in these `STATES`, comma-separated (new, open, resolved, reopened, suppressed, acknowledged)")
	aff := fs.String("affiliate", "", "only the violations of these affiliate `IDS`, comma-separated")
	rule := fs.String("rule", "", "only the violations of the rule with this `ID`")
	sev := fs.String("severity", "", "only violations at or above this severity `SEV`")
	since := fs.String("since", "", "only violations seen within this `DURATION` (24h, 7d)")
	source := fs.String("source", "", "only violations from `policy|detector|joined`: policies (pages), detectors (traffic) or joined rules (the affiliate as a whole)")
	format := fs.String("format", "table", "output `table|json|csv`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	f := affwatch.ViolationFilter{RuleID: *rule, Source: affwatch.Source(*source)}
	for _, s := range splitList(*state) {
		st := affwatch.State(s)
		if !validState(st) {
			return usageErrorf("--state %q: want new, open, resolved, reopened, suppressed or acknowledged", s)
		}
		f.States = append(f.States, st)
	}
	f.AffiliateIDs = splitList(*aff)
	if *sev != "" {
		s, err := affwatch.ParseSeverity(*sev)
		if err != nil {
			return usageErrorf("--severity: %w", err)
		}
		f.MinSeverity = s
	}
	if *since != "" {
		d, err := parseDuration(*since)
		if err != nil {
			return usageErrorf("--since: %w", err)
		}
		f.Since = time.Now().Add(-d)
	}
	if *source != "" && *source != string(affwatch.SourcePolicy) && *source != string(affwatch.SourceDetector) && *source != string(affwatch.SourceJoined) {
		return usageErrorf("--source %q: want policy, detector or joined", *source)
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
	return usageErrorf("--format %q: want table, json or csv", *format)
}

// parseUntil reads the end of a suppression: a date (to the end of that day, local time)
// or an RFC 3339 time. One already past would lift the suppression at once: it is refused.
func parseUntil(s string, now time.Time) (time.Time, error) {
	u, err := time.Parse(time.RFC3339, s)
	if err != nil {
		day, derr := time.ParseInLocation("2006-01-02", s, time.Local)
		if derr != nil {
			return u, fmt.Errorf("%q: want YYYY-MM-DD or RFC 3339", s)
		}
		u = day.AddDate(0, 0, 1).Add(-time.Second)
	}
	if !u.After(now) {
		return u, fmt.Errorf("%s is in the past: the suppression would end at once (give a later date, or none to suppress until lifted)", s)
	}
	return u, nil
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
	// Each verb takes only the flags it uses.
	by, reason, until, note, format := new(string), new(string), new(string), new(string), new(string)
	*format = "text"
	switch verb {
	case "show":
		format = fs.String("format", "text", "output `text|json`")
	case "suppress":
		by = fs.String("by", "", "`WHO` decides (an email or name; recorded in the history)")
		reason = fs.String("reason", "", "`WHY` the violation is suppressed")
		until = fs.String("until", "", "suppressed until this `DATE` (YYYY-MM-DD: to the end of that day, local time; or RFC 3339); default: until lifted")
	case "ack":
		by = fs.String("by", "", "`WHO` knows and acts (an email or name; recorded in the history)")
		note = fs.String("note", "", "a `NOTE` for the history")
	case "reopen":
		by = fs.String("by", "", "`WHO` reopens it (an email or name; recorded in the history)")
	}
	// The fingerprint may come before or after the flags.
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	fp, err := oneArg(pos, "the violation by its fingerprint (or a unique prefix of it)")
	if err != nil {
		return err
	}
	var suppressUntil time.Time
	if *until != "" {
		u, err := parseUntil(*until, time.Now())
		if err != nil {
			return usageErrorf("--until: %w", err)
		}
		suppressUntil = u
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
		v, err = st.Suppress(ctx, fp, *by, *reason, suppressUntil)
	case "ack":
		v, err = st.Acknowledge(ctx, fp, *by, *note)
	case "reopen":
		if *by == "" {
			return usageErrorf("--by is required: the history says who reopened it")
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
	for _, e := range v.Evidence.Events {
		fmt.Fprintf(stdout, "event:     %s %s: %s\n", e.ConversionID, e.Verdict, oneLine(e.ReasonText(), 200))
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
		return groupUsage("scans", args, stdout)
	}
	verb := args[0]
	fs := newFlags("scans "+verb, stderr)
	cfgPath := configFlag(fs)
	limit := new(int)
	var format *string
	if verb == "list" {
		limit = fs.Int("limit", 20, "how many scans (`N`), newest first")
		format = fs.String("format", "table", "output `table|json`")
	} else {
		format = fs.String("format", "text", "output `text|json`")
	}
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	var id string
	if verb == "show" {
		if id, err = oneArg(pos, "the scan: affwatch scans show ID"); err != nil {
			return err
		}
	} else if len(pos) > 0 {
		return usageErrorf("scans list takes no argument (%s)", strings.Join(pos, " "))
	}
	_, st, err := loadWithStore(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	var scans []affwatch.Scan
	if verb == "show" {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return usageErrorf("%q is not a scan number", id)
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
	limit := fs.Int("limit", 50, "how many emails (`N`), newest first")
	if err := parseFlags(fs, args); err != nil {
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
