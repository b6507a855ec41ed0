package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/internal/notify"
	"github.com/affwatch/affwatch/internal/schedule"
	"github.com/affwatch/affwatch/internal/score"
	"github.com/affwatch/affwatch/rules"
)

// cmdServe is the daemon: the configured schedules, policy reloading, the outbox retries
// and a health endpoint, until SIGINT or SIGTERM.
func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	cfgPath := configFlag(fs)
	health := fs.String("health", "127.0.0.1:8089", "`ADDR` of the health endpoint (GET /healthz) and the score endpoint (POST "+score.Path+", loopback clients only); empty: none")
	reload := fs.Duration("reload-every", 30*time.Second, "how often (a `DURATION`) policy files and bundles are checked for changes")
	verbose := fs.Bool("v", false, "log every page")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := LoadConfig(*cfgPath)
	if err != nil {
		return err
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
			set, err := buildReports(ctx, cfg, st, "", time.Now().Add(-24*time.Hour))
			if err != nil {
				return err
			}
			dir := cfg.path(cfg.Report.OutDir)
			if dir == "" {
				dir = cfg.path("reports")
			}
			if _, err := set.write(dir); err != nil || !mail {
				return err
			}
			return sendReports(ctx, cfg, st, set, io.Discard, log.With("component", "notify"))
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
	if len(jobs) == 0 {
		return schedule.ErrNoJobs
	}
	// A job's context ends at SIGINT/SIGTERM: the scan finishes the page in hand, records
	// itself as interrupted, and the daemon exits. A scan a crash interrupted is marked
	// failed by the next one.
	s := &schedule.Scheduler{Jobs: jobs, Location: loc, Locker: st, Logger: log.With("component", "schedule")}
	if err := s.Start(ctx); err != nil {
		return err
	}
	if *health != "" {
		ln, err := net.Listen("tcp", *health)
		if err != nil {
			s.Stop()
			return fmt.Errorf("health endpoint: %w", err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /healthz", s.ServeHealth)
		// Conversions scored at postback time; loopback clients only (the handler checks).
		judge, err := newJudge(ctx, cfg, st)
		if err != nil {
			ln.Close()
			s.Stop()
			return err
		}
		mux.Handle("POST "+score.Path, (&score.Server{Store: st, Judge: judge, Logger: log.With("component", "score")}).Handler())
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		fmt.Fprintf(stdout, "health: http://%s/healthz; score: POST http://%s%s\n", ln.Addr(), ln.Addr(), score.Path)
	}
	fmt.Fprintf(stdout, "affwatch serve: %d job(s) scheduled (%s); stop with SIGINT or SIGTERM\n", len(jobs), loc)
	<-ctx.Done()
	fmt.Fprintln(stdout, "affwatch serve: stopping; the running job finishes its page in hand")
	s.Stop()
	fmt.Fprintln(stdout, "affwatch serve: stopped")
	return nil
}
