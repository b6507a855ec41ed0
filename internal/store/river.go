package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// Pool is the PostgreSQL connection pool under the store, which the job queue (River)
// shares; nil on SQLite.
func (s *DB) Pool() *pgxpool.Pool { return s.pool }

// migrateRiver applies River's own schema (its job table, leader and queue tables) with
// rivermigrate, so that crawl workers can share scans through the job queue. It runs under
// the store's migration lock (rivermigrate takes none of its own), and applies only the
// versions not yet recorded: opening the store again, or from many processes at once,
// changes nothing.
func (s *DB) migrateRiver(ctx context.Context) error {
	m, err := rivermigrate.New(riverpgxv5.New(s.pool), nil)
	if err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	return nil
}
