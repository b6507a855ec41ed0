package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/affwatch/affwatch"
)

// PageRecords returns every stored look at an affiliate's page, oldest scan first.
func (s *SQLite) PageRecords(ctx context.Context, affiliateID, url string) ([]affwatch.PageRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT scan_id, etag, last_modified, eval_errors, doc FROM pages
		WHERE affiliate_id = ? AND url = ? ORDER BY scan_id`, affiliateID, url)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []affwatch.PageRecord
	for rows.Next() {
		var (
			r affwatch.PageRecord
			z []byte
		)
		if err := rows.Scan(&r.ScanID, &r.ETag, &r.LastModified, &r.EvalErrors, &z); err != nil {
			return nil, err
		}
		raw, err := gunzip(z)
		if err != nil {
			return nil, fmt.Errorf("page %s in scan %d: %w", url, r.ScanID, err)
		}
		if err := json.Unmarshal(raw, &r.Page); err != nil {
			return nil, fmt.Errorf("page %s in scan %d: %w", url, r.ScanID, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
