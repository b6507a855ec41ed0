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
	rows, err := s.db.QueryContext(ctx, selectViolation+` WHERE fingerprint LIKE ? || '%' LIMIT 2`, fp)
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

// ViolationEvent is one change in a violation's life.
type ViolationEvent struct {
	At     time.Time      `json:"at"`
	ScanID int64          `json:"scan_id,omitempty"`
	From   affwatch.State `json:"from,omitempty"`
	To     affwatch.State `json:"to"`
	Note   string         `json:"note,omitempty"`
}

// History is a violation's life, oldest first.
func (s *SQLite) History(ctx context.Context, fp string) ([]ViolationEvent, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT at, scan_id, from_state, to_state, note FROM violation_events WHERE fingerprint = ? ORDER BY id`, fp)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ViolationEvent
	for rows.Next() {
		var (
			e    ViolationEvent
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
	if reason == "" || by == "" {
		return affwatch.Violation{}, errors.New("a suppression needs a reason and who decided it")
	}
	return s.setState(ctx, fp, affwatch.StateSuppressed, fmt.Sprintf("suppressed by %s: %s", by, reason), func(v *affwatch.Violation) {
		v.SuppressReason, v.SuppressedBy, v.SuppressUntil = reason, by, until
	})
}

// Acknowledge records that a manager knows of the violation and is acting on it.
func (s *SQLite) Acknowledge(ctx context.Context, fp, by, note string) (affwatch.Violation, error) {
	if by == "" {
		return affwatch.Violation{}, errors.New("an acknowledgement needs who made it")
	}
	return s.setState(ctx, fp, affwatch.StateAcknowledged, fmt.Sprintf("acknowledged by %s: %s", by, note), nil)
}

// Reopen lifts a suppression or an acknowledgement by hand: the violation is open again.
func (s *SQLite) Reopen(ctx context.Context, fp, by string) (affwatch.Violation, error) {
	return s.setState(ctx, fp, affwatch.StateOpen, "reopened by "+by, func(v *affwatch.Violation) {
		v.SuppressReason, v.SuppressedBy, v.SuppressUntil = "", "", time.Time{}
	})
}

func (s *SQLite) setState(ctx context.Context, fp string, to affwatch.State, note string, edit func(*affwatch.Violation)) (affwatch.Violation, error) {
	v, err := s.Violation(ctx, fp)
	if err != nil {
		return v, err
	}
	if v.State == affwatch.StateResolved && to != affwatch.StateOpen {
		return v, fmt.Errorf("violation %s is resolved: nothing to %s", v.Fingerprint[:12], map[affwatch.State]string{
			affwatch.StateSuppressed: "suppress", affwatch.StateAcknowledged: "acknowledge"}[to])
	}
	from := v.State
	v.State = to
	if edit != nil {
		edit(&v)
	}
	now := s.Now()
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if err := updateViolation(ctx, tx, v); err != nil {
			return err
		}
		return addEvent(ctx, tx, v.Fingerprint, 0, now, from, to, note)
	})
	return v, err
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
