package store

import (
	"context"

	"github.com/affwatch/affwatch"
)

// SaveJoined stores a run of the joined rules (over every affiliate's document) and
// resolves the active joined violations it did not find again, in one transaction.
func (s *SQLite) SaveJoined(ctx context.Context, scanID int64, vs []affwatch.Violation) (affwatch.PageOutcome, error) {
	return s.saveRun(ctx, scanID, vs, affwatch.SourceJoined)
}
