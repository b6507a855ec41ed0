// Command affwatch scans affiliate partners' pages against an advertiser's guidelines,
// looks for fraud in click and conversion logs, keeps every violation with its evidence,
// and reports them to the affiliate managers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Exit codes: 0 all is well, 1 violations at or above --fail-on were found, 2 the
// command could not do its work (bad config, bad usage, unreachable store...).
const (
	exitOK         = 0
	exitViolations = 1
	exitError      = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `affwatch: affiliate compliance and fraud scanning

Usage:
  affwatch demo [--dir DIR]                      scan the built-in fixture sites end to end
  affwatch init [--force] [FILE]                 write a commented starter affwatch.yaml
  affwatch scan [--config FILE] [--fail-on SEV] [--progress auto|always|never]
                                                 crawl partner pages and check the policies
  affwatch ingest clicks|conversions [--config FILE] [--rejects FILE] FILE...
                                                 load click or conversion logs (CSV, JSONL, .gz)
  affwatch detect [--config FILE] [--end TIME]   run the fraud detectors over the event logs
  affwatch events generate [--seed N] [--out DIR] [--affiliates N] [--days N]
                                                 synthetic logs with known fraud and their labels
  affwatch report [--config FILE] [--out DIR] [--manager EMAIL] [--since DURATION] [--send]
                                                 write the managers' reports (HTML, text, CSV, JSON); --send emails them
  affwatch violations list [--config FILE] [--state S] [--affiliate ID] [--rule ID] [--severity SEV]
                           [--since DURATION] [--source policy|detector] [--format table|json|csv]
  affwatch policy test [--run REGEX] [--coverage [--threshold N]] [--format pretty|json]
                                                 run the Rego unit tests of the policies
  affwatch policy check                          compile, schema-check and lint the policies
  affwatch policy fmt [--write] [DIR...]         opa fmt the policy directories
  affwatch policy eval --program ID (--url URL | --file F.html | --input F.json) [--explain] [--dump-input F]
                                                 check one page and show the findings
  affwatch policy docs                           the rule catalogue as Markdown
  affwatch policy diff --against last-scan       what the policies on disk would change
  affwatch violations show|suppress|ack|reopen FINGERPRINT [--by WHO] [--reason R] [--until DATE] [--note N]
  affwatch scans list|show [ID] [--config FILE] [--format table|json]
                                                 run history: timings, pages, errors, violations new/resolved
  affwatch outbox [--config FILE] [--pending]    emails queued, delivered and waiting for a retry
  affwatch serve [--config FILE] [--health ADDR] the daemon: scheduled scan, detect and report
  affwatch version

Every command that needs one takes --config (default affwatch.yaml).
Exit codes: 0 ok, 1 violations at or above --fail-on found, 2 error.
`

// run is the whole program, testable: it parses args, runs one command and returns the
// exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return exitError
		}
		return exitOK
	}
	cmd, rest := args[0], args[1:]
	var err error
	code := exitOK
	switch cmd {
	case "demo":
		err = cmdDemo(ctx, rest, stdout, stderr)
	case "init":
		err = cmdInit(rest, stdout)
	case "scan":
		code, err = cmdScan(ctx, rest, stdout, stderr)
	case "ingest":
		err = cmdIngest(ctx, rest, stdout, stderr)
	case "detect":
		err = cmdDetect(ctx, rest, stdout, stderr)
	case "events":
		err = cmdEvents(ctx, rest, stdout, stderr)
	case "serve":
		err = cmdServe(ctx, rest, stdout, stderr)
	case "scans":
		err = cmdScans(ctx, rest, stdout, stderr)
	case "pages":
		err = cmdPages(ctx, rest, stdout, stderr)
	case "outbox":
		err = cmdOutbox(ctx, rest, stdout, stderr)
	case "report":
		err = cmdReport(ctx, rest, stdout, stderr)
	case "violations":
		err = cmdViolations(ctx, rest, stdout, stderr)
	case "policy":
		code, err = cmdPolicy(ctx, rest, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "affwatch", version)
	default:
		printError(stderr, "affwatch", fmt.Errorf("unknown command %q", cmd))
		fmt.Fprintf(stderr, "\n%s", usage)
		return exitError
	}
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			printError(stderr, "affwatch "+cmd, err)
		}
		return exitError
	}
	return code
}

// printError is the one place a command's error reaches the user: after the command's
// name, and ending with exactly one newline whatever the error's own text ends with, so
// the next output (a shell prompt, the next command's) never runs into it.
func printError(w io.Writer, prefix string, err error) {
	msg := strings.TrimRight(err.Error(), " \t\r\n")
	if msg == "" {
		msg = "failed"
	}
	fmt.Fprintf(w, "%s: %s\n", prefix, msg)
}

const version = "0.1.0-dev"

// newFlags makes a flag set that reports to stderr and never exits.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("affwatch "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// logger writes structured logs to stderr: warnings and errors, or everything with -v.
func logger(stderr io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
}
