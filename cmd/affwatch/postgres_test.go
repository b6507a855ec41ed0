package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/internal/store"
	"github.com/affwatch/affwatch/internal/testkit"
)

// A team points store.dsn at PostgreSQL: the scan, the listing and a change by hand work
// the same as on SQLite.
func TestScanOnPostgres(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, undisclosed) }))
	defer srv.Close()
	dsn := testkit.Postgres(t)
	cfg := writeConfig(t, t.TempDir(), onePage(srv.URL+"/", fmt.Sprintf("store: {dsn: %q}", dsn)))
	if code, out, errOut := runCLI(t, "scan", "--config", cfg); code != exitViolations || !strings.Contains(out, "DISC-001") {
		t.Fatalf("scan on PostgreSQL: exit %d\n%s%s", code, out, errOut)
	}
	st, err := store.OpenPostgres(context.Background(), dsn, "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	vs, err := st.Violations(context.Background(), affwatch.ViolationFilter{RuleID: "DISC-001"})
	if err != nil || len(vs) != 1 || vs[0].State != affwatch.StateNew {
		t.Fatalf("stored in PostgreSQL: %+v %v", vs, err)
	}
	if code, _, errOut := runCLI(t, "violations", "ack", vs[0].Fingerprint[:10], "--by", "alice", "--config", cfg); code != exitOK {
		t.Fatalf("ack: exit %d %s", code, errOut)
	}
	if code, out, _ := runCLI(t, "violations", "list", "--state", "acknowledged", "--config", cfg); code != exitOK || !strings.Contains(out, "DISC-001") {
		t.Fatalf("list: exit %d\n%s", code, out)
	}
}

// A store that cannot be used is a one-line error that names store.dsn and what to do,
// exit 2, and nothing is written.
func TestStoreThatCannotBeUsed(t *testing.T) {
	newer := testkit.Postgres(t)
	st, err := store.OpenPostgres(context.Background(), newer, "")
	if err != nil {
		t.Fatal(err)
	}
	st.DB().Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', 'x')`)
	st.Close()
	newerSQLite := filepath.Join(t.TempDir(), "newer.db")
	sq, err := store.OpenSQLite(context.Background(), newerSQLite)
	if err != nil {
		t.Fatal(err)
	}
	sq.DB().Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', 'x')`)
	sq.Close()
	cases := []struct{ name, dsn, extra, want string }{
		{"not a URL", "postgres://", "", "store.dsn: not a PostgreSQL URL"},
		{"password in the file", "postgres://u:secret@127.0.0.1:5432/x", "", "store.password_env"},
		{"unknown scheme", "mysql://127.0.0.1/x", "", "want a SQLite file"},
		{"refused", "postgres://postgres@127.0.0.1:1/none?sslmode=disable", "", "127.0.0.1"},
		{"password variable unset", "postgres://postgres@127.0.0.1:5432/x", "password_env: AFFWATCH_TEST_UNSET_PASSWORD", "AFFWATCH_TEST_UNSET_PASSWORD, which is not set"},
		{"newer PostgreSQL schema", newer, "", "upgrade affwatch"},
		{"newer SQLite schema", newerSQLite, "", "upgrade affwatch"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			store := fmt.Sprintf("store: {dsn: %q", c.dsn)
			if c.extra != "" {
				store += ", " + c.extra
			}
			cfg := writeConfig(t, t.TempDir(), onePage("http://127.0.0.1:1/", store+"}"))
			code, out, errOut := runCLI(t, "scan", "--config", cfg)
			if code != exitError || !strings.Contains(errOut, c.want) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
				t.Fatalf("exit %d, want 2 and one line saying %q:\n%s%s", code, c.want, out, errOut)
			}
		})
	}
	// the newer database was left as it was
	db, _ := sql.Open("sqlite3", newerSQLite)
	defer db.Close()
	var n int
	db.QueryRow(`SELECT count(*) FROM scans`).Scan(&n)
	if n != 0 {
		t.Errorf("%d scans written into a database from a newer affwatch", n)
	}
}
