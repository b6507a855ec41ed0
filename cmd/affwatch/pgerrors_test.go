package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/affwatch/affwatch/internal/store"
	"github.com/affwatch/affwatch/internal/testkit"
)

// A PostgreSQL server that cannot be used is one line naming what to do, exit 2: nothing
// listening (also when the host name gives two addresses, which pgx reports on several
// lines), a database or a user the server does not have; and a database from a newer
// affwatch is left without a row written.
func TestPostgresThatCannotBeUsedSaysWhatToDo(t *testing.T) {
	ctx := context.Background()
	newer := testkit.Postgres(t)
	st, err := store.OpenPostgres(ctx, newer, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', 'x')`); err != nil {
		t.Fatal(err)
	}
	st.Close()
	u, _ := url.Parse(testkit.PostgresURL())
	noDB, noUser := *u, *u
	noDB.Path = "/affwatch_no_such_database"
	noUser.User = url.User("affwatch_no_such_user")
	for _, c := range []struct{ name, dsn, want string }{
		{"refused", "postgres://postgres@127.0.0.1:1/x?sslmode=disable", "nothing listens at 127.0.0.1:1: start PostgreSQL there, or fix the host and port in store.dsn"},
		{"refused at two addresses", "postgres://postgres@localhost:1/x?sslmode=disable", "nothing listens at localhost:1"},
		{"no such database", noDB.String(), `the server has no database "affwatch_no_such_database": create it (createdb`},
		{"no such user", noUser.String(), `the server refused the user "affwatch_no_such_user": check the user in store.dsn`},
		{"newer schema", newer, "upgrade affwatch"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := writeConfig(t, t.TempDir(), onePage("http://127.0.0.1:1/", fmt.Sprintf("store: {dsn: %q}", c.dsn)))
			code, out, errOut := runCLI(t, "scan", "--config", cfg)
			if code != exitError || !strings.Contains(errOut, c.want) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
				t.Fatalf("exit %d, want 2 and one line saying %q:\n%s%s", code, c.want, out, errOut)
			}
		})
	}
	// nothing was written into the newer database
	conn, err := pgx.Connect(ctx, newer)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var scans int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM scans`).Scan(&scans); err != nil || scans != 0 {
		t.Errorf("%d scans written into a database from a newer affwatch (%v)", scans, err)
	}
}
