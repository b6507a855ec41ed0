package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// migrationLock is the PostgreSQL advisory lock key that serialises migrations, so that
// several processes (a daemon and workers) starting at once apply each migration once.
const migrationLock = 0x61666677 // "affw"

// OpenPostgres opens the PostgreSQL store at url (postgres://user@host:port/db?...) and
// applies any migrations it has not seen yet. password, when not empty, overrides the
// URL's (it comes from the environment, never from the config file).
func OpenPostgres(ctx context.Context, url, password string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store.dsn: %w", err)
	}
	if password != "" {
		cfg.ConnConfig.Password = password
	}
	where := fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	if !strings.Contains(url, "pool_max_conns") {
		// pgx's default (4 on two cores) is too few for a crawl worker: the pages being
		// saved, and the job queue's fetcher, completer, leader election and listener.
		cfg.MaxConns = max(cfg.MaxConns, 16)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", where, err)
	}
	db := sql.OpenDB(pgConnector{stdlib.GetPoolConnector(pool)})
	s := &DB{db: db, dialect: dialectPostgres, path: where, Now: time.Now, pool: pool, closers: []func(){pool.Close}}
	if err := db.PingContext(ctx); err != nil {
		s.Close()
		return nil, connectError(where, cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, cfg.ConnConfig.User, err)
	}
	if err := s.migrateLocked(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("migrate %s: %w", where, err)
	}
	return s, nil
}

// migrateLocked applies the migrations holding the migration lock, on a connection of its
// own that is given back before it returns.
func (s *DB) migrateLocked(ctx context.Context) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(?)`, migrationLock); err != nil {
		return err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(?)`, migrationLock)
	if err := s.migrate(ctx); err != nil {
		return err
	}
	return s.migrateRiver(ctx)
}
