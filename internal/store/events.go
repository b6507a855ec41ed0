package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/affwatch/affwatch"
)

// AddClicks inserts clicks in one transaction, ignoring click ids already stored, and
// returns how many were new.
func (s *SQLite) AddClicks(ctx context.Context, cs []affwatch.Click) (int, error) {
	n := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO clicks (click_id, ts, affiliate_id, sub_id, ip, user_agent, referrer, country, landing_url)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, c := range cs {
			res, err := stmt.ExecContext(ctx, c.ClickID, c.TS.UnixMilli(), c.AffiliateID, c.SubID, c.IP, c.UserAgent, c.Referrer, c.Country, c.LandingURL)
			if err != nil {
				return fmt.Errorf("click %s: %w", c.ClickID, err)
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		return nil
	})
	return n, err
}

// AddConversions inserts conversions in one transaction, ignoring conversion ids already
// stored, and returns how many were new.
func (s *SQLite) AddConversions(ctx context.Context, cs []affwatch.Conversion) (int, error) {
	n := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO conversions (conversion_id, click_id, ts, affiliate_id, order_id, amount, currency, commission, status)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, c := range cs {
			res, err := stmt.ExecContext(ctx, c.ConversionID, c.ClickID, c.TS.UnixMilli(), c.AffiliateID, c.OrderID, c.Amount, c.Currency, c.Commission, c.Status)
			if err != nil {
				return fmt.Errorf("conversion %s: %w", c.ConversionID, err)
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		return nil
	})
	return n, err
}

// EachClick streams the clicks at or after since, oldest first.
func (s *SQLite) EachClick(ctx context.Context, since time.Time, fn func(affwatch.Click) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT click_id, ts, affiliate_id, sub_id, ip, user_agent, referrer, country, landing_url
		FROM clicks WHERE ts >= ? ORDER BY ts`, since.UnixMilli())
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			c  affwatch.Click
			ms int64
		)
		if err := rows.Scan(&c.ClickID, &ms, &c.AffiliateID, &c.SubID, &c.IP, &c.UserAgent, &c.Referrer, &c.Country, &c.LandingURL); err != nil {
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
		v.commission, v.status, c.ts, c.ip FROM conversions v LEFT JOIN clicks c ON c.click_id = v.click_id AND v.click_id != ''
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
