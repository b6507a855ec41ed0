package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/crawler"
	"github.com/affwatch/affwatch/detectors"
	"github.com/affwatch/affwatch/internal/notify"
	"github.com/affwatch/affwatch/internal/report"
	"github.com/affwatch/affwatch/internal/store"
	"github.com/affwatch/affwatch/policies"
	"github.com/affwatch/affwatch/rules"
)

// policySources are the policy trees the config names: the embedded default pack unless
// turned off, then each extra directory.
func policySources(cfg *Config) []rules.Source {
	var srcs []rules.Source
	if cfg.Policies.Builtin == nil || *cfg.Policies.Builtin {
		srcs = append(srcs, rules.Source{Name: "policies", FS: policies.FS})
	}
	for _, d := range cfg.Policies.Dirs {
		p := cfg.path(d)
		srcs = append(srcs, rules.Source{Name: p, FS: os.DirFS(p)})
	}
	return srcs
}

// loadWithStore loads the config and opens the store it names.
func loadWithStore(ctx context.Context, cfgPath string) (*Config, *store.SQLite, error) {
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		return nil, nil, err
	}
	st, err := openStore(ctx, cfg)
	return cfg, st, err
}

func openStore(ctx context.Context, cfg *Config) (*store.SQLite, error) {
	st, err := store.OpenSQLite(ctx, cfg.StorePath())
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return st, nil
}

// configFlag adds --config to a flag set.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "affwatch.yaml", "the configuration file")
}

func cmdScan(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := newFlags("scan", stderr)
	cfgPath := configFlag(fs)
	failOn := fs.String("fail-on", "", "exit 1 when violations at or above this severity are found (default: the config's fail_on, else high)")
	verbose := fs.Bool("v", false, "log every page")
	prog := fs.String("progress", "auto", "show progress on stderr: auto (when it is a terminal), always or never")
	if err := fs.Parse(args); err != nil {
		return exitError, err
	}
	cfg, err := LoadConfig(*cfgPath)
	if err != nil {
		return exitError, err
	}
	var pr *progress
	switch *prog {
	case "always":
		pr = newProgress(stderr, len(cfg.Affiliates))
	case "auto":
		if isTerminal(stderr) && !*verbose {
			pr = newProgress(stderr, len(cfg.Affiliates))
		}
	case "never":
	default:
		return exitError, fmt.Errorf("--progress %q: want auto, always or never", *prog)
	}
	threshold := cfg.FailOnSeverity()
	if *failOn != "" {
		if threshold, err = affwatch.ParseSeverity(*failOn); err != nil {
			return exitError, fmt.Errorf("--fail-on: %w", err)
		}
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return exitError, err
	}
	defer st.Close()
	if pr != nil {
		pr.start(500 * time.Millisecond)
	}
	scan, err := scanOnce(ctx, cfg, st, logger(stderr, *verbose), pr)
	if pr != nil {
		pr.finish()
	}
	if scan.ID == 0 {
		return exitError, err
	}
	worst, perr := printScanSummary(ctx, stdout, st, scan)
	if err != nil {
		return exitError, err
	}
	if perr != nil {
		return exitError, perr
	}
	if worst >= threshold {
		return exitViolations, nil
	}
	return exitOK, nil
}

// scanOnce runs one crawl-and-check scan with the configured parts.
func scanOnce(ctx context.Context, cfg *Config, st affwatch.Store, log *slog.Logger, pr *progress) (affwatch.Scan, error) {
	eng, err := rules.Load(ctx, policySources(cfg), rules.Options{Programs: cfg.Programs, Logger: log.With("component", "rules")})
	if eng == nil {
		return affwatch.Scan{}, err
	}
	// Broken policy files are left out: the scan runs the other rules, and the command
	// still fails so that someone looks.
	var policyErr error
	if err != nil {
		log.Error("some policies were left out", "err", err)
		var le *rules.LoadErrors
		if errors.As(err, &le) {
			policyErr = fmt.Errorf("the scan ran without these broken policy files (problems logged above): %s", strings.Join(le.Dropped, ", "))
		} else {
			policyErr = err
		}
	}
	scan, err := scanWith(ctx, cfg, st, eng, log, pr)
	return scan, errors.Join(err, policyErr)
}

// scanWith runs one scan with the given policies (an engine, or the daemon's reloader).
func scanWith(ctx context.Context, cfg *Config, st affwatch.Store, eval affwatch.Evaluator, log *slog.Logger, pr *progress) (affwatch.Scan, error) {
	cr := newCrawler(cfg, cfg.Programs)
	defer cr.Close()
	cr.Logger = log.With("component", "crawler")
	if h, ok := st.(crawler.PageHistory); ok {
		cr.History = h // conditional requests: unchanged pages are judged from their snapshot
	}
	if pr != nil {
		cr.OnProgress = pr.update
	}
	sc := &affwatch.Scanner{Crawler: cr, Evaluator: eval, Store: st, Workers: cfg.Crawl.Workers, Logger: log.With("component", "scan")}
	return sc.Run(ctx, cfg.Affiliates)
}

// newCrawler makes the crawler the config describes.
func newCrawler(cfg *Config, programs []affwatch.Program) *crawler.Crawler {
	depth := 1
	if cfg.Crawl.MaxDepth != nil {
		depth = *cfg.Crawl.MaxDepth
	}
	return crawler.New(crawler.Config{
		UserAgent:      cfg.Crawl.UserAgent,
		Delay:          time.Duration(cfg.Crawl.Delay),
		Parallelism:    cfg.Crawl.Parallelism,
		MaxDepth:       depth,
		MaxPages:       cfg.Crawl.MaxPages,
		RequestTimeout: time.Duration(cfg.Crawl.RequestTimeout),
		MaxBodyBytes:   cfg.Crawl.MaxBodyBytes,
		MaxRedirects:   cfg.Crawl.MaxRedirects,
		AllowPrivate:   cfg.Crawl.AllowPrivate,
		IgnoreRobots:   cfg.Crawl.IgnoreRobots,
		Retries:        cfg.Crawl.Retries,
		RetryBackoff:   time.Duration(cfg.Crawl.RetryBackoff),
		MaxRetryWait:   time.Duration(cfg.Crawl.MaxRetryWait),
		MaxConcurrent:  cfg.Crawl.MaxConcurrent,
		SiteTimeout:    time.Duration(cfg.Crawl.SiteTimeout),
		NoSitemaps:     cfg.Crawl.Sitemaps != nil && !*cfg.Crawl.Sitemaps,
		ResolveClicks:  cfg.Crawl.ResolveClicks,
		ResolveLimit:   cfg.Crawl.ResolveLimit,
	}, programs)
}

// printScanSummary prints what a scan found and returns the highest severity among the
// standing, non-advisory violations it saw.
func printScanSummary(ctx context.Context, w io.Writer, st affwatch.Store, scan affwatch.Scan) (affwatch.Severity, error) {
	vs, err := st.Violations(ctx, affwatch.ViolationFilter{Source: affwatch.SourcePolicy})
	if err != nil {
		return 0, err
	}
	c := scan.Counts
	fmt.Fprintf(w, "scan #%d %s: %d pages (%d verified, %d not verified), %d findings: %d new, %d reopened, %d resolved\n",
		scan.ID, scan.Status, c.Pages, c.Verified, c.Failed, c.Findings, c.New, c.Reopened, c.Resolved)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEVERITY\tRULE\tSTATE\tAFFILIATE\tURL\tMESSAGE")
	worst := affwatch.SeverityUnknown
	shown := 0
	for _, v := range vs {
		seen := v.LastScan == scan.ID
		resolvedNow := v.State == affwatch.StateResolved && v.LastScan < scan.ID && !v.ResolvedAt.Before(scan.Started)
		if !seen && !resolvedNow {
			continue
		}
		if seen && v.State != affwatch.StateSuppressed && !v.Advisory && v.Severity > worst {
			worst = v.Severity
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", v.Severity, v.RuleID, v.State, v.AffiliateID, v.URL, oneLine(v.Message, 90))
		shown++
	}
	if shown == 0 {
		fmt.Fprintln(tw, "-\t-\t-\t-\t-\tno violations")
	}
	return worst, tw.Flush()
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func cmdIngest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "clicks" && args[0] != "conversions") {
		return errors.New("usage: affwatch ingest clicks|conversions [--config FILE] [--rejects FILE] FILE...")
	}
	kind := args[0]
	fs := newFlags("ingest "+kind, stderr)
	cfgPath := configFlag(fs)
	rejects := fs.String("rejects", "", "append rejected rows (file, line, reason) to this CSV file (default: <kind>-rejects.csv beside the config, written only when a row is rejected)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("name at least one file to ingest")
	}
	cfg, st, err := loadWithStore(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	if *rejects == "" {
		*rejects = cfg.path(kind + "-rejects.csv")
	}
	rw := &rejectFile{path: *rejects}
	defer rw.Close()
	opt := detectors.IngestOptions{Mapping: cfg.Ingest.Clicks, Statuses: cfg.Ingest.Statuses, OnReject: rw.Write}
	if kind == "conversions" {
		opt.Mapping = cfg.Ingest.Conversions
	}
	var errs []error
	for _, name := range fs.Args() {
		res, err := ingestFile(ctx, st, kind, name, opt)
		if err != nil {
			errs = append(errs, err)
			if res.Rows == 0 {
				continue
			}
			// A file cut short: what was read before the break is loaded; count it.
		}
		printIngest(stdout, stderr, res)
	}
	if rw.n > 0 {
		fmt.Fprintf(stderr, "%d rejected or conflicting row(s) written to %s\n", rw.n, rw.path)
	}
	return errors.Join(append(errs, rw.Close())...)
}

// rejectFile appends rejected rows to a CSV file, opened at the first one.
type rejectFile struct {
	path string
	f    *os.File
	w    *csv.Writer
	n    int
}

func (r *rejectFile) Write(rej detectors.Reject) error {
	if r.w == nil {
		f, err := os.OpenFile(r.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("reject file: %w", err)
		}
		r.f, r.w = f, csv.NewWriter(f)
		if st, err := f.Stat(); err == nil && st.Size() == 0 {
			r.w.Write([]string{"file", "line", "reason"})
		}
	}
	r.n++
	return r.w.Write([]string{rej.File, strconv.Itoa(rej.Line), rej.Reason})
}

func (r *rejectFile) Close() error {
	if r.f == nil {
		return nil
	}
	r.w.Flush()
	err := errors.Join(r.w.Error(), r.f.Close())
	r.f, r.w = nil, nil
	return err
}

func ingestFile(ctx context.Context, st detectors.EventStore, kind, name string, opt detectors.IngestOptions) (detectors.IngestResult, error) {
	f, err := os.Open(name)
	if err != nil {
		return detectors.IngestResult{}, err
	}
	defer f.Close()
	return ingestReader(ctx, st, kind, name, f, opt)
}

func ingestReader(ctx context.Context, st detectors.EventStore, kind, name string, r io.Reader, opt detectors.IngestOptions) (detectors.IngestResult, error) {
	if kind == "clicks" {
		return detectors.IngestClicks(ctx, st, name, r, opt)
	}
	return detectors.IngestConversions(ctx, st, name, r, opt)
}

func printIngest(stdout, stderr io.Writer, res detectors.IngestResult) {
	fmt.Fprintf(stdout, "%s: %d rows, %d loaded, %d already loaded, %d skipped, %d rejected, %d conflicting\n",
		res.File, res.Rows, res.Loaded, res.Duplicates, res.Skipped, res.Rejected, res.Conflicts)
	for i, r := range res.Rejects {
		if i == 20 {
			fmt.Fprintf(stderr, "... and %d more rejected or conflicting rows\n", res.Rejected+res.Conflicts-20)
			break
		}
		what := "rejected"
		if r.Conflict {
			what = "conflicting" // the reason says what differs from the stored row
		}
		fmt.Fprintf(stderr, "%s %s\n", what, r)
	}
}

func cmdDetect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("detect", stderr)
	cfgPath := configFlag(fs)
	end := fs.String("end", "", "end of the window to judge (RFC 3339; default now)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := LoadConfig(*cfgPath)
	if err != nil {
		return err
	}
	at := time.Now()
	if *end != "" {
		if at, err = detectors.ParseTime(*end); err != nil {
			return fmt.Errorf("--end: %w", err)
		}
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	scan, err := detectOnce(ctx, cfg, st, at)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "detection #%d %s: %d new, %d reopened, %d resolved\n", scan.ID, scan.Status, scan.Counts.New,
		scan.Counts.Reopened, scan.Counts.Resolved)
	return nil
}

// detectOptions are the detector settings of the config.
func detectOptions(cfg *Config, end time.Time) detectors.Options {
	return detectors.Options{End: end, Window: time.Duration(cfg.Detect.Window), History: time.Duration(cfg.Detect.History),
		Thresholds: cfg.Detect.Thresholds}
}

// detectOnce runs the detectors over the window that ends at end, as one scan.
func detectOnce(ctx context.Context, cfg *Config, st affwatch.Store, end time.Time) (affwatch.Scan, error) {
	scan, err := st.StartScan(ctx, affwatch.ScanKindDetect)
	if err != nil {
		return scan, err
	}
	vs, err := detectors.Run(ctx, st, detectOptions(cfg, end), cfg.Affiliates)
	if err == nil {
		_, err = st.SaveDetections(ctx, scan.ID, vs)
	}
	status, msg := affwatch.ScanSucceeded, ""
	if err != nil {
		status, msg = affwatch.ScanFailed, err.Error()
	}
	done, ferr := st.FinishScan(context.WithoutCancel(ctx), scan.ID, status, msg)
	return done, errors.Join(err, ferr)
}

func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("report", stderr)
	cfgPath := configFlag(fs)
	out := fs.String("out", "", "directory to write the reports to (default: the config's report.out_dir, else ./reports)")
	manager := fs.String("manager", "", "only this manager's report")
	since := fs.String("since", "24h", "what counts as new and as resolved: changes within this long")
	send := fs.Bool("send", false, "also email each manager their report through the configured SMTP server (via the outbox)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := LoadConfig(*cfgPath)
	if err != nil {
		return err
	}
	d, err := parseDuration(*since)
	if err != nil {
		return fmt.Errorf("--since: %w", err)
	}
	dir := *out
	if dir == "" {
		dir = cfg.path(cfg.Report.OutDir)
	}
	if dir == "" {
		dir = "reports"
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	set, err := buildReports(ctx, cfg, st, *manager, time.Now().Add(-d))
	if err != nil {
		return err
	}
	files, err := set.write(dir)
	for _, f := range files {
		fmt.Fprintln(stdout, f)
	}
	if err != nil || !*send {
		return err
	}
	return sendReports(ctx, cfg, st, set, stdout, logger(stderr, false))
}

// reportSet is one night's reports: one per manager (only their affiliates), and one for
// the whole program.
type reportSet struct {
	reports []namedReport
	// scanKey names the scans the reports cover: a report is emailed once per scan.
	scanKey string
}

type namedReport struct {
	name, manager string
	report.Report
}

// buildReports sorts the stored violations into one report per manager (and one for the
// whole program unless onlyManager is set).
func buildReports(ctx context.Context, cfg *Config, st affwatch.Store, onlyManager string, since time.Time) (reportSet, error) {
	all, err := st.Violations(ctx, affwatch.ViolationFilter{})
	if err != nil {
		return reportSet{}, err
	}
	scans, err := st.Scans(ctx, 50)
	if err != nil {
		return reportSet{}, err
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
	for _, a := range cfg.Affiliates {
		if a.ManagerEmail == "" {
			continue
		}
		if _, ok := managers[a.ManagerEmail]; !ok {
			order = append(order, a.ManagerEmail)
		}
		managers[a.ManagerEmail] = append(managers[a.ManagerEmail], a.ID)
	}
	title := cfg.Report.Subject
	if title == "" {
		title = "affwatch: affiliate compliance report"
	}
	now := time.Now()
	set := reportSet{scanKey: fmt.Sprintf("crawl-%d/detect-%d", lastCrawl.ID, lastDetect.ID)}
	add := func(name, manager string, vs []affwatch.Violation) {
		r := report.Build(title, manager, vs, since, now)
		r.Scan, r.DashboardURL = lastCrawl, cfg.Report.DashboardURL
		set.reports = append(set.reports, namedReport{name: name, manager: manager, Report: r})
	}
	if onlyManager == "" {
		add("all", "", all)
	}
	for _, m := range order {
		if onlyManager != "" && m != onlyManager {
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
		add(fileSafe(m), m, vs)
	}
	if onlyManager != "" && len(set.reports) == 0 {
		return set, fmt.Errorf("no affiliate has manager %q", onlyManager)
	}
	return set, nil
}

// write writes every report as HTML, text, CSV and JSON into dir and returns the files.
func (set reportSet) write(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	for _, r := range set.reports {
		for _, out := range []struct {
			ext   string
			write func(io.Writer) error
		}{{"html", r.HTML}, {"txt", r.Text}, {"csv", r.CSV}, {"json", r.JSON}} {
			name := filepath.Join(dir, "report-"+r.name+"."+out.ext)
			if err := writeFile(name, out.write); err != nil {
				return files, err
			}
			files = append(files, name)
		}
	}
	return files, nil
}

// sendReports queues each manager's report in the outbox (once per manager and scan) and
// delivers what is due. What cannot be delivered stays in the outbox for the next run.
func sendReports(ctx context.Context, cfg *Config, st *store.SQLite, set reportSet, stdout io.Writer, log *slog.Logger) error {
	smtp, err := smtpOf(cfg)
	if err != nil {
		return err
	}
	queued, already := 0, 0
	for _, r := range set.reports {
		if r.manager == "" {
			continue // the program-wide report is for files, not a mailbox
		}
		subject := fmt.Sprintf("%s: %d new, %d open, %d resolved", r.Title, len(r.New), len(r.Open), len(r.Resolved))
		e, err := r.Email([]string{r.manager}, subject)
		if err != nil {
			return fmt.Errorf("report for %s: %w", r.manager, err)
		}
		ok, err := st.Enqueue(ctx, "report/"+set.scanKey+"/"+r.manager, e)
		if err != nil {
			return err
		}
		if ok {
			queued++
		} else {
			already++
		}
	}
	// Run by hand (or by the report job), this is a retry of what waits too.
	if _, err := st.MakeDue(ctx); err != nil {
		return err
	}
	res, err := notify.Deliver(ctx, st, smtp, time.Now, log)
	fmt.Fprintf(stdout, "email: %d report(s) queued (%d already queued for these scans); %d delivered, %d not delivered\n",
		queued, already, res.Sent, res.Failed)
	if err != nil {
		return err
	}
	if res.Failed > 0 {
		return fmt.Errorf("%d email(s) not delivered, kept in the outbox and retried by the next `affwatch report --send` or the daemon:\n  %w",
			res.Failed, errors.Join(res.Errors...))
	}
	return nil
}

// smtpOf is the configured SMTP server, with its password from the environment.
func smtpOf(cfg *Config) (*notify.SMTP, error) {
	c := cfg.SMTP
	if c.Host == "" || c.From == "" {
		return nil, errors.New("smtp.host and smtp.from must be set to send email")
	}
	s := &notify.SMTP{Host: c.Host, Port: c.Port, Username: c.Username, From: c.From, TLS: c.TLS}
	if s.Port == 0 {
		s.Port = map[string]int{"tls": 465, "none": 25}[c.TLS]
		if s.Port == 0 {
			s.Port = 587
		}
	}
	if c.PasswordEnv != "" {
		pw, ok := os.LookupEnv(c.PasswordEnv)
		if !ok {
			return nil, fmt.Errorf("smtp.password_env: the environment variable %s is not set", c.PasswordEnv)
		}
		s.Password = pw
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(cfg.path(c.CAFile))
		if err != nil {
			return nil, fmt.Errorf("smtp.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("smtp.ca_file %s: no PEM certificate in it", c.CAFile)
		}
		s.TLSConfig = &tls.Config{RootCAs: pool, ServerName: c.Host, MinVersion: tls.VersionTLS12}
	}
	return s, nil
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

// fileSafe turns an email address into a file name part.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' || r == '@' {
			return r
		}
		return '_'
	}, s)
}
