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
	"strconv"
	"strings"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/crawler"
	"github.com/affwatch/affwatch/crawler/chrome"
	"github.com/affwatch/affwatch/detectors"
	"github.com/affwatch/affwatch/internal/app"
	"github.com/affwatch/affwatch/internal/notify"
	"github.com/affwatch/affwatch/internal/output"
	"github.com/affwatch/affwatch/internal/queue"
	"github.com/affwatch/affwatch/internal/schedule"
	"github.com/affwatch/affwatch/internal/scorecard"
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

// ruleOptions are the policy engine's settings from the config, for the given programs.
func ruleOptions(cfg *Config, programs []affwatch.Program, log *slog.Logger) rules.Options {
	opt := rules.Options{Programs: programs, Logger: log, EvalTimeout: time.Duration(cfg.Policies.EvalTimeout),
		MaxFindingsPerRule: cfg.Policies.MaxFindingsPerRule}
	switch {
	case cfg.Policies.EvalMemoryMB < 0:
		opt.EvalMemory = -1
	case cfg.Policies.EvalMemoryMB > 0:
		opt.EvalMemory = cfg.Policies.EvalMemoryMB << 20
	}
	return opt
}

// loadWithStore loads the config and opens the store it names.
func loadWithStore(ctx context.Context, cfgPath string) (*Config, *store.DB, error) {
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		return nil, nil, err
	}
	st, err := openStore(ctx, cfg)
	return cfg, st, err
}

func openStore(ctx context.Context, cfg *Config) (*store.DB, error) {
	var (
		st  *store.DB
		err error
	)
	switch {
	case cfg.Store.postgres():
		password := ""
		if cfg.Store.PasswordEnv != "" {
			password = os.Getenv(cfg.Store.PasswordEnv)
			if password == "" {
				return nil, fmt.Errorf("%w: store.password_env names %s, which is not set", ErrConfig, cfg.Store.PasswordEnv)
			}
		}
		st, err = store.OpenPostgres(ctx, cfg.Store.DSN, password)
	default:
		st, err = store.OpenSQLite(ctx, cfg.StorePath())
	}
	if err != nil {
		return nil, fmt.Errorf("open store (store.dsn in %s): %w", cfg.file, err)
	}
	return st, nil
}

// appStore is what the workflows the commands run need of the store: every role of the
// root contract, the vettings the scorecards read, and the pool the job queue runs on
// (nil on SQLite). openStore's store is one; the workflows name no implementation.
type appStore interface {
	affwatch.Store
	scorecard.Vettings
	queue.Pooler
	clickPruner
}

// configFlag adds --config to a flag set.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "affwatch.yaml", "the configuration `FILE`")
}

func cmdScan(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := newFlags("scan", stderr)
	cfgPath := configFlag(fs)
	failOn := fs.String("fail-on", "", "exit 1 when violations at or above this severity `SEV` are found (default: the config's fail_on, else high)")
	verbose := fs.Bool("v", false, "log every page")
	prog := fs.String("progress", "auto", "show progress on stderr: `auto|always|never` (auto: when stderr is a terminal)")
	wait := fs.Bool("wait", false, "when another scan on the database (or the daemon's) holds the scan lock, wait for it instead of exiting 4")
	onQueue := fs.Bool("workers", false, "share the scan with the affwatch worker processes through the PostgreSQL job queue (as crawl.queue: true does) and wait for them to finish it")
	outFmt := formatFlag(fs, output.Text, output.JSON, output.SARIF)
	if err := parseFlags(fs, args); err != nil {
		return exitError, err
	}
	out, err := output.Get(*outFmt, output.Text, output.JSON, output.SARIF)
	if err != nil {
		return exitError, usageErrorf("%w", err)
	}
	cfg, err := LoadConfig(*cfgPath)
	if err != nil {
		return exitError, err
	}
	if len(cfg.Affiliates) == 0 {
		// A scan of nothing would "succeed" and say nothing was wrong.
		return exitError, fmt.Errorf("%w: %s lists no affiliates: nothing to scan (add affiliates with their sites; affwatch init writes a starter file)", ErrConfig, *cfgPath)
	}
	if *onQueue {
		cfg.Crawl.Queue = true
	}
	if cfg.Crawl.Queue && !cfg.Store.postgres() {
		return exitError, errNeedPostgres
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
		return exitError, usageErrorf("--progress %q: want auto, always or never", *prog)
	}
	threshold := cfg.FailOnSeverity()
	if *failOn != "" {
		if threshold, err = affwatch.ParseSeverity(*failOn); err != nil {
			return exitError, usageErrorf("--fail-on: %w", err)
		}
	}
	log := logger(stderr, *verbose)
	eng, problems, err := loadPolicies(ctx, cfg, log)
	if err != nil {
		return exitError, err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return exitError, err
	}
	defer st.Close()
	ctx, release, err := lockScan(ctx, st, *wait, stderr)
	if err != nil {
		return exitFailed, failed(err)
	}
	defer release()
	if pr != nil {
		pr.start(500 * time.Millisecond)
	}
	scan, err := scanWith(ctx, cfg, st, eng, problems, log, pr)
	if pr != nil {
		pr.finish()
	}
	if scan.ID == 0 {
		return exitFailed, failed(err)
	}
	rep, worst, perr := scanReport(context.WithoutCancel(ctx), st, scan)
	if perr == nil {
		rep.Summary.OK = err == nil && worst < threshold
		perr = out.Output(stdout, rep)
	}
	switch {
	case errors.Is(err, affwatch.ErrScanPartial):
		return exitPartial, partial(err)
	case err != nil:
		return exitFailed, failed(err)
	case perr != nil:
		return exitFailed, failed(perr)
	case worst >= threshold:
		return exitViolations, nil
	}
	return exitOK, nil
}

// scanLock and detectLock are the store locks a scan and a detector run hold; the
// daemon's jobs take the same ones ("job:" and the job's name).
const (
	scanLock   = "job:scan"
	detectLock = "job:detect"
)

// lockTTL is how long the scan lock outlives a holder that stopped renewing it (a crash
// on another host; a holder on this host that is gone is noticed at once), and lockPoll
// how often --wait asks for it again.
const (
	lockTTL  = 2 * time.Minute
	lockPoll = 500 * time.Millisecond
)

// lockScan takes the store's scan lock, so that two scans (commands or daemons) never run
// on one database at once. A lock held by another is an error that says who holds it and
// since when; with wait, lockScan waits its turn until ctx ends. The returned context ends
// if the lock is lost; release unlocks.
func lockScan(ctx context.Context, st *store.DB, wait bool, stderr io.Writer) (context.Context, func() error, error) {
	return lockJob(ctx, st, "scan", scanLock, wait, stderr)
}

// lockJob takes the store lock of a job (scan, detect): what lockScan says of scans holds
// for each.
func lockJob(ctx context.Context, st *store.DB, job, lock string, wait bool, stderr io.Writer) (context.Context, func() error, error) {
	owner := schedule.Owner("affwatch " + job)
	waiting := false
	for {
		lockCtx, release, err := schedule.Acquire(ctx, st, lock, owner, lockTTL)
		if err == nil {
			return lockCtx, release, nil
		}
		var held *store.LockedError
		if !errors.As(err, &held) {
			return nil, nil, fmt.Errorf("%s lock: %w", job, err)
		}
		if !wait {
			return nil, nil, fmt.Errorf("another %s is running on this database: %s holds the %s lock (until %s unless it renews it); run again later, or with --wait to wait for it",
				job, held.Owner, job, held.Expires.UTC().Format(time.RFC3339))
		}
		if !waiting {
			fmt.Fprintf(stderr, "waiting for the %s lock, held by %s\n", job, held.Owner)
			waiting = true
		}
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("interrupted while waiting for the %s lock held by %s: %w", job, held.Owner, context.Cause(ctx))
		case <-time.After(lockPoll):
		}
	}
}

// loadPolicies loads the configured policies and checks the rule ids the config names
// against them and the detectors'. A pack that cannot be compiled at all, or a config that
// names an unknown rule, is an error; broken files left out are problems: the other
// rules run, and the scan is partial.
func loadPolicies(ctx context.Context, cfg *Config, log *slog.Logger) (eng *rules.Engine, problems, err error) {
	srcs, err := allPolicySources(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	eng, err = rules.Load(ctx, srcs, ruleOptions(cfg, cfg.Programs, log.With("component", "rules")))
	if eng == nil {
		return nil, nil, err
	}
	if err != nil {
		log.Error("some policies were left out", "err", err)
		var le *rules.LoadErrors
		if errors.As(err, &le) && len(le.Dropped) > 0 {
			return eng, fmt.Errorf("broken policy files left out: %s (problems logged)", strings.Join(le.Dropped, ", ")), nil
		}
		// The ids of the rules in broken files are unknown: the names the config gives are
		// not checked against the rest, which would blame the config for the broken file.
		return eng, err, nil
	}
	return eng, nil, cfg.checkRuleIDs(knownRule(eng))
}

// knownRule says whether a rule id is a policy's (of one of engs) or a detector's.
func knownRule(engs ...*rules.Engine) func(string) bool {
	ids := map[string]bool{}
	for _, eng := range engs {
		for _, r := range eng.Rules() {
			ids[r.ID] = true
		}
	}
	for _, r := range detectors.Rules() {
		ids[r.ID] = true
	}
	return func(id string) bool { return ids[id] }
}

// scanOnce runs one crawl-and-check scan with the configured parts.
func scanOnce(ctx context.Context, cfg *Config, st appStore, log *slog.Logger, pr *progress) (affwatch.Scan, error) {
	eng, problems, err := loadPolicies(ctx, cfg, log)
	if err != nil {
		return affwatch.Scan{}, err
	}
	return scanWith(ctx, cfg, st, eng, problems, log, pr)
}

// scanWith runs one scan with the given policies (an engine, or the daemon's reloader);
// problems says what is wrong with them (files left out), recorded on a partial scan.
func scanWith(ctx context.Context, cfg *Config, st appStore, eval affwatch.Evaluator, problems error, log *slog.Logger, pr *progress) (affwatch.Scan, error) {
	if cfg.rendering() {
		// Without the browser every rendered page would fail: say so before the scan.
		if err := chrome.Check(cfg.Crawl.ChromiumPath); err != nil {
			return affwatch.Scan{}, fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	if cfg.Crawl.Queue {
		return queueScan(ctx, cfg, st, eval, problems, log, pr)
	}
	cr := newCrawler(cfg, cfg.Programs)
	defer cr.Close()
	cr.Logger = log.With("component", "crawler")
	cr.History = st // conditional requests: unchanged pages are judged from their snapshot
	if pr != nil {
		cr.OnProgress = pr.update
	}
	sc := &affwatch.Scanner{Crawler: cr, Evaluator: eval, Store: st, Workers: cfg.Crawl.Workers, Logger: log.With("component", "scan"),
		PolicyProblems: problems}
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
		Retries:        crawlRetries(cfg.Crawl.Retries),
		RetryBackoff:   time.Duration(cfg.Crawl.RetryBackoff),
		MaxRetryWait:   time.Duration(cfg.Crawl.MaxRetryWait),
		MaxConcurrent:  cfg.Crawl.MaxConcurrent,
		SiteTimeout:    time.Duration(cfg.Crawl.SiteTimeout),
		NoSitemaps:     cfg.Crawl.Sitemaps != nil && !*cfg.Crawl.Sitemaps,
		ResolveClicks:  cfg.Crawl.ResolveClicks,
		ResolveLimit:   cfg.Crawl.ResolveLimit,
		MaxLinks:       cfg.Crawl.MaxLinks,
		Render:         cfg.Crawl.Render,
		Renderer:       newRenderer(cfg),
	}, programs)
}

// crawlRetries is the crawler's retry count for the config's: unset keeps the default (2),
// 0 means none (the crawler's -1).
func crawlRetries(n *int) int {
	switch {
	case n == nil:
		return 0
	case *n <= 0:
		return -1
	}
	return *n
}

// newRenderer makes the browser pool when the config renders any page (nil otherwise: no
// browser starts). Chromium itself starts with the first page to render.
func newRenderer(cfg *Config) crawler.Renderer {
	if !cfg.rendering() {
		return nil
	}
	return chrome.New(chrome.Config{
		ExecPath:     cfg.Crawl.ChromiumPath,
		Tabs:         cfg.Crawl.RenderTabs,
		Timeout:      time.Duration(cfg.Crawl.RenderTimeout),
		MaxHTMLBytes: cfg.Crawl.MaxBodyBytes,
		UserAgent:    cfg.Crawl.UserAgent,
		AllowPrivate: cfg.Crawl.AllowPrivate,
		AllowHosts:   cfg.Crawl.RenderAllowHosts,
		Logger:       slog.Default().With("component", "chrome"),
	})
}

// printScanSummary prints what a scan found (as text) and returns the highest severity
// among the standing, non-advisory violations it saw.
func printScanSummary(ctx context.Context, w io.Writer, st affwatch.Store, scan affwatch.Scan) (affwatch.Severity, error) {
	rep, worst, err := scanReport(ctx, st, scan)
	if err != nil {
		return 0, err
	}
	out, _ := output.Get(string(output.Text), output.Text)
	return worst, out.Output(w, rep)
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
		return groupUsage("ingest", args, stdout)
	}
	kind := args[0]
	fs := newFlags("ingest clicks|conversions", stderr)
	cfgPath := configFlag(fs)
	rejects := fs.String("rejects", "", "append rejected rows (file, line, reason) to this CSV `FILE` (default: <kind>-rejects.csv beside the config, written only when a row is rejected)")
	files, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usageErrorf("name at least one file to ingest")
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
	judge, err := newJudge(ctx, cfg, st)
	if err != nil {
		return err
	}
	opt := detectors.IngestOptions{Mapping: cfg.Ingest.Clicks, Statuses: cfg.Ingest.Statuses, OnReject: rw.Write, Judge: judge}
	if kind == "conversions" {
		opt.Mapping = cfg.Ingest.Conversions
	}
	var errs []error
	loaded := false
	for _, name := range files {
		res, err := ingestFile(ctx, st, kind, name, opt)
		loaded = loaded || res.Rows > 0
		if err != nil {
			errs = append(errs, err)
			if res.Rows == 0 {
				continue
			}
			// A file cut short: what was read before the break is loaded; count it.
		}
		printIngest(stdout, stderr, res)
	}
	if err := errors.Join(append(errs, rw.Close())...); err != nil {
		if loaded {
			return partial(err) // some rows are in; a rerun of the same files completes the rest
		}
		return err
	}
	if rw.n > 0 {
		// The rest loaded; what was rejected was not: a partial load, exit 3.
		return partial(fmt.Errorf("%d rejected or conflicting row(s) written to %s", rw.n, rw.path))
	}
	return nil
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

// newJudge makes the per-event judge of the config's verdict rules, with the stuffing
// pages the crawler found (stored STUFF-* violations).
func newJudge(ctx context.Context, cfg *Config, st appStore) (*detectors.Judge, error) {
	vs, err := st.Violations(ctx, affwatch.ViolationFilter{Source: affwatch.SourcePolicy})
	if err != nil {
		return nil, fmt.Errorf("read stuffing findings: %w", err)
	}
	return detectors.NewJudge(cfg.Verdicts.rules(cfg.Detect.Thresholds), detectors.StuffedPagesOf(vs)), nil
}

// verdictCounts writes counts by verdict: "9 ok, 1 review, 0 reject".
func verdictCounts(m map[affwatch.Verdict]int) string {
	parts := make([]string, len(affwatch.Verdicts))
	for i, v := range affwatch.Verdicts {
		parts[i] = fmt.Sprintf("%d %s", m[v], v)
	}
	return strings.Join(parts, ", ")
}

func printIngest(stdout, stderr io.Writer, res detectors.IngestResult) {
	verdicts := ""
	if res.Verdicts != nil {
		verdicts = "; verdicts: " + verdictCounts(res.Verdicts)
	}
	fmt.Fprintf(stdout, "%s: %d rows, %d loaded, %d already loaded, %d skipped, %d rejected, %d conflicting%s\n",
		res.File, res.Rows, res.Loaded, res.Duplicates, res.Skipped, res.Rejected, res.Conflicts, verdicts)
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
	end := fs.String("end", "", "end of the window to judge, a `TIME` (RFC 3339; default now)")
	wait := fs.Bool("wait", false, "when another detector run on the database (or the daemon's) holds the detect lock, wait for it instead of exiting 4")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := LoadConfig(*cfgPath)
	if err != nil {
		return err
	}
	at := time.Now()
	if *end != "" {
		if at, err = detectors.ParseTime(*end); err != nil {
			return usageErrorf("--end: %w", err)
		}
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx, release, err := lockJob(ctx, st, "detect", detectLock, *wait, stderr)
	if err != nil {
		return failed(err)
	}
	defer release()
	scan, judged, err := detectOnce(ctx, cfg, st, at)
	if err != nil {
		return failed(err)
	}
	fmt.Fprintf(stdout, "detection #%d %s: %d new, %d reopened, %d resolved\n", scan.ID, scan.Status, scan.Counts.New,
		scan.Counts.Reopened, scan.Counts.Resolved)
	if judged != nil {
		fmt.Fprintf(stdout, "conversions judged again in the window: %s\n", verdictCounts(judged.Counts))
	}
	return nil
}

// detectOptions are the detector settings of the config.
func detectOptions(cfg *Config, end time.Time) detectors.Options {
	return detectors.Options{End: end, Window: time.Duration(cfg.Detect.Window), History: time.Duration(cfg.Detect.History),
		Thresholds: cfg.Detect.Thresholds}
}

// detectOnce runs app.Detect with the config's detectors, programs, judge, joined rules
// and scorecard, over the window that ends at end.
func detectOnce(ctx context.Context, cfg *Config, st appStore, end time.Time) (affwatch.Scan, *detectors.JudgeSummary, error) {
	sc, _ := scorecardOptions(cfg, "", "")
	return app.Detect(ctx, st, app.DetectOptions{Detectors: detectOptions(cfg, end), Affiliates: cfg.Affiliates, Programs: cfg.Programs,
		Judge:     func(ctx context.Context) (*detectors.Judge, error) { return newJudge(ctx, cfg, st) },
		Joined:    func(ctx context.Context) (*rules.Engine, error) { return loadJoinedRules(ctx, cfg) },
		Prune:     func(ctx context.Context) error { return applyRetention(ctx, cfg, st, time.Now()) },
		Scorecard: sc})
}

func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("report", stderr)
	cfgPath := configFlag(fs)
	out := fs.String("out", "", "`DIR` to write the reports to (default: the config's report.out_dir, else reports, beside the config)")
	manager := fs.String("manager", "", "only the report of the manager with this `EMAIL`")
	since := fs.String("since", "", "what counts as new and as resolved: changes within this `DURATION` (24h, 7d; default: since the previous report, else 24h)")
	send := fs.Bool("send", false, "also email each manager their report through the configured SMTP server (via the outbox)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := LoadConfig(*cfgPath)
	if err != nil {
		return err
	}
	opt := reportOptions(cfg)
	opt.OnlyManager = *manager
	if *since != "" {
		d, err := parseDuration(*since)
		if err != nil {
			return usageErrorf("--since: %w", err)
		}
		opt.Since = time.Now().Add(-d)
	}
	var smtp *notify.SMTP
	if *send {
		if smtp, err = smtpOf(cfg); err != nil {
			return err
		}
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	set, files, err := app.WriteReports(ctx, st, opt, reportDir(cfg, *out))
	for _, f := range files {
		fmt.Fprintln(stdout, f)
	}
	if err != nil || !*send {
		return err
	}
	res, err := app.SendReports(ctx, st, smtp, set, logger(stderr, false).With("component", "notify"))
	fmt.Fprintf(stdout, "email: %d report(s) queued (%d already queued for these scans); %d delivered, %d not delivered\n",
		res.Queued, res.Already, res.Sent, res.Failed)
	if errors.Is(err, app.ErrNotDelivered) {
		return partial(err)
	}
	return err
}

// reportOptions are the reports the config describes: its title, dashboard link,
// affiliates and their managers, the detector window for the commission at risk, the
// scorecard for the partner rows. Since is left zero: since the previous report.
func reportOptions(cfg *Config) app.ReportOptions {
	sc, _ := scorecardOptions(cfg, "", "")
	return app.ReportOptions{Title: cfg.Report.Subject, DashboardURL: cfg.Report.DashboardURL, Affiliates: cfg.Affiliates,
		RiskWindow: time.Duration(cfg.Detect.Window), Scorecard: &sc}
}

// reportDir is the one rule for where reports go, for the report command, the daemon and
// the demo alike: the folder asked for (--out), else the config's report.out_dir, else
// "reports"; a relative folder from the config is beside the config file.
func reportDir(cfg *Config, out string) string {
	if out != "" {
		return out
	}
	if cfg.Report.OutDir != "" {
		return cfg.path(cfg.Report.OutDir)
	}
	return cfg.path("reports")
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
