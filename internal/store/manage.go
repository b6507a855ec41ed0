package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/affwatch/affwatch"
)

// Violation returns one violation by fingerprint (a unique prefix is enough).
func (s *SQLite) Violation(ctx context.Context, fp string) (affwatch.Violation, error) {
	if strings.Trim(fp, "0123456789abcdef") != "" {
		return affwatch.Violation{}, fmt.Errorf("violation %q: a fingerprint is hexadecimal", fp)
	}
	// A range rather than LIKE: the primary key's index finds a prefix (fingerprints are
	// lowercase hexadecimal, and "g" sorts after every hex digit).
	rows, err := s.db.QueryContext(ctx, selectViolation+` WHERE fingerprint >= ? AND fingerprint < ? LIMIT 2`, fp, fp+"g")
	if err != nil {
		return affwatch.Violation{}, err
	}
	defer rows.Close()
	var found []affwatch.Violation
	for rows.Next() {
		v, err := scanViolation(rows)
		if err != nil {
			return affwatch.Violation{}, err
		}
		found = append(found, v)
	}
	switch {
	case rows.Err() != nil:
		return affwatch.Violation{}, rows.Err()
	case len(found) == 0 || fp == "":
		return affwatch.Violation{}, fmt.Errorf("violation %q: %w", fp, affwatch.ErrNotFound)
	case len(found) > 1:
		return affwatch.Violation{}, fmt.Errorf("violation %q: the prefix matches more than one; give more of the fingerprint", fp)
	}
	return found[0], nil
}

// History is a violation's life, oldest first.
func (s *SQLite) History(ctx context.Context, fp string) ([]affwatch.ViolationEvent, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT at, scan_id, from_state, to_state, note FROM violation_events WHERE fingerprint = ? ORDER BY id`, fp)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []affwatch.ViolationEvent
	for rows.Next() {
		var (
			e    affwatch.ViolationEvent
			at   string
			scan sql.NullInt64
		)
		if err := rows.Scan(&at, &scan, &e.From, &e.To, &e.Note); err != nil {
			return nil, err
		}
		e.At, e.ScanID = parseTime(sql.NullString{String: at, Valid: true}), scan.Int64
		out = append(out, e)
	}
	return out, rows.Err()
}

// Suppress keeps a violation quiet on purpose: by whom, why, and until when (zero: until
// lifted). It stays suppressed across scans until then.
func (s *SQLite) Suppress(ctx context.Context, fp, by, reason string, until time.Time) (affwatch.Violation, error) {
	return s.Change(ctx, fp, affwatch.Change{To: affwatch.StateSuppressed, By: by, Reason: reason, Until: until})
}

// Acknowledge records that a manager knows of the violation and is acting on it.
func (s *SQLite) Acknowledge(ctx context.Context, fp, by, note string) (affwatch.Violation, error) {
	return s.Change(ctx, fp, affwatch.Change{To: affwatch.StateAcknowledged, By: by, Reason: note})
}

// Reopen lifts a suppression or an acknowledgement by hand: the violation is open again.
func (s *SQLite) Reopen(ctx context.Context, fp, by string) (affwatch.Violation, error) {
	return s.Change(ctx, fp, affwatch.Change{To: affwatch.StateOpen, By: by})
}

// Change applies a change made by hand (affwatch.Violation.Changed decides whether it may)
// and records it in the violation's history. The violation is read, changed and written in
// one transaction, which SQLite takes as a writer from the start (_txlock=immediate), so
// two people changing one violation at once both land, one after the other.
func (s *SQLite) Change(ctx context.Context, fp string, c affwatch.Change) (affwatch.Violation, error) {
	found, err := s.Violation(ctx, fp) // the full fingerprint, from a unique prefix
	if err != nil {
		return found, err
	}
	now := s.Now()
	var next affwatch.Violation
	err = s.tx(ctx, func(tx *sql.Tx) error {
		// On PostgreSQL the row is locked for the transaction; SQLite's writer lock, taken
		// when the transaction began, already keeps other writers out.
		lock := ""
		if s.dialect == dialectPostgres {
			lock = " FOR UPDATE"
		}
		cur, err := scanViolation(tx.QueryRowContext(ctx, selectViolation+` WHERE fingerprint = ?`+lock, found.Fingerprint))
		if err != nil {
			return err
		}
		var note string
		if next, note, err = cur.Changed(c, now); err != nil {
			return err
		}
		if err := updateViolation(ctx, tx, next); err != nil {
			return err
		}
		return addEvent(ctx, tx, next.Fingerprint, 0, now, cur.State, next.State, note)
	})
	return next, err
}

// LastFetch returns the validators (ETag, Last-Modified) and content hash of the last
// verified fetch of a page, for a conditional request; ErrNotFound when there is none.
func (s *SQLite) LastFetch(ctx context.Context, affiliateID, url string) (affwatch.Validators, error) {
	var v affwatch.Validators
	err := s.db.QueryRowContext(ctx, `SELECT etag, last_modified, content_sha256 FROM pages
		WHERE affiliate_id = ? AND url = ? AND fetch_status IN ('ok', 'not_modified') AND content_sha256 != ''
		ORDER BY scan_id DESC LIMIT 1`, affiliateID, url).Scan(&v.ETag, &v.LastModified, &v.ContentSHA256)
	if errors.Is(err, sql.ErrNoRows) {
		return v, fmt.Errorf("last fetch of %s: %w", url, affwatch.ErrNotFound)
	}
	return v, err
}
