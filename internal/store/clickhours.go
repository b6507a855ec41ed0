package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/affwatch/affwatch"
)

// msPerHour is one hour in the Unix milliseconds clicks are stored in.
const msPerHour = 3_600_000

// hourOf is the hour a click time (Unix ms) falls in, counted in whole hours since the
// epoch (rounded down, also before 1970).
func hourOf(ms int64) int64 {
	h := ms / msPerHour
	if ms%msPerHour < 0 {
		h--
	}
	return h
}

// sqlHourOf is a click's hour in SQL, as hourOf computes it: the floor of its time in whole
// hours, also before 1970 (SQL's % keeps the sign of ts).
const sqlHourOf = `(ts - ((ts % 3600000) + 3600000) % 3600000) / 3600000`

// recountClickHours count a store's clicks per affiliate and hour anew (after a copy, which
// does not carry click_hours).
var recountClickHours = []string{`DELETE FROM click_hours`,
	`INSERT INTO click_hours (affiliate_id, hour, clicks) SELECT affiliate_id, ` + sqlHourOf + `, count(*) FROM clicks GROUP BY 1, 2`}

// hourKey is one affiliate's hour in click_hours.
type hourKey struct {
	affiliate string
	hour      int64
}

// EachClickHour streams how many stored clicks each affiliate has in each hour that starts
// at or after from and before to (both must be on the hour): the per-(affiliate, hour)
// counts detection reads instead of the clicks of the history weeks, kept in click_hours
// as clicks are added (on SQLite since migration 0013, on PostgreSQL since 0019).
func (s *DB) EachClickHour(ctx context.Context, from, to time.Time, fn func(affiliateID string, hour time.Time, clicks int) error) error {
	if from.UnixMilli()%msPerHour != 0 || to.UnixMilli()%msPerHour != 0 {
		return fmt.Errorf("click hours from %s to %s: both must be on the hour", from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano))
	}
	rows, err := s.db.QueryContext(ctx, `SELECT affiliate_id, hour, clicks FROM click_hours WHERE hour >= ? AND hour < ?`,
		hourOf(from.UnixMilli()), hourOf(to.UnixMilli()))
	if err != nil {
		return fmt.Errorf("click hours: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			aff    string
			hour   int64
			clicks int
		)
		if err := rows.Scan(&aff, &hour, &clicks); err != nil {
			return fmt.Errorf("click hours: %w", err)
		}
		if err := fn(aff, time.UnixMilli(hour*msPerHour).UTC(), clicks); err != nil {
			return err
		}
	}
	return rows.Err()
}

// countHours adds the new clicks of one AddClicks transaction to click_hours (SQLite). All
// of cs are new when added equals their number; otherwise the new ones are the rows past
// lastID, the highest click row id before the transaction inserted (row ids only grow).
func (s *DB) countHours(ctx context.Context, tx *sql.Tx, cs []affwatch.Click, added int, lastID int64) error {
	counts := map[hourKey]int{}
	if added == len(cs) {
		for i := range cs {
			counts[hourKey{cs[i].AffiliateID, hourOf(cs[i].TS.UnixMilli())}]++
		}
	} else if added > 0 {
		rows, err := tx.QueryContext(ctx, `SELECT affiliate_id, ts FROM clicks WHERE id > ?`, lastID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var (
				aff string
				ms  int64
			)
			if err := rows.Scan(&aff, &ms); err != nil {
				rows.Close()
				return err
			}
			counts[hourKey{aff, hourOf(ms)}]++
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
	}
	if len(counts) == 0 {
		return nil
	}
	keys := make([]hourKey, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	const perStatement = 256
	args := make([]any, 0, 3*perStatement)
	for start := 0; start < len(keys); start += perStatement {
		end := min(start+perStatement, len(keys))
		args = args[:0]
		var b strings.Builder
		b.WriteString(`INSERT INTO click_hours (affiliate_id, hour, clicks) VALUES `)
		for i, k := range keys[start:end] {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("(?, ?, ?)")
			args = append(args, k.affiliate, k.hour, counts[k])
		}
		b.WriteString(` ON CONFLICT (affiliate_id, hour) DO UPDATE SET clicks = clicks + excluded.clicks`)
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("click hours: %w", err)
		}
	}
	return nil
}
