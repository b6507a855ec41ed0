package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/affwatch/affwatch/internal/store"
	"github.com/affwatch/affwatch/internal/store/storetest"
	"github.com/affwatch/affwatch/internal/testkit"
)

// The SQLite store passes the store contract.
func TestSQLiteContract(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) string { return filepath.Join(t.TempDir(), "contract.db") },
		Open: func(t *testing.T, dsn string, now func() time.Time) storetest.Store {
			st, err := store.OpenSQLite(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			st.Now = now
			return st
		},
	})
}

// The PostgreSQL store passes the same contract, on the real server.
func TestPostgresContract(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) string { return testkit.Postgres(t) },
		Open: func(t *testing.T, dsn string, now func() time.Time) storetest.Store {
			st, err := store.OpenPostgres(context.Background(), dsn, "")
			if err != nil {
				t.Fatal(err)
			}
			st.Now = now
			return st
		},
	})
}
