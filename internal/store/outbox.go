package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/affwatch/affwatch"
)

var _ affwatch.Outbox = (*SQLite)(nil)

// Enqueue stores the email under key, due now; a key already queued is left alone.
func (s *SQLite) Enqueue(ctx context.Context, key string, e affwatch.Email) (bool, error) {
	raw, err := json.Marshal(e)
	if err != nil {
		return false, err
	}
	z, err := gzipBytes(raw)
	if err != nil {
		return false, err
	}
	now := fmtTime(s.Now())
	res, err := s.db.ExecContext(ctx, `INSERT INTO outbox (key, recipients, subject, message, created_at, next_attempt)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING`, key, strings.Join(e.To, ", "), e.Subject, z, now, now)
	if err != nil {
		return false, fmt.Errorf("enqueue %s: %w", key, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

const selectOutbox = `SELECT id, key, message, created_at, attempts, next_attempt, last_error, sent_at FROM outbox`

func (s *SQLite) outbox(ctx context.Context, q string, args ...any) ([]affwatch.OutboxItem, error) {
	rows, err := s.db.QueryContext(ctx, selectOutbox+q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []affwatch.OutboxItem
	for rows.Next() {
		var (
			it            affwatch.OutboxItem
			z             []byte
			created, next string
			sent          sql.NullString
		)
		if err := rows.Scan(&it.ID, &it.Key, &z, &created, &it.Attempts, &next, &it.LastError, &sent); err != nil {
			return nil, err
		}
		raw, err := gunzip(z)
		if err != nil {
			return nil, fmt.Errorf("outbox %d: %w", it.ID, err)
		}
		if err := json.Unmarshal(raw, &it.Email); err != nil {
			return nil, fmt.Errorf("outbox %d: %w", it.ID, err)
		}
		it.CreatedAt = parseTime(sql.NullString{String: created, Valid: true})
		it.NextAttempt = parseTime(sql.NullString{String: next, Valid: true})
		it.SentAt = parseTime(sent)
		out = append(out, it)
	}
	return out, rows.Err()
}

// DueMail returns undelivered emails due at or before now, oldest first.
func (s *SQLite) DueMail(ctx context.Context, now time.Time, limit int) ([]affwatch.OutboxItem, error) {
	return s.outbox(ctx, ` WHERE sent_at IS NULL AND next_attempt <= ? ORDER BY next_attempt, id LIMIT ?`, fmtTime(now), limit)
}

// Mail lists the outbox, newest first.
func (s *SQLite) Mail(ctx context.Context, pending bool, limit int) ([]affwatch.OutboxItem, error) {
	where := ``
	if pending {
		where = ` WHERE sent_at IS NULL`
	}
	return s.outbox(ctx, where+` ORDER BY id DESC LIMIT ?`, limit)
}

// MakeDue brings every undelivered email's next attempt forward to now (an operator asked
// for a retry) and returns how many there are.
func (s *SQLite) MakeDue(ctx context.Context) (int, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE outbox SET next_attempt = ? WHERE sent_at IS NULL AND next_attempt > ?`,
		fmtTime(s.Now()), fmtTime(s.Now()))
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// MarkSent records a delivery.
func (s *SQLite) MarkSent(ctx context.Context, id int64, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE outbox SET sent_at = ?, attempts = attempts + 1, last_error = '' WHERE id = ?`, fmtTime(at), id)
	return err
}

// MarkFailed records a failed attempt and when to try again.
func (s *SQLite) MarkFailed(ctx context.Context, id int64, reason string, next time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt = ? WHERE id = ?`,
		reason, fmtTime(next), id)
	return err
}

// ErrLocked is returned by Lock when another owner holds the lock.
var ErrLocked = errors.New("locked by another process")

// LockedError says who holds a lock and until when it holds it unless renewed. It is
// ErrLocked.
type LockedError struct {
	Name, Owner string
	Expires     time.Time
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("%s: %v: held by %s, until %s unless renewed", e.Name, ErrLocked, e.Owner, e.Expires.UTC().Format(time.RFC3339))
}

func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// LockHolder is the owner holding the lock.
func (e *LockedError) LockHolder() string { return e.Owner }

// Lock takes the named lock for owner until ttl from now, or renews it if owner already
// holds it. A lock whose holder stopped renewing it (a crash) is taken over once expired.
// A lock held by another owner is a *LockedError.
func (s *SQLite) Lock(ctx context.Context, name, owner string, ttl time.Duration) error {
	now := s.Now()
	held := &LockedError{Name: name}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO locks (name, owner, expires_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
			WHERE locks.owner = excluded.owner OR locks.expires_at < ?`, name, owner, fmtTime(now.Add(ttl)), fmtTime(now))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		var expires string
		if err := tx.QueryRowContext(ctx, `SELECT owner, expires_at FROM locks WHERE name = ?`, name).Scan(&held.Owner, &expires); err != nil {
			return err
		}
		held.Expires = parseTime(sql.NullString{String: expires, Valid: true})
		return held
	})
	return err
}

// Unlock releases the lock if owner holds it.
func (s *SQLite) Unlock(ctx context.Context, name, owner string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM locks WHERE name = ? AND owner = ?`, name, owner)
	return err
}

// DropExpiredLocks removes the locks whose time is up and that no one renewed (the
// daemons' claims on past ticks, the locks of crashed holders).
func (s *DB) DropExpiredLocks(ctx context.Context) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM locks WHERE expires_at < ?`, fmtTime(s.Now()))
	return err
}
