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

var _ affwatch.Users = (*DB)(nil)

const selectUser = `SELECT u.id, u.name, u.role, u.manager_email, u.password_hash, u.disabled, u.created_at FROM users u`

func scanUser(r rowScanner) (affwatch.User, error) {
	var (
		u       affwatch.User
		created sql.NullString
	)
	err := r.Scan(&u.ID, &u.Name, &u.Role, &u.ManagerEmail, &u.PasswordHash, &u.Disabled, &created)
	u.CreatedAt = parseTime(created)
	return u, err
}

// AddUser stores a new user; a name already taken is ErrConflict.
func (s *DB) AddUser(ctx context.Context, u affwatch.User) (affwatch.User, error) {
	if err := u.Validate(); err != nil {
		return u, err
	}
	u.CreatedAt = s.Now().UTC()
	err := s.db.QueryRowContext(ctx, `INSERT INTO users (name, role, manager_email, password_hash, disabled, created_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING RETURNING id`,
		u.Name, u.Role, u.ManagerEmail, u.PasswordHash, u.Disabled, fmtTime(u.CreatedAt)).Scan(&u.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("user %q: %w: the name is taken", u.Name, affwatch.ErrConflict)
	}
	return u, err
}

// UserByName returns a user by login name.
func (s *DB) UserByName(ctx context.Context, name string) (affwatch.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, selectUser+` WHERE u.name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("user %q: %w", name, affwatch.ErrNotFound)
	}
	return u, err
}

// ListUsers returns every user, by name.
func (s *DB) ListUsers(ctx context.Context) ([]affwatch.User, error) {
	rows, err := s.db.QueryContext(ctx, selectUser+` ORDER BY u.name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []affwatch.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// CountUsers is how many users there are (none: the first admin is still to be made).
func (s *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n)
	return n, err
}

// UpdateUser writes a user's role, manager email, password hash and disabled flag. A
// disabled user's sessions end, and so do everyone's whose password changed.
func (s *DB) UpdateUser(ctx context.Context, u affwatch.User) error {
	if err := u.Validate(); err != nil {
		return err
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		var oldHash string
		err := tx.QueryRowContext(ctx, `SELECT password_hash FROM users WHERE id = ?`, u.ID).Scan(&oldHash)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("user %q: %w", u.Name, affwatch.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET role = ?, manager_email = ?, password_hash = ?, disabled = ? WHERE id = ?`,
			u.Role, u.ManagerEmail, u.PasswordHash, u.Disabled, u.ID); err != nil {
			return err
		}
		if u.Disabled || oldHash != u.PasswordHash {
			_, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, u.ID)
		}
		return err
	})
}

// CreateSession stores a session by the hash of its secret.
func (s *DB) CreateSession(ctx context.Context, hash string, userID int64, expires time.Time) error {
	now := s.Now()
	_, err := s.db.ExecContext(ctx, `INSERT INTO sessions (hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		hash, userID, fmtTime(now), fmtTime(expires))
	if err != nil {
		return err
	}
	// Expired sessions are swept as new ones start.
	_, err = s.db.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < ?`, fmtTime(now))
	return err
}

// SessionUser is the enabled user of an unexpired session.
func (s *DB) SessionUser(ctx context.Context, hash string, now time.Time) (affwatch.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, selectUser+` JOIN sessions x ON x.user_id = u.id
		WHERE x.hash = ? AND x.expires_at > ? AND u.disabled = ?`, hash, fmtTime(now), false))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("session: %w", affwatch.ErrNotFound)
	}
	return u, err
}

// DeleteSession ends a session.
func (s *DB) DeleteSession(ctx context.Context, hash string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE hash = ?`, hash)
	return err
}

// AddToken stores an API token by its hash.
func (s *DB) AddToken(ctx context.Context, t affwatch.APIToken, hash string) (affwatch.APIToken, error) {
	if strings.TrimSpace(t.Name) == "" {
		return t, fmt.Errorf("%w: a token needs a name", affwatch.ErrInvalid)
	}
	t.CreatedAt = s.Now().UTC()
	err := s.db.QueryRowContext(ctx, `INSERT INTO api_tokens (user_id, name, prefix, hash, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
		t.UserID, t.Name, t.Prefix, hash, fmtTime(t.CreatedAt)).Scan(&t.ID)
	return t, err
}

// Tokens lists the API tokens of a user (userID 0: everyone's), newest first.
func (s *DB) Tokens(ctx context.Context, userID int64) ([]affwatch.APIToken, error) {
	q := `SELECT t.id, t.user_id, u.name, t.name, t.prefix, t.created_at, t.last_used, t.revoked_at
		FROM api_tokens t JOIN users u ON u.id = t.user_id`
	var args []any
	if userID > 0 {
		q, args = q+` WHERE t.user_id = ?`, append(args, userID)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY t.id DESC`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []affwatch.APIToken
	for rows.Next() {
		var (
			t                      affwatch.APIToken
			created, used, revoked sql.NullString
		)
		if err := rows.Scan(&t.ID, &t.UserID, &t.UserName, &t.Name, &t.Prefix, &created, &used, &revoked); err != nil {
			return nil, err
		}
		t.CreatedAt, t.LastUsed, t.RevokedAt = parseTime(created), parseTime(used), parseTime(revoked)
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken revokes a token for good.
func (s *DB) RevokeToken(ctx context.Context, id int64, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, fmtTime(at), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("token %d: %w (or already revoked)", id, affwatch.ErrNotFound)
	}
	return nil
}

// TokenUser is the enabled user of a live token; the token's last use is noted.
func (s *DB) TokenUser(ctx context.Context, hash string, now time.Time) (affwatch.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, selectUser+` JOIN api_tokens t ON t.user_id = u.id
		WHERE t.hash = ? AND t.revoked_at IS NULL AND u.disabled = ?`, hash, false))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("token: %w", affwatch.ErrNotFound)
	}
	if err != nil {
		return u, err
	}
	// The last use is noted at most once a minute: a busy client does not write on every call.
	_, err = s.db.ExecContext(ctx, `UPDATE api_tokens SET last_used = ? WHERE hash = ? AND (last_used IS NULL OR last_used < ?)`,
		fmtTime(now), hash, fmtTime(now.Add(-time.Minute)))
	return u, err
}
