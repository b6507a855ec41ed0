package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/affwatch/affwatch"
)

var _ affwatch.ReportLog = (*DB)(nil)

// LastReport is when the report of this name was last written; the zero time when never.
func (s *DB) LastReport(ctx context.Context, name string) (time.Time, error) {
	var at sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT written_at FROM report_log WHERE name = ?`, name).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return parseTime(at), nil
}

// RecordReport records that the report of this name was written at at.
func (s *DB) RecordReport(ctx context.Context, name string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO report_log (name, written_at) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET written_at = excluded.written_at`, name, fmtTime(at))
	return err
}
