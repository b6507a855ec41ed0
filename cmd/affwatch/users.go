package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/internal/auth"
)

// passwordEnv is the environment variable a password is read from; without it, the
// password is the first line of standard input. Never a flag: flags show in ps and in
// shell histories.
const passwordEnv = "AFFWATCH_PASSWORD"

// readPassword reads a new password from AFFWATCH_PASSWORD or the first line of stdin.
func readPassword(stderr io.Writer) (string, error) {
	if pw := os.Getenv(passwordEnv); pw != "" {
		return pw, nil
	}
	fmt.Fprintf(stderr, "password (from standard input; or set %s): ", passwordEnv)
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("read the password from standard input: %w (or set %s)", err, passwordEnv)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// cmdUsers is `affwatch users add|list|disable|passwd`: the dashboard's accounts.
func cmdUsers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return groupUsage("users", args, stdout)
	}
	verb, args := args[0], args[1:]
	switch verb {
	case "add", "list", "disable", "passwd":
	default:
		return groupUsage("users", append([]string{verb}, args...), stdout)
	}
	fs := newFlags("users "+verb, stderr)
	cfgPath := configFlag(fs)
	var role, manager, format *string
	switch verb {
	case "add":
		role = fs.String("role", "viewer", "the user's `ROLE`: admin (everything, starts scans), manager (their affiliates only), viewer (reads everything)")
		manager = fs.String("manager", "", "a manager's `EMAIL`, as affiliates[].manager in the config: the affiliates they see")
	case "list":
		format = fs.String("format", "table", "output `table|json`")
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	var name string
	if verb != "list" || len(pos) > 0 {
		if name, err = oneArg(pos, "the user"); err != nil {
			return err
		}
	}
	cfg, st, err := loadWithStore(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	switch verb {
	case "add":
		r, err := affwatch.ParseRole(*role)
		if err != nil {
			return usageErrorf("--role: %w", err)
		}
		u := affwatch.User{Name: name, Role: r, ManagerEmail: strings.TrimSpace(*manager)}
		if err := u.Validate(); err != nil {
			return usageErrorf("%w", err)
		}
		if r == affwatch.RoleManager {
			ids, _ := u.Scope(cfg.Affiliates)
			if len(ids) == 0 {
				fmt.Fprintf(stderr, "warning: no affiliate in %s has manager %s: the user will see nothing\n", cfg.file, u.ManagerEmail)
			}
		}
		pw, err := readPassword(stderr)
		if err != nil {
			return err
		}
		if u.PasswordHash, err = auth.HashPassword(pw); err != nil {
			return err
		}
		if u, err = st.AddUser(ctx, u); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user %s added (%s)\n", u.Name, u.Role)
		return nil
	case "list":
		users, err := st.ListUsers(ctx)
		if err != nil {
			return err
		}
		if *format == "json" {
			return writeJSON(stdout, users)
		}
		if *format != "table" {
			return usageErrorf("--format %q: want table or json", *format)
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tMANAGER\tSTATUS\tCREATED")
		for _, u := range users {
			status := "active"
			if u.Disabled {
				status = "disabled"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Name, u.Role, u.ManagerEmail, status, u.CreatedAt.Format("2006-01-02"))
		}
		return tw.Flush()
	}
	u, err := st.UserByName(ctx, name)
	if err != nil {
		return err
	}
	switch verb {
	case "disable":
		u.Disabled = true
		if err := st.UpdateUser(ctx, u); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user %s disabled; their sessions ended and their tokens no longer work\n", u.Name)
	case "passwd":
		pw, err := readPassword(stderr)
		if err != nil {
			return err
		}
		if u.PasswordHash, err = auth.HashPassword(pw); err != nil {
			return err
		}
		if err := st.UpdateUser(ctx, u); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "password of %s changed; their sessions ended\n", u.Name)
	}
	return nil
}

// cmdTokens is `affwatch tokens create|list|revoke`: personal API tokens.
func cmdTokens(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return groupUsage("tokens", args, stdout)
	}
	verb, args := args[0], args[1:]
	switch verb {
	case "create", "list", "revoke":
	default:
		return groupUsage("tokens", append([]string{verb}, args...), stdout)
	}
	fs := newFlags("tokens "+verb, stderr)
	cfgPath := configFlag(fs)
	var user, name *string
	switch verb {
	case "create":
		user = fs.String("user", "", "the `USER` the token acts as (with their role)")
		name = fs.String("name", "", "a `NAME` that says what the token is for")
	case "list":
		user = fs.String("user", "", "only this `USER`'s tokens")
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	var id string
	if len(pos) > 0 {
		if id, err = oneArg(pos, "the token"); err != nil {
			return err
		}
	}
	_, st, err := loadWithStore(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	switch verb {
	case "create":
		if *user == "" || strings.TrimSpace(*name) == "" {
			return usageErrorf("--user and --name are needed")
		}
		u, err := st.UserByName(ctx, *user)
		if err != nil {
			return err
		}
		secret, hash, err := auth.NewSecret(auth.TokenPrefix)
		if err != nil {
			return err
		}
		t, err := st.AddToken(ctx, affwatch.APIToken{UserID: u.ID, Name: strings.TrimSpace(*name), Prefix: secret[:10]}, hash)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "token %d for %s (%s): shown once, keep it secret; use it as Authorization: Bearer TOKEN\n", t.ID, u.Name, u.Role)
		fmt.Fprintln(stdout, secret)
		return nil
	case "list":
		var uid int64
		if *user != "" {
			u, err := st.UserByName(ctx, *user)
			if err != nil {
				return err
			}
			uid = u.ID
		}
		ts, err := st.Tokens(ctx, uid)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUSER\tNAME\tPREFIX\tCREATED\tLAST USED\tREVOKED")
		day := func(t time.Time) string {
			if t.IsZero() {
				return "-"
			}
			return t.Format("2006-01-02 15:04")
		}
		for _, t := range ts {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s…\t%s\t%s\t%s\n", t.ID, t.UserName, t.Name, t.Prefix, day(t.CreatedAt), day(t.LastUsed), day(t.RevokedAt))
		}
		return tw.Flush()
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n < 1 {
		return usageErrorf("name the token by its id (affwatch tokens list shows them)")
	}
	if err := st.RevokeToken(ctx, n, time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "token %d revoked\n", n)
	return nil
}
