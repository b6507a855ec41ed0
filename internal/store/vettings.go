package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/affwatch/affwatch"
)

// Vetting is one stored vetting of a site: its verdict and the report as JSON.
type Vetting struct {
	ID       int64
	Site     string
	Program  string
	Verdict  string
	VettedAt time.Time
	Report   []byte // JSON
}

// SaveVetting keeps a vetting of a site.
func (s *SQLite) SaveVetting(ctx context.Context, v Vetting) (int64, error) {
	z, err := gzipBytes(v.Report)
	if err != nil {
		return 0, err
	}
	var id int64
	err = s.db.QueryRowContext(ctx, `INSERT INTO vettings (site, program, verdict, vetted_at, report) VALUES (?, ?, ?, ?, ?) RETURNING id`,
		v.Site, v.Program, v.Verdict, fmtTime(v.VettedAt), z).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("save vetting of %s: %w", v.Site, err)
	}
	return id, nil
}

// LastVetting returns the latest vetting of a site (scheme://host).
func (s *SQLite) LastVetting(ctx context.Context, site string) (Vetting, error) {
	var (
		v  Vetting
		at string
		z  []byte
	)
	err := s.db.QueryRowContext(ctx, `SELECT id, site, program, verdict, vetted_at, report FROM vettings WHERE site = ?
		ORDER BY vetted_at DESC, id DESC LIMIT 1`, site).Scan(&v.ID, &v.Site, &v.Program, &v.Verdict, &at, &z)
	if errors.Is(err, sql.ErrNoRows) {
		return v, fmt.Errorf("vetting of %s: %w", site, affwatch.ErrNotFound)
	}
	if err != nil {
		return v, err
	}
	v.VettedAt = parseTime(sql.NullString{String: at, Valid: true})
	v.Report, err = gunzip(z)
	return v, err
}
