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

// AddClicks inserts clicks in one transaction, ignoring click ids already stored, and
// returns how many were new.
func (s *SQLite) AddClicks(ctx context.Context, cs []affwatch.Click) (int, error) {
	if s.pool != nil {
		return s.copyClicks(ctx, cs) // PostgreSQL: COPY into a day's partition (pgevents.go)
	}
	ua, err := s.userAgentIDs(ctx, cs)
	if err != nil {
		return 0, err
	}
	return s.addClicksSQLite(ctx, cs, ua)
}

// maxCachedUserAgents bounds the user agent ids kept in memory (a bot farm can send
// millions of distinct ones).
const maxCachedUserAgents = 100_000

// userAgentIDs returns the stored id of each user agent of the clicks, storing the new
// ones first (in their own transaction: an unused user agent row is harmless).
func (s *SQLite) userAgentIDs(ctx context.Context, cs []affwatch.Click) (map[string]int64, error) {
	ids := map[string]int64{}
	var missing []string
	s.uaMu.Lock()
	for i := range cs {
		ua := cs[i].UserAgent
		if _, ok := ids[ua]; ok {
			continue
		}
		if id, ok := s.uaIDs[ua]; ok {
			ids[ua] = id
			continue
		}
		ids[ua] = 0
		missing = append(missing, ua)
	}
	s.uaMu.Unlock()
	if len(missing) == 0 {
		return ids, nil
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		ins, err := tx.PrepareContext(ctx, `INSERT INTO user_agents (ua) VALUES (?) ON CONFLICT (ua) DO NOTHING`)
		if err != nil {
			return err
		}
		defer ins.Close()
		get, err := tx.PrepareContext(ctx, `SELECT id FROM user_agents WHERE ua = ?`)
		if err != nil {
			return err
		}
		defer get.Close()
		for _, ua := range missing {
			if _, err := ins.ExecContext(ctx, ua); err != nil {
				return fmt.Errorf("user agent: %w", err)
			}
			var id int64
			if err := get.QueryRowContext(ctx, ua).Scan(&id); err != nil {
				return fmt.Errorf("user agent: %w", err)
			}
			ids[ua] = id
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.uaMu.Lock()
	if s.uaIDs == nil {
		s.uaIDs = map[string]int64{}
	}
	for _, ua := range missing {
		if len(s.uaIDs) < maxCachedUserAgents {
			s.uaIDs[ua] = ids[ua]
		}
	}
	s.uaMu.Unlock()
	return ids, nil
}

// AddConversions inserts conversions in one transaction, ignoring conversion ids already
// stored, and returns how many were new.
func (s *SQLite) AddConversions(ctx context.Context, cs []affwatch.Conversion) (int, error) {
	if s.pool != nil {
		return s.copyConversions(ctx, cs) // PostgreSQL: COPY (pgevents.go)
	}
	return s.insertMany(ctx, `INSERT INTO conversions (conversion_id, click_id, ts, affiliate_id, order_id, amount, currency, commission, status) VALUES `,
		9, len(cs), func(args []any, i int) []any {
			c := &cs[i]
			return append(args, c.ConversionID, c.ClickID, c.TS.UnixMilli(), c.AffiliateID, c.OrderID, c.Amount, c.Currency, c.Commission, c.Status)
		})
}

// insertRowsPerStatement is how many rows one INSERT carries: one statement per row spends
// most of its time crossing into SQLite, not inserting.
const insertRowsPerStatement = 256

// insertMany inserts n rows of cols values each, many rows per statement, in one
// transaction; rows whose key is already stored are skipped. It returns how many were new.
func (s *SQLite) insertMany(ctx context.Context, head string, cols, n int, row func(args []any, i int) []any) (int, error) {
	added := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		added, err = insertManyTx(ctx, tx, head, cols, n, row)
		return err
	})
	return added, err
}

// insertManyTx is insertMany inside the caller's transaction.
func insertManyTx(ctx context.Context, tx *sql.Tx, head string, cols, n int, row func(args []any, i int) []any) (int, error) {
	one := "(" + placeholders(cols) + ")"
	stmtFor := func(rows int) string {
		var b strings.Builder
		b.WriteString(head)
		for i := range rows {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(one)
		}
		b.WriteString(" ON CONFLICT DO NOTHING")
		return b.String()
	}
	var full *sql.Stmt
	if n >= insertRowsPerStatement {
		st, err := tx.PrepareContext(ctx, stmtFor(insertRowsPerStatement))
		if err != nil {
			return 0, err
		}
		defer st.Close()
		full = st
	}
	added := 0
	args := make([]any, 0, cols*insertRowsPerStatement)
	for start := 0; start < n; start += insertRowsPerStatement {
		end := min(start+insertRowsPerStatement, n)
		args = args[:0]
		for i := start; i < end; i++ {
			args = row(args, i)
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
			return added, fmt.Errorf("rows %d-%d: %w", start, end-1, err)
		}
		k, _ := res.RowsAffected()
		added += int(k)
	}
	return added, nil
}

// EachClick streams the clicks at or after since, in storage order.
func (s *SQLite) EachClick(ctx context.Context, since time.Time, fn func(affwatch.Click) error) error {
	var codes string
	return s.eachClick(ctx, `c.click_id, c.ts, c.affiliate_id, c.sub_id, c.ip, u.ua, c.referrer, c.country, c.landing_url, c.verdict, c.codes`, since,
		func(c *affwatch.Click, ms *int64) []any {
			return []any{&c.ClickID, ms, &c.AffiliateID, &c.SubID, &c.IP, &c.UserAgent, &c.Referrer, &c.Country, &c.LandingURL, &c.Verdict, &codes}
		}, func(c affwatch.Click) error {
			c.Codes = splitCodes(codes)
			return fn(c)
		})
}

// EachClickSignal streams the clicks at or after since, in storage order, with only the
// fields the fraud detectors read (TS, AffiliateID, IP, UserAgent): on tens of millions of
// clicks, reading the other columns is most of the cost.
func (s *SQLite) EachClickSignal(ctx context.Context, since time.Time, fn func(affwatch.Click) error) error {
	if s.pool != nil && !s.viaSQL {
		return s.eachClickSignalPG(ctx, since, fn) // pgevents.go
	}
	return s.eachClick(ctx, `c.ts, c.affiliate_id, c.ip, u.ua`, since,
		func(c *affwatch.Click, ms *int64) []any { return []any{ms, &c.AffiliateID, &c.IP, &c.UserAgent} }, fn)
}

// eachClick streams the given columns of the clicks at or after since; dest names where
// each column goes (the time as Unix milliseconds).
func (s *SQLite) eachClick(ctx context.Context, cols string, since time.Time, dest func(*affwatch.Click, *int64) []any,
	fn func(affwatch.Click) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT `+cols+` FROM clicks c JOIN user_agents u ON u.id = c.ua_id WHERE c.ts >= ?`,
		since.UnixMilli())
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			c  affwatch.Click
			ms int64
		)
		if err := rows.Scan(dest(&c, &ms)...); err != nil {
			return err
		}
		c.TS = time.UnixMilli(ms).UTC()
		if err := fn(c); err != nil {
			return err
		}
	}
	return rows.Err()
}

// EachConversion streams the conversions at or after since, oldest first, with the time
// of their click when that click is stored.
func (s *SQLite) EachConversion(ctx context.Context, since time.Time, fn func(affwatch.Conversion) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT v.conversion_id, v.click_id, v.ts, v.affiliate_id, v.order_id, v.amount, v.currency,
		v.commission, v.status, c.ts, c.ip FROM conversions v `+s.conversionClick()+`
		WHERE v.ts >= ? ORDER BY v.ts`, since.UnixMilli())
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			c       affwatch.Conversion
			ms      int64
			clickMS sql.NullInt64
			clickIP sql.NullString
		)
		if err := rows.Scan(&c.ConversionID, &c.ClickID, &ms, &c.AffiliateID, &c.OrderID, &c.Amount, &c.Currency, &c.Commission, &c.Status, &clickMS, &clickIP); err != nil {
			return err
		}
		c.TS = time.UnixMilli(ms).UTC()
		if clickMS.Valid {
			c.ClickTS = time.UnixMilli(clickMS.Int64).UTC()
		}
		c.ClickIP = clickIP.String
		if err := fn(c); err != nil {
			return err
		}
	}
	return rows.Err()
}

// clicksByID is the FROM item that finds stored clicks (alias c) by id, and the column
// to compare the id with. On SQLite clicks hold their unique click_id; on PostgreSQL a
// click's id is found in click_keys (k), whose time leads to the click's day partition
// and, in it, to the click through the ts index (migration 0018: the partitioned clicks
// keep no index on click_id, which ingest would pay for on every click).
func (s *DB) clicksByID() (from, id string) {
	if s.dialect == dialectPostgres {
		return `(click_keys k JOIN clicks c ON c.ts = k.ts AND c.click_id = k.click_id)`, `k.click_id`
	}
	return `clicks c`, `c.click_id`
}

// conversionClick is the join that adds to conversions (alias v) their stored click (c),
// NULLs when it is not stored. On PostgreSQL it is two left joins, through click_keys
// then clicks: one left join to clicksByID's nested join would be planned as one
// key-and-click pair per conversion (the pair's two-column match is estimated at one
// row) and rescanned for every conversion.
func (s *DB) conversionClick() string {
	if s.dialect == dialectPostgres {
		return `LEFT JOIN click_keys k ON k.click_id = v.click_id AND v.click_id != ''
		LEFT JOIN clicks c ON c.ts = k.ts AND c.click_id = k.click_id`
	}
	return `LEFT JOIN clicks c ON c.click_id = v.click_id AND v.click_id != ''`
}

// idsPerQuery is how many ids one lookup by id carries.
const idsPerQuery = 500

// ClicksByID returns the stored clicks with these ids (ids not stored are left out).
func (s *SQLite) ClicksByID(ctx context.Context, ids []string) ([]affwatch.Click, error) {
	var out []affwatch.Click
	from, id := s.clicksByID()
	err := s.eachByID(ctx, `SELECT c.click_id, c.ts, c.affiliate_id, c.sub_id, c.ip, u.ua, c.referrer, c.country, c.landing_url, c.verdict, c.codes
		FROM `+from+` JOIN user_agents u ON u.id = c.ua_id WHERE `+id+` IN `, ids, func(rows *sql.Rows) error {
		var (
			c     affwatch.Click
			ms    int64
			codes string
		)
		if err := rows.Scan(&c.ClickID, &ms, &c.AffiliateID, &c.SubID, &c.IP, &c.UserAgent, &c.Referrer, &c.Country, &c.LandingURL, &c.Verdict, &codes); err != nil {
			return err
		}
		c.TS = time.UnixMilli(ms).UTC()
		c.Codes = splitCodes(codes)
		out = append(out, c)
		return nil
	})
	return out, err
}

// ConversionsByID returns the stored conversions with these ids (ids not stored are left
// out), without their click's time and address.
func (s *SQLite) ConversionsByID(ctx context.Context, ids []string) ([]affwatch.Conversion, error) {
	var out []affwatch.Conversion
	err := s.eachByID(ctx, `SELECT conversion_id, click_id, ts, affiliate_id, order_id, amount, currency, commission, status
		FROM conversions WHERE conversion_id IN `, ids, func(rows *sql.Rows) error {
		var (
			c  affwatch.Conversion
			ms int64
		)
		if err := rows.Scan(&c.ConversionID, &c.ClickID, &ms, &c.AffiliateID, &c.OrderID, &c.Amount, &c.Currency, &c.Commission, &c.Status); err != nil {
			return err
		}
		c.TS = time.UnixMilli(ms).UTC()
		out = append(out, c)
		return nil
	})
	return out, err
}

// eachByID runs query, which ends in "IN ", for the ids, a slice of them at a time, and
// calls scan on each row.
func (s *SQLite) eachByID(ctx context.Context, query string, ids []string, scan func(*sql.Rows) error) error {
	args := make([]any, 0, idsPerQuery)
	for start := 0; start < len(ids); start += idsPerQuery {
		end := min(start+idsPerQuery, len(ids))
		args = args[:0]
		for _, id := range ids[start:end] {
			args = append(args, id)
		}
		var (
			rows *sql.Rows
			err  error
		)
		if end-start == 1 {
			// One id (the score endpoint's lookups): a statement prepared once.
			var st *sql.Stmt
			if st, err = s.prepared(ctx, query+"(?)"); err == nil {
				rows, err = st.QueryContext(ctx, args...)
			}
		} else {
			rows, err = s.db.QueryContext(ctx, query+"("+placeholders(end-start)+")", args...)
		}
		if err != nil {
			return fmt.Errorf("look up ids: %w", err)
		}
		for rows.Next() {
			if err := scan(rows); err != nil {
				rows.Close()
				return fmt.Errorf("look up ids: %w", err)
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return fmt.Errorf("look up ids: %w", err)
		}
	}
	return nil
}
