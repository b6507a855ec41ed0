package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/affwatch/affwatch"
)

// Worker takes crawl jobs from the queue and crawls them with its Scanner (its crawler,
// its policies, its store), until its context ends.
type Worker struct {
	Pool    *pgxpool.Pool
	Scanner *affwatch.Scanner
	// Concurrency is how many sites the worker crawls at once (default 4); each site
	// gets the crawler's per-host parallelism.
	Concurrency int
	// RescueAfter is, per seed URL of a job, how long the job may run: past it the crawl
	// is stopped and the job retried, and a job whose worker died (it can no longer stop
	// it) is taken for abandoned by River's rescuer and handed to another worker. It must
	// be longer than a site's crawl (crawl.site_timeout); default 11 minutes.
	RescueAfter time.Duration
	// HostBusyRetry is how soon a job whose host another worker is crawling is tried
	// again (default 2 s).
	HostBusyRetry time.Duration
	// FetchPoll is how often the worker asks for jobs when no notification came (default
	// River's, 1 s).
	FetchPoll time.Duration
	Logger    *slog.Logger
}

func (w *Worker) log() *slog.Logger {
	if w.Logger == nil {
		w.Logger = slog.Default().With("component", "worker")
	}
	return w.Logger
}

// Run works jobs until ctx ends, then stops: the sites in hand are cut short and their
// jobs handed back to the queue at once (snoozed, not failed), for another worker.
func (w *Worker) Run(ctx context.Context) error {
	if w.Concurrency <= 0 {
		w.Concurrency = 4
	}
	if w.RescueAfter <= 0 {
		w.RescueAfter = 11 * time.Minute
	}
	if w.HostBusyRetry <= 0 {
		w.HostBusyRetry = 2 * time.Second
	}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &siteWorker{w: w}); err != nil {
		return err
	}
	client, err := river.NewClient(riverpgxv5.New(w.Pool), &river.Config{
		Queues:  map[string]river.QueueConfig{Name: {MaxWorkers: w.Concurrency}},
		Workers: workers,
		// Each job's own budget is its Timeout (RescueAfter per seed); River's rescuer
		// looks at running jobs older than both this and the job's budget.
		JobTimeout:           w.RescueAfter,
		RescueStuckJobsAfter: w.RescueAfter,
		FetchPollInterval:    w.FetchPoll,
		Logger:               riverLogger(w.log()),
	})
	if err != nil {
		return fmt.Errorf("job queue: %w", err)
	}
	if err := client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("job queue: %w", err)
	}
	w.log().Info("worker started", "queue", Name, "concurrency", w.Concurrency, "rescue_after", w.RescueAfter)
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := client.StopAndCancel(stopCtx); err != nil {
		return fmt.Errorf("stop the job queue: %w", err)
	}
	w.log().Info("worker stopped")
	return nil
}

// riverLogger passes River's own messages on from warnings up: its routine chatter
// (leadership, producers) is not news to an operator.
func riverLogger(log *slog.Logger) *slog.Logger {
	return slog.New(levelFilter{log.Handler(), slog.LevelWarn}).With("component", "river")
}

type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.Handler.Enabled(ctx, l)
}

func (f levelFilter) WithAttrs(as []slog.Attr) slog.Handler {
	return levelFilter{f.Handler.WithAttrs(as), f.min}
}

func (f levelFilter) WithGroup(name string) slog.Handler {
	return levelFilter{f.Handler.WithGroup(name), f.min}
}

// siteWorker is River's worker of SiteArgs jobs.
type siteWorker struct {
	river.WorkerDefaults[SiteArgs]
	w *Worker
}

// Timeout is the job's budget: RescueAfter for each of its seed URLs (the crawler gives
// each seed crawl.site_timeout).
func (s *siteWorker) Timeout(job *river.Job[SiteArgs]) time.Duration {
	return s.w.RescueAfter * time.Duration(max(1, len(job.Args.Affiliate.Sites)))
}

// Work crawls one site under its host's lock and records the site's tally as the job's
// output, which the scan adds up.
func (s *siteWorker) Work(ctx context.Context, job *river.Job[SiteArgs]) error {
	a := job.Args
	log := s.w.log().With("scan", a.ScanID, "affiliate", a.Affiliate.ID, "host", a.Host, "attempt", job.Attempt)
	unlock, ok, err := lockHost(ctx, s.w.Pool, a.Host)
	if err != nil {
		return err
	}
	if !ok {
		// Another worker is on this host: politeness across machines says wait.
		log.Debug("host busy, snoozing")
		return river.JobSnooze(s.w.HostBusyRetry)
	}
	defer unlock()
	log.Info("crawling site")
	aff := a.Affiliate
	aff.Render = a.Render
	tally, err := s.w.Scanner.CrawlShare(ctx, a.ScanID, aff)
	if errors.Is(ctx.Err(), context.Canceled) {
		// The worker is stopping: the site goes back to the queue at once, for another
		// worker, without counting as a failed attempt. What it stored stays.
		log.Info("stopped mid-site; handed back", "pages", tally.Pages)
		return river.JobSnooze(0)
	}
	if err == nil && ctx.Err() != nil {
		err = fmt.Errorf("the site's crawl ran past the job's budget (%s): %w", s.Timeout(job), context.Cause(ctx))
	}
	if err != nil {
		return err
	}
	log.Info("site crawled", "pages", tally.Pages, "not_verified", tally.Unverified)
	return river.RecordOutput(ctx, tally)
}

// insertOnly is a River client that only inserts and lists jobs (the scan's side).
func insertOnly(pool *pgxpool.Pool, log *slog.Logger) (*river.Client[pgx.Tx], error) {
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &siteWorker{}); err != nil {
		return nil, err
	}
	c, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Workers: workers, Logger: riverLogger(log)})
	if err != nil {
		return nil, errors.Join(errors.New("job queue"), err)
	}
	return c, nil
}
