package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/affwatch/affwatch/detectors"
	"github.com/affwatch/affwatch/fixtures"
	"github.com/affwatch/affwatch/internal/app"
	"github.com/affwatch/affwatch/internal/store"
)

//go:embed starter.yaml
var starterConfig []byte

func cmdInit(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("init", stderr)
	force := fs.Bool("force", false, "overwrite an existing file")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	name := "affwatch.yaml"
	switch len(pos) {
	case 0:
	case 1:
		name = pos[0]
	default:
		return usageErrorf("init writes one file; %s is one too many", strings.Join(pos[1:], " "))
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if *force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(name, flags, 0o644)
	if err != nil {
		if os.IsExist(err) {
			return fmt.Errorf("%s exists (use --force to overwrite)", name)
		}
		return err
	}
	if _, err := f.Write(starterConfig); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: edit the programs and affiliates, then run: affwatch scan --config %s\n", name, name)
	return nil
}

// demoEnd is the end of the week the fixture event logs cover.
var demoEnd = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

// demoHeader begins the config the demo writes: a directory whose affwatch.yaml begins
// with it is the demo's own.
const demoHeader = "# Written by affwatch demo"

// cleanDemoDir makes dir ready for a demo run. Each run serves the fixture sites on a new
// loopback port, so their pages have new URLs: a rerun on the previous run's database
// would keep the old URLs' violations open beside the new ones. A rerun starts clean
// instead: the database and reports of a previous demo in dir are removed. A directory
// that holds anything else called affwatch.yaml or affwatch.db is not the demo's to
// overwrite: that is an error, and nothing is touched.
func cleanDemoDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfgPath, dbPath := filepath.Join(dir, "affwatch.yaml"), filepath.Join(dir, "affwatch.db")
	cfg, err := os.ReadFile(cfgPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, err := os.Stat(dbPath); err == nil {
			return fmt.Errorf("%s holds a database the demo did not write; give the demo another --dir", dir)
		}
		return nil
	case err != nil:
		return err
	case !bytes.HasPrefix(cfg, []byte(demoHeader)):
		return fmt.Errorf("%s is not a demo's configuration; give the demo another --dir (it would overwrite it)", cfgPath)
	}
	for _, name := range []string{dbPath, dbPath + "-wal", dbPath + "-shm", filepath.Join(dir, "reports")} {
		if err := os.RemoveAll(name); err != nil {
			return fmt.Errorf("start the demo clean: %w", err)
		}
	}
	return nil
}

// demoConfig is the configuration the demo writes: the fixture sites, served on loopback.
func demoConfig(srv *fixtures.Server) string {
	site := func(name string) string { return srv.URL(name) }
	return fmt.Sprintf(demoHeader+`: the fixture sites served on loopback.
store:
  dsn: affwatch.db
crawl:
  delay: 0s
  max_depth: 1
  max_pages: 20
  request_timeout: 5s
  allow_private_addresses: true   # the fixture sites are on 127.0.0.1
report:
  out_dir: reports
  subject: "affwatch demo: Acme Coffee affiliate report"
fail_on: high
programs:
  - id: acme
    name: Acme Coffee
    brand_terms: [Acme]
    landing_domains: [shop.acme.example]
affiliates:
  - {id: good-reviews, name: Good Reviews, program: acme, manager: alice@acme.example, sites: [%q]}
  - {id: deal-hunter, name: Deal Hunter, program: acme, manager: alice@acme.example, sites: [%q]}
  - {id: late-disclosure, name: Bean Blog, program: acme, manager: bob@acme.example, sites: [%q]}
  - {id: stuffer, name: Coffee Tips, program: acme, manager: bob@acme.example, sites: [%q]}
`, site("good-reviews"), site("deal-hunter"), site("late-disclosure"), site("stuffer"))
}

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	dir := fs.String("dir", "", "`DIR` for the demo's config, database and reports (default: a new temporary directory)")
	verbose := fs.Bool("v", false, "log every page")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "affwatch-demo-")
		if err != nil {
			return err
		}
		*dir = d
	} else if err := cleanDemoDir(*dir); err != nil {
		return err
	}
	srv, err := fixtures.Start()
	if err != nil {
		return err
	}
	defer srv.Close()
	cfgPath := filepath.Join(*dir, "affwatch.yaml")
	if err := os.WriteFile(cfgPath, []byte(demoConfig(srv)), 0o644); err != nil {
		return err
	}
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		return err
	}
	st, err := store.OpenSQLite(ctx, cfg.StorePath())
	if err != nil {
		return err
	}
	defer st.Close()

	fmt.Fprintf(stdout, "affwatch demo: %d fixture partner sites on loopback, working in %s\n\n", len(cfg.Affiliates), *dir)
	scan, err := scanOnce(ctx, cfg, st, logger(stderr, *verbose), nil)
	if err != nil && scan.ID == 0 {
		return err
	}
	if _, err := printScanSummary(ctx, stdout, st, scan); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	judge, err := newJudge(ctx, cfg, st)
	if err != nil {
		return err
	}
	for _, kind := range []string{"clicks", "conversions"} {
		f, err := fixtures.Events.Open("events/" + kind + ".csv")
		if err != nil {
			return err
		}
		res, err := ingestReader(ctx, st, kind, "fixtures/events/"+kind+".csv", f, detectors.IngestOptions{Judge: judge})
		f.Close()
		if err != nil {
			return err
		}
		printIngest(stdout, stderr, res)
	}
	det, _, err := detectOnce(ctx, cfg, st, demoEnd)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "detection #%d: %d fraud findings\n\n", det.ID, det.Counts.New+det.Counts.Reopened)
	_, files, err := app.WriteReports(ctx, st, reportOptions(cfg), reportDir(cfg, ""))
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "reports written:")
	for _, f := range files {
		fmt.Fprintln(stdout, "  "+f)
	}
	return nil
}
