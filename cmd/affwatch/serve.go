package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/internal/app"
	"github.com/affwatch/affwatch/internal/notify"
	"github.com/affwatch/affwatch/internal/schedule"
	"github.com/affwatch/affwatch/rules"
)

// cmdServe is the daemon: the configured schedules, policy reloading, the outbox retries,
// a health endpoint and the dashboard with its API, until SIGINT or SIGTERM.
func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	cfgPath := configFlag(fs)
	web := addHTTPFlags(fs)
	reload := fs.Duration("reload-every", 30*time.Second, "how often (a `DURATION`) policy files and bundles are checked for changes")
	verbose := fs.Bool("v", false, "log every page")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if _, _, err := web.check(); err != nil {
		return err
	}
	cfg, err := LoadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if cfg.Crawl.Queue && !cfg.Store.postgres() {
		return fmt.Errorf("crawl.queue: %w", errNeedPostgres)
	}
	log := logger(stderr, *verbose)
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()

	loc := time.UTC
	if cfg.Schedule.Timezone != "" {
		if loc, err = time.LoadLocation(cfg.Schedule.Timezone); err != nil {
			return fmt.Errorf("schedule.timezone: %w", err)
		}
	}
	// The daemon keeps the last good policy revision: a change that does not compile or
	// whose tests fail is refused and logged, and the scans go on with the old one.
	// Bundles are asked again at every reload check (URLs with their ETag).
	bs, err := bundles(cfg)
	if err != nil {
		return err
	}
	pol, err := rules.NewBundleReloader(ctx, policySources(cfg), bs, ruleOptions(cfg, cfg.Programs, log.With("component", "rules")))
	if pol == nil {
		return err
	}
	if err != nil {
		log.Error("some policies were left out at start", "err", err)
	} else if err := cfg.checkRuleIDs(knownRule(pol.Engine())); err != nil {
		return err
	}
	go pol.Watch(ctx, *reload)

	var jobs []schedule.Job
	if cfg.Schedule.Scan != "" {
		jobs = append(jobs, schedule.Job{Name: "scan", Spec: cfg.Schedule.Scan, Run: func(ctx context.Context) error {
			_, err := scanWith(ctx, cfg, st, pol, nil, log, nil)
			if errors.Is(err, affwatch.ErrScanPartial) {
				// Some pages are not verified on most nights (bot walls, timeouts): the
				// scan did its work, and says what it could not check in its record.
				log.Warn("scan finished", "err", err)
				return nil
			}
			return err
		}})
	}
	if cfg.Schedule.Detect != "" {
		jobs = append(jobs, schedule.Job{Name: "detect", Spec: cfg.Schedule.Detect, Run: func(ctx context.Context) error {
			_, _, err := detectOnce(ctx, cfg, st, time.Now())
			return err
		}})
	}
	mail := cfg.SMTP.Host != ""
	if cfg.Schedule.Report != "" {
		jobs = append(jobs, schedule.Job{Name: "report", Spec: cfg.Schedule.Report, Run: func(ctx context.Context) error {
			// Since the previous report, as report.Build means, into the folder
			// affwatch report writes to.
			set, _, err := app.WriteReports(ctx, st, reportOptions(cfg), reportDir(cfg, ""))
			if err != nil || !mail {
				return err
			}
			smtp, err := smtpOf(cfg)
			if err != nil {
				return err
			}
			_, err = app.SendReports(ctx, st, smtp, set, log.With("component", "notify"))
			return err
		}})
	}
	if mail {
		// Emails that could not be delivered are retried as their backoff comes due.
		jobs = append(jobs, schedule.Job{Name: "outbox", Spec: "* * * * *", Background: true, Run: func(ctx context.Context) error {
			smtp, err := smtpOf(cfg)
			if err != nil {
				return err
			}
			res, err := notify.Deliver(ctx, st, smtp, time.Now, log.With("component", "notify"))
			return errors.Join(append(res.Errors, err)...)
		}})
	}
	if len(jobs) == 0 && *web.health == "" && *web.listen == "" {
		return schedule.ErrNoJobs // nothing to do at all
	}
	// A job's context ends at SIGINT/SIGTERM: the scan finishes the page in hand, records
	// itself as interrupted, and the daemon exits. A scan a crash interrupted is marked
	// failed by the next one.
	s := &schedule.Scheduler{Jobs: jobs, Location: loc, Locker: st, Logger: log.With("component", "schedule")}
	if err := s.Start(ctx); err != nil {
		return err
	}
	dash, err := startHTTP(ctx, web, cfg, st, pol, s, log, stdout)
	if err != nil {
		s.Stop()
		return err
	}
	defer dash.close()
	fmt.Fprintf(stdout, "affwatch serve: %d job(s) scheduled (%s); stop with SIGINT or SIGTERM\n", len(jobs), loc)
	<-ctx.Done()
	fmt.Fprintln(stdout, "affwatch serve: stopping; the running job finishes its page in hand")
	s.Stop()
	fmt.Fprintln(stdout, "affwatch serve: stopped")
	return nil
}
