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
	"slices"
	"strings"
	"syscall"
)

// Exit codes say what happened, the same way for every command (README, "Exit codes").
const (
	exitOK = 0
	// exitViolations: a command used as a gate found what it gates on (violations at or
	// above --fail-on, a failing policy test, unformatted files...).
	exitViolations = 1
	// exitError: bad usage or configuration; nothing was done.
	exitError = 2
	// exitPartial: done, but something could not be checked (pages not verified, rules
	// that failed, broken policy files left out); the scan is recorded as partial.
	exitPartial = 3
	// exitFailed: the work failed or did not happen (interrupted, the store lock is held by
	// another run, no page could be verified); the scan is recorded as failed.
	exitFailed = 4
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// command is one affwatch command as people call it. `affwatch help`, each command's -h
// and the README's CLI reference (checked by a test) are made from this list and the flag
// set each command parses its arguments with, so they cannot disagree.
type command struct {
	name    string // the words that call it: "scan", "policy eval", "ingest clicks|conversions"
	args    string // its positional arguments, as a synopsis writes them
	summary string
}

var commands = []command{
	{"demo", "", "scan the built-in fixture partner sites end to end (no setup)"},
	{"init", "[FILE]", "write a commented starter affwatch.yaml (or FILE)"},
	{"scan", "", "crawl every affiliate's sites, check the policies, store and print the violations"},
	{"ingest clicks|conversions", "FILE...", "load click or conversion logs (CSV with header or JSON Lines, gzip accepted)"},
	{"detect", "", "run the fraud detectors over the event logs"},
	{"events generate", "", "write synthetic click and conversion logs with known fraud, and their labels"},
	{"events list", "", "list conversions by verdict with their reason codes; --format csv is the network's bulk-reversal upload"},
	{"report", "", "write the managers' reports (HTML, text, CSV, JSON); --send emails them"},
	{"violations list", "", "list stored violations"},
	{"violations show", "FINGERPRINT", "one violation with its evidence and its whole history"},
	{"violations suppress", "FINGERPRINT", "keep a violation quiet on purpose, until a date or until lifted"},
	{"violations ack", "FINGERPRINT", "record that the manager knows and is acting on it"},
	{"violations reopen", "FINGERPRINT", "lift a suppression or an acknowledgement"},
	{"scans list", "", "run history: status, timings, pages, errors, violations new/resolved"},
	{"scans show", "ID", "one run"},
	{"pages show", "URL", "the decision record of a page: per scan, its fetch status, the policy revision and the rules that judged it"},
	{"outbox", "", "emails queued, delivered and waiting for a retry"},
	{"serve", "", "the daemon: scheduled scan, detect and report, email retries, health endpoint, the dashboard and API"},
	{"users add", "NAME", "add a dashboard user (password from AFFWATCH_PASSWORD or standard input)"},
	{"users list", "", "list the dashboard's users"},
	{"users disable", "NAME", "disable a user: their sessions end and their tokens stop working"},
	{"users passwd", "NAME", "set a user's password (from AFFWATCH_PASSWORD or standard input)"},
	{"tokens create", "", "make a personal API token for a user (printed once)"},
	{"tokens list", "", "list API tokens"},
	{"tokens revoke", "ID", "revoke an API token"},
	{"store copy", "", "move an installation to another store (SQLite to PostgreSQL): every table in one transaction, counts checked"},
	{"worker", "", "crawl and judge the sites of scans shared through the PostgreSQL job queue (scan --workers, crawl.queue)"},
	{"policy test", "", "run the Rego unit tests of the policies"},
	{"policy check", "", "compile with the schemas, lint METADATA, list unformatted files"},
	{"policy fmt", "[DIR...]", "list the policy files opa fmt would change (exit 1 if any); --write rewrites them"},
	{"policy eval", "", "check one page and show every finding with its evidence"},
	{"policy docs", "", "the rule catalogue as Markdown"},
	{"policy new", "ID", "scaffold a rule: its METADATA, a test file and a fixture page that pass as generated"},
	{"policy bundle build", "DIR", "build an OPA bundle (.tar.gz) of a policy directory, signed with --signing-key"},
	{"policy diff", "", "what the policies on disk would change in the last scan's violations"},
	{"affiliates list", "", "the partner scorecards, riskiest first: traffic against the period before, open violations, risk score and its reasons"},
	{"affiliates show", "ID", "one partner's scorecard: numbers per period and per night, violations, pages, vetting, risk reasons, joined findings"},
	{"vet", "URL...", "judge a prospective partner's site for a program: programs it promotes, disclosures, claims, a verdict"},
	{"evidence export", "FINGERPRINT...", "a bundle for legal: snapshots, page records, history, rule text, a SHA-256 manifest (signed when a key is set)"},
	{"evidence verify", "BUNDLE", "check a bundle against its manifest and signature; names every altered file"},
	{"evidence key", "", "print the signing key's public key, or make a new key with --generate"},
	{"version", "", "print the version"},
	{"help", "[COMMAND]", "describe every command, or one"},
}

// dispatch runs one command. Commands report usage errors with usageErrorf and failures
// with an exit code with failed or partial; any other error is exit 2.
func dispatch(ctx context.Context, cmd string, rest []string, stdout, stderr io.Writer) (int, error) {
	switch cmd {
	case "demo":
		return exitOK, cmdDemo(ctx, rest, stdout, stderr)
	case "init":
		return exitOK, cmdInit(rest, stdout, stderr)
	case "scan":
		return cmdScan(ctx, rest, stdout, stderr)
	case "ingest":
		return exitOK, cmdIngest(ctx, rest, stdout, stderr)
	case "detect":
		return exitOK, cmdDetect(ctx, rest, stdout, stderr)
	case "events":
		return exitOK, cmdEvents(ctx, rest, stdout, stderr)
	case "serve":
		return exitOK, cmdServe(ctx, rest, stdout, stderr)
	case "worker":
		return cmdWorker(ctx, rest, stdout, stderr)
	case "store":
		return cmdStore(ctx, rest, stdout, stderr)
	case "scans":
		return exitOK, cmdScans(ctx, rest, stdout, stderr)
	case "users":
		return exitOK, cmdUsers(ctx, rest, stdout, stderr)
	case "tokens":
		return exitOK, cmdTokens(ctx, rest, stdout, stderr)
	case "pages":
		return exitOK, cmdPages(ctx, rest, stdout, stderr)
	case "outbox":
		return exitOK, cmdOutbox(ctx, rest, stdout, stderr)
	case "report":
		return exitOK, cmdReport(ctx, rest, stdout, stderr)
	case "violations":
		return exitOK, cmdViolations(ctx, rest, stdout, stderr)
	case "policy":
		return cmdPolicy(ctx, rest, stdout, stderr)
	case "vet":
		return cmdVet(ctx, rest, stdout, stderr)
	case "affiliates":
		return exitOK, cmdAffiliates(ctx, rest, stdout, stderr)
	case "evidence":
		return cmdEvidence(ctx, rest, stdout, stderr)
	case "version":
		fs := newFlags("version", stderr)
		if err := parseFlags(fs, rest); err != nil {
			return exitError, err
		}
		fmt.Fprintln(stdout, "affwatch", version)
		return exitOK, nil
	case "help":
		return exitOK, cmdHelp(rest, stdout, stderr)
	}
	return exitError, usageErrorf("unknown command %q (affwatch help lists them)", cmd)
}

// run is the whole program, testable: it parses args, runs one command and returns the
// exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, overview())
		return exitError
	}
	if args[0] == "-h" || args[0] == "--help" {
		args = []string{"help"}
	}
	cmd, rest := args[0], args[1:]
	out := &cmdOutput{Writer: stderr}
	code, err := dispatch(ctx, cmd, rest, stdout, out)
	if err == nil {
		return code
	}
	if errors.Is(err, flag.ErrHelp) && out.fs != nil {
		fmt.Fprint(stdout, commandHelp(out.fs))
		return exitOK
	}
	var ee exitErr
	if ctx.Err() != nil && !errors.As(err, &ee) {
		// Stopped by SIGINT or SIGTERM: whatever the command's own error, it was
		// interrupted (exit 4), not misused.
		printError(stderr, "affwatch "+cmd, fmt.Errorf("interrupted: %w", err))
		return exitFailed
	}
	printError(stderr, "affwatch "+cmd, err)
	var ue usageError
	if errors.As(err, &ue) && out.fs != nil {
		name := strings.TrimPrefix(out.fs.Name(), "affwatch ")
		fmt.Fprintf(stderr, "usage: %s\n(affwatch help %s describes the flags)\n", synopsis(out.fs), strings.Split(name, "|")[0])
	}
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitError
}

// cmdHelp is `affwatch help [COMMAND]`.
func cmdHelp(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("help", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fmt.Fprint(stdout, overview())
		return nil
	}
	want := strings.Join(fs.Args(), " ")
	var found []command
	for _, c := range commands {
		if c.name == want || strings.HasPrefix(c.name, want+" ") || strings.HasPrefix(c.name, want+"|") {
			found = append(found, c)
		}
	}
	if len(found) == 0 {
		return usageErrorf("no command %q (affwatch help lists them)", want)
	}
	for i, c := range found {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		fmt.Fprint(stdout, commandHelp(flagSetOf(c)))
	}
	return nil
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

// overview is `affwatch help`: every command's synopsis and what it does.
func overview() string {
	var b strings.Builder
	b.WriteString("affwatch: affiliate compliance and fraud scanning\n\nUsage:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %s\n      %s\n", synopsis(flagSetOf(c)), c.summary)
	}
	b.WriteString(`
affwatch help COMMAND (or affwatch COMMAND -h) describes a command's flags.
Exit codes: 0 ok; 1 found what a gate looks for (violations at or above --fail-on, a
failing policy test, unformatted files); 2 usage or configuration error; 3 partial: done,
but something could not be checked; 4 failed or interrupted.
`)
	return b.String()
}

// groupUsage answers a command group (policy, violations, scans, events, ingest) called
// without a known subcommand: the synopses of its commands, on stdout when help was asked
// for, else as a usage error.
func groupUsage(group string, args []string, stdout io.Writer) error {
	var b strings.Builder
	for _, c := range commands {
		if strings.HasPrefix(c.name, group+" ") {
			fmt.Fprintf(&b, "  %s\n      %s\n", synopsis(flagSetOf(c)), c.summary)
		}
	}
	switch {
	case len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help"):
		fmt.Fprint(stdout, "usage:\n"+b.String())
		return nil
	case len(args) == 0:
		return usageErrorf("%s needs a subcommand:\n%s", group, strings.TrimRight(b.String(), "\n"))
	}
	return usageErrorf("unknown %s subcommand %q; they are:\n%s", group, args[0], strings.TrimRight(b.String(), "\n"))
}

// cmdOutput is the standard error a command writes to. It keeps the flag set the command
// made (newFlags), for help and usage messages.
type cmdOutput struct {
	io.Writer
	fs *flag.FlagSet
}

// flagSetOf is the flag set a command parses its arguments with: the command is asked for
// its help, which it answers before doing anything.
func flagSetOf(c command) *flag.FlagSet {
	var args []string
	for _, w := range strings.Fields(c.name) {
		args = append(args, strings.Split(w, "|")[0]) // ingest clicks|conversions: ingest clicks
	}
	out := &cmdOutput{Writer: io.Discard}
	dispatch(context.Background(), args[0], append(args[1:], "-h"), io.Discard, out)
	return out.fs
}

// commandFor is the command a flag set belongs to.
func commandFor(fs *flag.FlagSet) command {
	name := strings.TrimPrefix(fs.Name(), "affwatch ")
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return command{name: name}
}

// newFlags makes a command's flag set: name is the command's name in commands. Parsing
// never exits or prints; run prints the help or the usage error.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("affwatch "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if o, ok := stderr.(*cmdOutput); ok {
		o.fs = fs
	}
	return fs
}

// parseFlags parses a command's arguments; a mistake is a usage error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return usageError{err}
	}
	return err
}

// parseArgs parses a command's flags and returns its positional arguments, which may
// come before, between and after the flags (vet URL --program p URL2; pages show URL
// --limit 3); everything after "--" is positional. It is the one way commands take their
// arguments.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		for len(args) > 0 && (args[0] == "-" || !strings.HasPrefix(args[0], "-")) {
			pos, args = append(pos, args[0]), args[1:]
		}
		if err := parseFlags(fs, args); err != nil {
			return pos, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		args = rest
	}
}

// oneArg is the one positional argument a command takes; what names it in the usage
// error when it is missing.
func oneArg(pos []string, what string) (string, error) {
	switch len(pos) {
	case 0:
		return "", usageErrorf("name %s", what)
	case 1:
		return pos[0], nil
	}
	return "", usageErrorf("one argument expected; %s is one too many", strings.Join(pos[1:], " "))
}

// visitFlags lists a flag set's flags, --config first, then by name.
func visitFlags(fs *flag.FlagSet) []*flag.Flag {
	var out []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) { out = append(out, f) })
	slices.SortStableFunc(out, func(a, b *flag.Flag) int {
		if (a.Name == "config") != (b.Name == "config") {
			if a.Name == "config" {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// dashed writes a flag as people type it: -v, --config.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// placeholder is what a flag's value is called: the `quoted` word of its usage.
func placeholder(f *flag.Flag) string {
	name, _ := flag.UnquoteUsage(f)
	if name == "" {
		return ""
	}
	if !strings.Contains(f.Usage, "`") {
		name = strings.ToUpper(name) // a type name: string, int, duration
	}
	return " " + name
}

// synopsis is one line: the command, its flags, its arguments.
func synopsis(fs *flag.FlagSet) string {
	parts := []string{fs.Name()}
	for _, f := range visitFlags(fs) {
		parts = append(parts, "["+dashed(f.Name)+placeholder(f)+"]")
	}
	if c := commandFor(fs); c.args != "" {
		parts = append(parts, c.args)
	}
	return strings.Join(parts, " ")
}

// commandHelp is a command's -h: its synopsis, what it does, and every flag.
func commandHelp(fs *flag.FlagSet) string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: %s\n\n%s\n", synopsis(fs), commandFor(fs).summary)
	flags := visitFlags(fs)
	if len(flags) > 0 {
		b.WriteString("\nflags:\n")
	}
	for _, f := range flags {
		_, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(&b, "  %s%s\n        %s", dashed(f.Name), placeholder(f), usage)
		switch f.DefValue {
		case "", "false", "0", "0s":
		default:
			fmt.Fprintf(&b, " (default %s)", f.DefValue)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// usageError is a command called wrongly: exit 2, with the command's synopsis.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usageErrorf(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// exitErr is a failure with its exit code (exitPartial, exitFailed).
type exitErr struct {
	code int
	err  error
}

func (e exitErr) Error() string { return e.err.Error() }
func (e exitErr) Unwrap() error { return e.err }

// failed marks err as the work failing or not happening (exit 4); partial as done, but
// with something not checked (exit 3).
func failed(err error) error  { return exitErr{exitFailed, err} }
func partial(err error) error { return exitErr{exitPartial, err} }

const version = "0.1.0-dev"

// logger writes structured logs to stderr: warnings and errors, or everything with -v.
func logger(stderr io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
}
