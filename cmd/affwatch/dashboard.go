package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/internal/schedule"
	"github.com/affwatch/affwatch/internal/score"
	"github.com/affwatch/affwatch/internal/store"
	"github.com/affwatch/affwatch/internal/web"
	"github.com/affwatch/affwatch/rules"
)

// httpFlags are serve's flags for its HTTP side: where the dashboard listens and with
// which certificate.
type httpFlags struct {
	health, listen  *string
	tlsCert, tlsKey *string
	insecure        *bool
}

func addHTTPFlags(fs *flag.FlagSet) *httpFlags {
	return &httpFlags{
		health:   fs.String("health", "127.0.0.1:8089", "`ADDR` of the health endpoint (GET /healthz), and of the dashboard unless --listen names another; empty: none"),
		listen:   fs.String("listen", "", "`ADDR` of the dashboard, the API, /metrics and /healthz (default: the --health address)"),
		tlsCert:  fs.String("tls-cert", "", "serve HTTPS with this certificate `FILE` (PEM; with --tls-key)"),
		tlsKey:   fs.String("tls-key", "", "the certificate's private key `FILE` (PEM)"),
		insecure: fs.Bool("insecure-http", false, "allow plain HTTP on an address that is not loopback (behind a TLS-terminating proxy)"),
	}
}

// loopback reports whether a listen address only reaches this machine.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// check refuses a dashboard on an address other machines reach without TLS, unless told.
func (f *httpFlags) check() (addr string, tlsOn bool, err error) {
	addr = *f.listen
	if addr == "" {
		addr = *f.health
	}
	if (*f.tlsCert == "") != (*f.tlsKey == "") {
		return "", false, usageErrorf("--tls-cert and --tls-key go together")
	}
	tlsOn = *f.tlsCert != ""
	if addr != "" && !loopback(addr) && !tlsOn && !*f.insecure {
		return "", false, usageErrorf("the dashboard would listen on %s, which is not loopback, without TLS: give --tls-cert and --tls-key, "+
			"or --insecure-http when a TLS-terminating proxy stands in front", addr)
	}
	return addr, tlsOn, nil
}

// dashboard is the web side of the daemon.
type dashboard struct {
	servers []*http.Server
	scans   sync.WaitGroup
}

// startHTTP serves /healthz and the dashboard; it returns when they are listening.
func startHTTP(ctx context.Context, f *httpFlags, cfg *Config, st *store.DB, pol *rules.Reloader, sched *schedule.Scheduler,
	log *slog.Logger, stdout io.Writer) (*dashboard, error) {
	addr, tlsOn, err := f.check()
	if err != nil {
		return nil, err
	}
	d := &dashboard{}
	health := http.HandlerFunc(sched.ServeHealth)
	// Conversions scored at postback time, on the same listener; loopback clients only
	// (the handler checks).
	judge, err := newJudge(ctx, cfg, st)
	if err != nil {
		return nil, err
	}
	scoreH := (&score.Server{Store: st, Judge: judge, Logger: log.With("component", "score")}).Handler()
	if *f.health != "" && *f.listen != "" && *f.health != *f.listen {
		// A health endpoint of its own, without the dashboard.
		mux := http.NewServeMux()
		mux.Handle("GET /healthz", health)
		mux.Handle("POST "+score.Path, scoreH)
		if err := d.serve(*f.health, mux, nil); err != nil {
			return nil, fmt.Errorf("health endpoint: %w", err)
		}
		fmt.Fprintf(stdout, "health: http://%s/healthz\n", d.servers[0].Addr)
	}
	if addr == "" {
		return d, nil
	}
	srv := &web.Server{Store: st, Affiliates: cfg.Affiliates, Programs: cfg.Programs, Policies: pol.Engine, Health: health,
		Secure: tlsOn, MaxLinks: cfg.Crawl.MaxLinks, Logger: log.With("component", "web")}
	srv.StartScan = func(_ context.Context, by string) error {
		// The same workflow and the same store lock as `affwatch scan` and the schedule;
		// it runs under the daemon's context, so a stop interrupts it like a scheduled one.
		lockCtx, release, err := schedule.Acquire(ctx, st, scanLock, schedule.Owner("affwatch serve (dashboard, "+by+")"), lockTTL)
		if err != nil {
			var held *store.LockedError
			if errors.As(err, &held) {
				return fmt.Errorf("%w: a scan is running (%s holds the scan lock)", affwatch.ErrConflict, held.Owner)
			}
			return err
		}
		d.scans.Add(1)
		go func() {
			defer d.scans.Done()
			defer release()
			log.Info("scan started from the dashboard", "by", by)
			if _, err := scanWith(lockCtx, cfg, st, pol, nil, log, nil); err != nil {
				log.Warn("scan from the dashboard", "err", err)
			}
		}()
		return nil
	}
	var tc *tls.Config
	if tlsOn {
		cert, err := tls.LoadX509KeyPair(*f.tlsCert, *f.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		tc = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	top := http.NewServeMux()
	top.Handle("POST "+score.Path, scoreH)
	top.Handle("/", srv)
	if err := d.serve(addr, top, tc); err != nil {
		d.close()
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	scheme := "http"
	if tlsOn {
		scheme = "https"
	}
	at := d.servers[len(d.servers)-1].Addr
	fmt.Fprintf(stdout, "dashboard: %s://%s/ (API %s://%s/api/v1/, health %s://%s/healthz; score: POST %s://%s%s from loopback)\n",
		scheme, at, scheme, at, scheme, at, scheme, at, score.Path)
	if n, err := st.CountUsers(ctx); err == nil && n == 0 {
		fmt.Fprintf(stdout, "no dashboard user yet: create the first admin with\n  affwatch users add NAME --role admin --config %s\n"+
			"(the password is read from standard input, or from %s)\n", cfg.file, passwordEnv)
	}
	return d, nil
}

func (d *dashboard) serve(addr string, h http.Handler, tc *tls.Config) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	srv := &http.Server{Addr: ln.Addr().String(), Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: 5 * time.Minute, IdleTimeout: 2 * time.Minute}
	go srv.Serve(ln)
	d.servers = append(d.servers, srv)
	return nil
}

// close stops the listeners and waits for a scan started from the dashboard to record
// itself (its context is the daemon's, already ended).
func (d *dashboard) close() {
	for _, s := range d.servers {
		s.Close()
	}
	d.scans.Wait()
}
