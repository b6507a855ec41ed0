package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/crawler/chrome"
	"github.com/affwatch/affwatch/internal/queue"
)

// errNeedPostgres is why a scan cannot be shared with workers on SQLite.
var errNeedPostgres = errors.New("workers share a scan through PostgreSQL; set store.dsn to a postgres:// URL")

// cmdWorker takes crawl jobs from the PostgreSQL job queue until SIGINT or SIGTERM: the
// sites of scans started with `scan --workers` (or by a daemon with crawl.queue), crawled
// with this worker's crawl settings and judged with the policies of its config.
func cmdWorker(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := newFlags("worker", stderr)
	cfgPath := configFlag(fs)
	concurrency := fs.Int("concurrency", 4, "sites this worker crawls at once (`N`); each gets crawl.parallelism requests at a time")
	verbose := fs.Bool("v", false, "log every site and page")
	if err := parseFlags(fs, args); err != nil {
		return exitError, err
	}
	if *concurrency < 1 {
		return exitError, usageErrorf("--concurrency %d: want at least 1", *concurrency)
	}
	cfg, err := LoadConfig(*cfgPath)
	if err != nil {
		return exitError, err
	}
	if !cfg.Store.postgres() {
		return exitError, errNeedPostgres
	}
	if cfg.rendering() {
		if err := chrome.Check(cfg.Crawl.ChromiumPath); err != nil {
			return exitError, fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	log := logger(stderr, *verbose)
	eng, problems, err := loadPolicies(ctx, cfg, log)
	if err != nil {
		return exitError, err
	}
	if problems != nil {
		log.Error("the worker judges pages without the policies left out", "err", problems)
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return exitError, err
	}
	defer st.Close()
	cr := newCrawler(cfg, cfg.Programs)
	defer cr.Close()
	cr.Logger = log.With("component", "crawler")
	cr.History = st
	w := &queue.Worker{
		Pool:        st.Pool(),
		Scanner:     &affwatch.Scanner{Crawler: cr, Evaluator: eng, Store: st, Logger: log.With("component", "scan")},
		Concurrency: *concurrency,
		RescueAfter: rescueAfter(cfg),
		Logger:      log.With("component", "worker"),
	}
	fmt.Fprintf(stderr, "worker: taking crawl jobs (%d site(s) at once) from %s\n", *concurrency, cfg.Store.DSN)
	if err := w.Run(ctx); err != nil {
		return exitFailed, failed(err)
	}
	return exitOK, nil
}

// rescueAfter is how long a site's job may run before River hands it to another worker:
// crawl.queue_rescue_after, else one minute more than a site's crawl may last.
func rescueAfter(cfg *Config) time.Duration {
	if d := time.Duration(cfg.Crawl.QueueRescueAfter); d > 0 {
		return d
	}
	site := time.Duration(cfg.Crawl.SiteTimeout)
	if site <= 0 {
		site = 10 * time.Minute
	}
	return site + time.Minute
}

// queueScan runs a scan through the job queue: the sites are enqueued, `affwatch worker`
// processes crawl and judge them, and this process waits for them and finishes the scan.
func queueScan(ctx context.Context, cfg *Config, st appStore, eval affwatch.Evaluator, problems error, log *slog.Logger, pr *progress) (affwatch.Scan, error) {
	if st.Pool() == nil {
		return affwatch.Scan{}, fmt.Errorf("%w: %w", ErrConfig, errNeedPostgres)
	}
	d := &queue.Dispatch{
		Pool:    st.Pool(),
		Scanner: &affwatch.Scanner{Store: st, Evaluator: eval, PolicyProblems: problems, Logger: log.With("component", "scan")},
		Logger:  log.With("component", "dispatch"),
	}
	if pr != nil {
		d.OnProgress = pr.onQueue
	}
	return d.Run(ctx, cfg.Affiliates)
}
