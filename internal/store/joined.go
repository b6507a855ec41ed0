package store

import (
	"context"
	"database/sql"

	"github.com/affwatch/affwatch"
)

// SaveJoined stores a run of the joined rules (over every affiliate's document) and
// resolves the active joined violations it did not find again, in one transaction.
func (s *SQLite) SaveJoined(ctx context.Context, scanID int64, vs []affwatch.Violation) (affwatch.PageOutcome, error) {
	now := s.Now()
	var out affwatch.PageOutcome
	err := s.tx(ctx, func(tx *sql.Tx) error {
		seen, err := s.sight(ctx, tx, scanID, now, vs, &out)
		if err != nil {
			return err
		}
		return s.resolveAbsent(ctx, tx, scanID, now, seen, &out, `source = ?`, affwatch.SourceJoined)
	})
	return out, err
}
