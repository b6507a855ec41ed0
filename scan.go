package affwatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
)

// ScanKindCrawl is the kind of scan that crawls partner pages and checks them against
// the policies; ScanKindDetect runs the statistical detectors over the event logs.
const (
	ScanKindCrawl  = "crawl"
	ScanKindDetect = "detect"
)

// Scanner runs one crawl-and-check scan: every affiliate's sites are crawled, each page is
// checked against the program's policies as soon as it arrives, and the page with its
// violations is stored in one transaction, so an interrupted scan keeps every page it
// finished and a rerun duplicates nothing.
type Scanner struct {
	Crawler   Crawler
	Evaluator Evaluator
	Store     ScanStore
	// Workers is how many affiliates are crawled at once (default 4). Politeness per host
	// is the crawler's business.
	Workers int
	Logger  *slog.Logger
	// OnPage, when set, is called after each page is stored (for progress displays).
	OnPage func(aff Affiliate, page *Page, out PageOutcome)
	// PolicyProblems, when set, says what is wrong with the policies the Evaluator was
	// built from (broken files left out): the scan still runs the other rules, and is
	// recorded as partial with this reason.
	PolicyProblems error
}

// ErrScanPartial and ErrScanFailed are what Run returns (wrapped, with the reason) for a
// scan recorded as partial (something could not be checked: pages not verified, rules
// that failed, policies left out) or as failed (interrupted, an affiliate's crawl failed,
// no page could be verified).
var (
	ErrScanPartial = errors.New("partial")
	ErrScanFailed  = errors.New("failed")
)

// Run scans the affiliates and returns the finished scan. The scan is recorded as
// succeeded, partial or failed, with the reason in its error text; for partial and failed
// the same reason is returned, as an ErrScanPartial or ErrScanFailed. The pages a failed
// scan had finished are kept all the same.
func (s *Scanner) Run(ctx context.Context, affs []Affiliate) (Scan, error) {
	log := s.Logger
	if log == nil {
		log = slog.Default().With("component", "scan")
	}
	if err := s.Store.SyncAffiliates(ctx, affs); err != nil {
		return Scan{}, fmt.Errorf("sync affiliates: %w", err)
	}
	scan, err := s.Store.StartScan(ctx, ScanKindCrawl)
	if err != nil {
		return Scan{}, fmt.Errorf("start scan: %w", err)
	}
	log = log.With("scan", scan.ID)
	log.Info("scan started", "affiliates", len(affs), "policy_revision", s.Evaluator.Revision())

	workers := s.Workers
	if workers <= 0 {
		workers = 4
	}
	// Each affiliate is a share of the scan, crawled exactly as a crawl worker crawls
	// one (CrawlShare); the shares' tallies add up to the scan's.
	var (
		mu    sync.Mutex
		errs  []error
		tally SiteTally
		wg    sync.WaitGroup
		next  = make(chan Affiliate)
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for aff := range next {
				t, err := s.CrawlShare(ctx, scan.ID, aff)
				mu.Lock()
				tally.Add(t)
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, aff := range affs {
		select {
		case next <- aff:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()

	seeds := 0
	for _, a := range affs {
		seeds += len(a.Sites)
	}
	return s.conclude(ctx, log, scan.ID, seeds, tally, errs)
}

// SiteTally is what crawling a share of a scan came to: the pages stored, how many of them
// could not be verified, and the rules that failed at run time and on how many pages.
// Tallies of a scan's shares add up (Add) to the scan's.
type SiteTally struct {
	Pages       int      `json:"pages"`
	Unverified  int      `json:"unverified"`
	RulePages   int      `json:"rule_failed_pages,omitempty"`
	RulesFailed []string `json:"rules_failed,omitempty"`
}

// Add adds another share's tally to t.
func (t *SiteTally) Add(o SiteTally) {
	t.Pages += o.Pages
	t.Unverified += o.Unverified
	t.RulePages += o.RulePages
	for _, id := range o.RulesFailed {
		if !slices.Contains(t.RulesFailed, id) {
			t.RulesFailed = append(t.RulesFailed, id)
		}
	}
	slices.Sort(t.RulesFailed)
}

// CrawlShare crawls one share of the running scan scanID (an affiliate with some of its
// sites: a crawl worker's job) and checks and stores each page exactly as Run does. It
// neither starts nor finishes the scan. Pages are stored idempotently, so a share crawled
// again (a worker died during it) adds no page or violation twice.
func (s *Scanner) CrawlShare(ctx context.Context, scanID int64, aff Affiliate) (SiteTally, error) {
	log := s.Logger
	if log == nil {
		log = slog.Default().With("component", "scan")
	}
	log = log.With("scan", scanID, "affiliate", aff.ID)
	watch := &ruleWatch{Evaluator: s.Evaluator, failed: map[string]bool{}}
	run := *s
	run.Evaluator = watch
	var (
		mu    sync.Mutex
		tally SiteTally
	)
	err := s.Crawler.Crawl(ctx, aff, func(snap Snapshot) error {
		verified, err := run.checkAndSave(ctx, scanID, aff, snap, log)
		mu.Lock()
		tally.Pages++
		if !verified {
			tally.Unverified++
		}
		mu.Unlock()
		return err
	})
	t := watch.tally()
	t.Pages, t.Unverified = tally.Pages, tally.Unverified
	if err != nil {
		return t, fmt.Errorf("affiliate %s: %w", aff.ID, err)
	}
	return t, nil
}

// Conclude finishes the scan scanID, whose shares were crawled elsewhere (by crawl
// workers), from the sum of their tallies and the errors of the shares that failed, by
// the same rules as Run: seeds is the number of seed URLs the scan had.
func (s *Scanner) Conclude(ctx context.Context, scanID int64, seeds int, tally SiteTally, errs []error) (Scan, error) {
	log := s.Logger
	if log == nil {
		log = slog.Default().With("component", "scan")
	}
	return s.conclude(ctx, log.With("scan", scanID), scanID, seeds, tally, errs)
}

func (s *Scanner) conclude(ctx context.Context, log *slog.Logger, scanID int64, seeds int, tally SiteTally, errs []error) (Scan, error) {
	pages, unverify := tally.Pages, tally.Unverified
	// What could not be checked, for a partial scan's record.
	var gaps []string
	if unverify > 0 {
		gaps = append(gaps, fmt.Sprintf("%d page(s) not verified", unverify))
	}
	if tally.RulePages > 0 {
		gaps = append(gaps, fmt.Sprintf("rules failed on %d page(s): %s", tally.RulePages, strings.Join(tally.RulesFailed, ", ")))
	}
	if s.PolicyProblems != nil {
		gaps = append(gaps, s.PolicyProblems.Error())
	}
	status, errText := ScanSucceeded, ""
	switch {
	case ctx.Err() != nil:
		status, errText = ScanFailed, "interrupted: "+context.Cause(ctx).Error()
	case len(errs) > 0:
		status, errText = ScanFailed, errors.Join(errs...).Error()
	case seeds > 0 && pages == unverify:
		// Nothing was checked: the run did not do its work, whatever it resolved.
		status, errText = ScanFailed, fmt.Sprintf("no page could be verified (%d page(s) not verified; affwatch pages show URL gives each page's fetch status and error)", unverify)
	case len(gaps) > 0:
		status, errText = ScanPartial, strings.Join(gaps, "; ")
	}
	// The scan record is finished even when the run's context is gone.
	done, ferr := s.Store.FinishScan(context.WithoutCancel(ctx), scanID, status, errText)
	if ferr != nil {
		return Scan{ID: scanID}, fmt.Errorf("finish scan: %w", ferr)
	}
	log.Info("scan finished", "status", done.Status, "pages", done.Counts.Pages,
		"new", done.Counts.New, "resolved", done.Counts.Resolved)
	switch status {
	case ScanFailed:
		return done, fmt.Errorf("scan %d %w: %s", done.ID, ErrScanFailed, errText)
	case ScanPartial:
		return done, fmt.Errorf("scan %d %w: %s", done.ID, ErrScanPartial, errText)
	}
	return done, nil
}

// ruleWatch is an Evaluator that notes the rules that failed at run time, and on how many
// pages.
type ruleWatch struct {
	Evaluator
	mu     sync.Mutex
	pages  int
	failed map[string]bool
}

func (w *ruleWatch) Evaluate(ctx context.Context, page *Page) ([]Finding, error) {
	fs, err := w.Evaluator.Evaluate(ctx, page)
	var partial RulesFailed
	if errors.As(err, &partial) {
		w.mu.Lock()
		w.pages++
		for _, id := range partial.Failed() {
			w.failed[id] = true
		}
		w.mu.Unlock()
	}
	return fs, err
}

// tally is what the watch saw: the pages on which rules failed, and which rules.
func (w *ruleWatch) tally() SiteTally {
	w.mu.Lock()
	defer w.mu.Unlock()
	return SiteTally{RulePages: w.pages, RulesFailed: slices.Sorted(maps.Keys(w.failed))}
}

// checkAndSave evaluates a verified page and stores it with its violations. It reports
// whether the page counted as verified.
func (s *Scanner) checkAndSave(ctx context.Context, scanID int64, aff Affiliate, snap Snapshot, log *slog.Logger) (bool, error) {
	page := &snap.Page
	var vs []Violation
	if page.FetchStatus.Verified() {
		// The evaluation runs under the scan's context: a stop (SIGTERM) ends it at once,
		// whatever a rule is doing, and the page it cut short is not recorded (the next
		// scan fetches it again). Each rule's own time budget is the Evaluator's.
		findings, err := s.Evaluator.Evaluate(ctx, page)
		if ctx.Err() != nil {
			return true, nil
		}
		snap.Judged = s.Evaluator.RuleIDs()
		snap.PolicyRevision = s.Evaluator.Revision()
		var partial RulesFailed
		switch {
		case err == nil:
		case errors.As(err, &partial):
			// The failed rules judge nothing here; the others' findings stand.
			log.Error("rules failed on page", "url", page.URL, "rules", partial.Failed(), "err", err)
			snap.Judged, snap.EvalErrors = without(snap.Judged, partial.Failed()), err.Error()
		default:
			// A page the policies could not judge resolves nothing and accuses no one.
			log.Error("evaluate page", "url", page.URL, "err", err)
			page.FetchStatus, page.FetchError = FetchError, "evaluate policies: "+err.Error()
		}
		for _, f := range findings {
			v := NewViolation(f, SourcePolicy, aff, page.URL)
			v.PolicyRevision = snap.PolicyRevision
			vs = append(vs, v)
		}
	}
	// A page that was fetched and judged is saved even when the scan is being stopped:
	// saving is short, and it is not fetched again for nothing.
	out, err := s.Store.SavePage(context.WithoutCancel(ctx), scanID, snap, vs)
	if err != nil {
		return page.FetchStatus.Verified(), fmt.Errorf("save page %s: %w", page.URL, err)
	}
	if s.OnPage != nil {
		s.OnPage(aff, page, out)
	}
	return page.FetchStatus.Verified(), nil
}

// without returns the ids in all that are not in drop.
func without(all, drop []string) []string {
	out := make([]string, 0, len(all))
	for _, id := range all {
		if !slices.Contains(drop, id) {
			out = append(out, id)
		}
	}
	return out
}
