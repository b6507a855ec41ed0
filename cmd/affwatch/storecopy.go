package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/affwatch/affwatch/internal/output"
	"github.com/affwatch/affwatch/internal/store"
)

// cmdStore is `affwatch store copy`: moving an installation from one store to another
// (SQLite to PostgreSQL, typically, when a team outgrows the one file).
func cmdStore(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	if len(args) == 0 || args[0] != "copy" {
		if err := groupUsage("store", args, stdout); err != nil {
			return exitError, err
		}
		return exitOK, nil // help asked for
	}
	fs := newFlags("store copy", stderr)
	from := fs.String("from", "", "the store to copy from: a SQLite file (`DSN` sqlite:PATH or PATH) or a postgres:// URL")
	to := fs.String("to", "", "the store to copy into (`DSN`, as --from); it must be empty unless --replace")
	replace := fs.Bool("replace", false, "empty the target's tables first (in the copy's transaction) instead of refusing a target that holds data")
	passwordEnv := fs.String("password-env", "", "the `NAME` of the environment variable holding the PostgreSQL password (of --from or --to; a password in a URL is refused)")
	format := formatFlag(fs, output.Text, output.JSON)
	if err := parseFlags(fs, args[1:]); err != nil {
		return exitError, err
	}
	if fs.NArg() > 0 {
		return exitError, usageErrorf("store copy takes no arguments (--from and --to name the stores): %s", strings.Join(fs.Args(), " "))
	}
	if *from == "" || *to == "" {
		return exitError, usageErrorf("store copy needs --from and --to (e.g. --from sqlite:affwatch.db --to postgres://affwatch@db:5432/affwatch)")
	}
	if *format != string(output.Text) && *format != string(output.JSON) {
		return exitError, usageErrorf("--format %q: want text or json", *format)
	}
	password := ""
	if *passwordEnv != "" {
		if password = os.Getenv(*passwordEnv); password == "" {
			return exitError, usageErrorf("--password-env names %s, which is not set", *passwordEnv)
		}
	}
	src, err := openCopyStore(ctx, "--from", *from, password)
	if err != nil {
		return exitError, err
	}
	defer src.Close()
	dst, err := openCopyStore(ctx, "--to", *to, password)
	if err != nil {
		return exitError, err
	}
	defer dst.Close()
	counts, err := store.Copy(ctx, src, dst, store.CopyOptions{Replace: *replace})
	if errors.Is(err, store.ErrTargetNotEmpty) {
		return exitError, fmt.Errorf("--to %s: %w", redactDSN(*to), err)
	}
	if err != nil {
		return exitFailed, failed(fmt.Errorf("nothing was copied (the target is as it was; run the copy again once the cause is fixed): %w", err))
	}
	if *format == string(output.JSON) {
		return exitOK, writeJSON(stdout, counts)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "TABLE\tSOURCE\tTARGET\t")
	var total int64
	for _, c := range counts {
		fmt.Fprintf(tw, "%s\t%d\t%d\t\n", c.Table, c.Source, c.Target)
		total += c.Target
	}
	tw.Flush()
	fmt.Fprintf(stdout, "copied %d rows in %d tables from %s to %s; every table's count matches\n", total, len(counts), redactDSN(*from), redactDSN(*to))
	return exitOK, nil
}

// openCopyStore opens the store a --from or --to names: a postgres:// URL or a SQLite
// file (sqlite:PATH or PATH; the file must exist for --from).
func openCopyStore(ctx context.Context, flagName, dsn, password string) (*store.DB, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if u, err := url.Parse(dsn); err == nil {
			if _, has := u.User.Password(); has {
				return nil, usageErrorf("%s holds a password: pass its name with --password-env instead (it would show in the process list and the shell history)", flagName)
			}
		}
		st, err := store.OpenPostgres(ctx, dsn, password)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flagName, err)
		}
		return st, nil
	}
	if strings.Contains(dsn, "://") {
		return nil, usageErrorf("%s %q: want a SQLite file (sqlite:PATH) or a postgres:// URL", flagName, redactDSN(dsn))
	}
	path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite://"), "sqlite:")
	if flagName == "--from" {
		if _, err := os.Stat(path); err != nil {
			return nil, usageErrorf("--from %s: %v", path, errors.Unwrap(err))
		}
	}
	st, err := store.OpenSQLite(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flagName, err)
	}
	return st, nil
}

// redactDSN writes a store's name without a password a URL may hold.
func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		if at := strings.Index(dsn[i+3:], "@"); at >= 0 {
			if colon := strings.Index(dsn[i+3:i+3+at], ":"); colon >= 0 {
				return dsn[:i+3+colon] + ":xxxxx" + dsn[i+3+at:]
			}
		}
	}
	return dsn
}
