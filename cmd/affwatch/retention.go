package main

import (
	"context"
	"fmt"
	"time"

	"github.com/affwatch/affwatch/internal/store"
)

// clickPruner is a store that removes old days of clicks (detect.retention).
type clickPruner interface {
	DropClicksBefore(ctx context.Context, t time.Time) (store.Retention, error)
}

// applyRetention removes the clicks of the UTC days that ended more than detect.retention
// before now (whole days: on PostgreSQL their partitions are dropped). Nothing happens when
// retention is 0 (keep every click).
func applyRetention(ctx context.Context, cfg *Config, st clickPruner, now time.Time) error {
	if cfg.Detect.Retention <= 0 {
		return nil
	}
	if _, err := st.DropClicksBefore(ctx, now.Add(-time.Duration(cfg.Detect.Retention))); err != nil {
		return fmt.Errorf("detect.retention: %w", err)
	}
	return nil
}

// fmtDays writes a duration as whole days when it is whole days ("35d"), else as Go does.
func fmtDays(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
