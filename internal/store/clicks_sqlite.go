package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/affwatch/affwatch"
)

// sqliteClickColumns are the columns AddClicks writes, in the order addClicksSQLite binds them.
const sqliteClickColumns = `click_id, ts, affiliate_id, sub_id, ip, ua_id, referrer, country, landing_url, verdict, codes`

// addClicksSQLite is SQLite's AddClicks: the clicks, many rows per statement, and their
// per-(affiliate, hour) counts in click_hours, in one transaction.
func (s *DB) addClicksSQLite(ctx context.Context, cs []affwatch.Click, ua map[string]int64) (int, error) {
	const cols = 11
	one := "(" + placeholders(cols) + ")"
	stmtFor := func(rows int) string {
		var b strings.Builder
		b.WriteString(`INSERT INTO clicks (` + sqliteClickColumns + `) VALUES `)
		for i := range rows {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(one)
		}
		b.WriteString(" ON CONFLICT DO NOTHING")
		return b.String()
	}
	added := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var lastID int64
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM clicks`).Scan(&lastID); err != nil {
			return err
		}
		var full *sql.Stmt
		if len(cs) >= insertRowsPerStatement {
			st, err := tx.PrepareContext(ctx, stmtFor(insertRowsPerStatement))
			if err != nil {
				return err
			}
			defer st.Close()
			full = st
		}
		args := make([]any, 0, cols*insertRowsPerStatement)
		for start := 0; start < len(cs); start += insertRowsPerStatement {
			end := min(start+insertRowsPerStatement, len(cs))
			args = args[:0]
			for i := start; i < end; i++ {
				c := &cs[i]
				args = append(args, c.ClickID, c.TS.UnixMilli(), c.AffiliateID, c.SubID, c.IP, ua[c.UserAgent], c.Referrer, c.Country, c.LandingURL,
					string(c.Verdict), joinCodes(c.Codes))
			}
			var (
				res sql.Result
				err error
			)
			if end-start == insertRowsPerStatement {
				res, err = full.ExecContext(ctx, args...)
			} else {
				res, err = tx.ExecContext(ctx, stmtFor(end-start), args...)
			}
			if err != nil {
				return fmt.Errorf("rows %d-%d: %w", start, end-1, err)
			}
			k, _ := res.RowsAffected()
			added += int(k)
		}
		return s.countHours(ctx, tx, cs, added, lastID)
	})
	return added, err
}
