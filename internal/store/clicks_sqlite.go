package store

import (
	"context"
	"database/sql"

	"github.com/affwatch/affwatch"
)

// sqliteClickColumns are the columns AddClicks writes, in the order addClicksSQLite binds them.
const sqliteClickColumns = `click_id, ts, affiliate_id, sub_id, ip, ua_id, referrer, country, landing_url, verdict, codes`

// addClicksSQLite is SQLite's AddClicks: the clicks, many rows per statement, and their
// per-(affiliate, hour) counts in click_hours, in one transaction.
func (s *DB) addClicksSQLite(ctx context.Context, cs []affwatch.Click, ua map[string]int64) (int, error) {
	added := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var lastID int64
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM clicks`).Scan(&lastID); err != nil {
			return err
		}
		var err error
		added, err = insertManyTx(ctx, tx, `INSERT INTO clicks (`+sqliteClickColumns+`) VALUES `, 11, len(cs), func(args []any, i int) []any {
			c := &cs[i]
			return append(args, c.ClickID, c.TS.UnixMilli(), c.AffiliateID, c.SubID, c.IP, ua[c.UserAgent], c.Referrer, c.Country, c.LandingURL,
				string(c.Verdict), joinCodes(c.Codes))
		})
		if err != nil {
			return err
		}
		return s.countHours(ctx, tx, cs, added, lastID)
	})
	return added, err
}
