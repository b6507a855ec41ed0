package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/affwatch/affwatch"
)

var _ affwatch.VerdictStore = (*DB)(nil)

// joinCodes and splitCodes store a click's reason codes as one comma-separated column.
func joinCodes(codes []string) string { return strings.Join(codes, ",") }

func splitCodes(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// verdictColumns is how many values one stored conversion verdict has.
const verdictColumns = 7

// SaveVerdicts stores conversion verdicts in one transaction, replacing earlier ones of
// the same conversions.
func (s *DB) SaveVerdicts(ctx context.Context, vs []affwatch.EventVerdict) error {
	if len(vs) == 0 {
		return nil
	}
	reasons := make([]string, len(vs))
	for i, v := range vs {
		b, err := json.Marshal(v.Reasons)
		if err != nil {
			return fmt.Errorf("save verdicts: %w", err)
		}
		if v.Reasons == nil {
			b = []byte("[]")
		}
		reasons[i] = string(b)
	}
	head := `INSERT INTO conversion_verdicts (conversion_id, ts, click_ip, verdict, codes, reasons, judged_at) VALUES `
	one := "(" + placeholders(verdictColumns) + ")"
	tail := ` ON CONFLICT (conversion_id) DO UPDATE SET ts = excluded.ts, click_ip = excluded.click_ip, verdict = excluded.verdict,
		codes = excluded.codes, reasons = excluded.reasons, judged_at = excluded.judged_at`
	const perStatement = 200
	return s.tx(ctx, func(tx *sql.Tx) error {
		args := make([]any, 0, perStatement*verdictColumns)
		for start := 0; start < len(vs); start += perStatement {
			end := min(start+perStatement, len(vs))
			args = args[:0]
			for i := start; i < end; i++ {
				v := &vs[i]
				args = append(args, v.ConversionID, v.TS.UnixMilli(), v.ClickIP, string(v.Verdict), v.Codes(), reasons[i], fmtTime(v.JudgedAt))
			}
			q := head + strings.TrimSuffix(strings.Repeat(one+",", end-start), ",") + tail
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("save verdicts: %w", err)
			}
		}
		return nil
	})
}

// EachVerdict streams the stored conversion verdicts the filter keeps, oldest conversion
// first, with the conversion's order, affiliate, commission and status.
func (s *DB) EachVerdict(ctx context.Context, f affwatch.VerdictFilter, fn func(affwatch.EventVerdict) error) error {
	q := `SELECT d.conversion_id, v.order_id, v.click_id, v.affiliate_id, d.ts, v.commission, v.currency, v.status, d.click_ip,
		d.verdict, d.reasons, d.judged_at FROM conversion_verdicts d JOIN conversions v ON v.conversion_id = d.conversion_id
		WHERE d.ts >= ?`
	args := []any{f.Since.UnixMilli()}
	if len(f.Verdicts) > 0 {
		q += ` AND d.verdict IN (` + placeholders(len(f.Verdicts)) + `)`
		for _, v := range f.Verdicts {
			args = append(args, string(v))
		}
	}
	if len(f.Affiliates) > 0 {
		q += ` AND v.affiliate_id IN (` + placeholders(len(f.Affiliates)) + `)`
		for _, a := range f.Affiliates {
			args = append(args, a)
		}
	}
	q += ` ORDER BY d.ts, d.conversion_id`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("read verdicts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			v       affwatch.EventVerdict
			ms      int64
			reasons string
			judged  sql.NullString
		)
		if err := rows.Scan(&v.ConversionID, &v.OrderID, &v.ClickID, &v.AffiliateID, &ms, &v.Commission, &v.Currency, &v.Status,
			&v.ClickIP, &v.Verdict, &reasons, &judged); err != nil {
			return fmt.Errorf("read verdicts: %w", err)
		}
		v.TS = time.UnixMilli(ms).UTC()
		v.JudgedAt = parseTime(judged)
		if err := json.Unmarshal([]byte(reasons), &v.Reasons); err != nil {
			return fmt.Errorf("read verdict of %s: %w", v.ConversionID, err)
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return rows.Err()
}

// CommissionAtRisk sums, per affiliate, the commission of the conversions at or after
// since whose verdict is review or reject, leaving out those the network already took
// back (reversed, refunded, ...).
func (s *DB) CommissionAtRisk(ctx context.Context, since time.Time) (map[string]float64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT v.affiliate_id, sum(v.commission) FROM conversion_verdicts d
		JOIN conversions v ON v.conversion_id = d.conversion_id
		WHERE d.ts >= ? AND d.verdict IN ('review', 'reject') AND v.status NOT IN (`+placeholders(len(affwatch.ReversedStatuses))+`)
		GROUP BY v.affiliate_id`, append([]any{since.UnixMilli()}, anys(affwatch.ReversedStatuses)...)...)
	if err != nil {
		return nil, fmt.Errorf("commission at risk: %w", err)
	}
	defer rows.Close()
	out := map[string]float64{}
	for rows.Next() {
		var (
			aff string
			sum float64
		)
		if err := rows.Scan(&aff, &sum); err != nil {
			return nil, fmt.Errorf("commission at risk: %w", err)
		}
		out[aff] = sum
	}
	return out, rows.Err()
}

// ConversionsByOrder returns the stored conversions crediting these order ids.
func (s *DB) ConversionsByOrder(ctx context.Context, orderIDs []string) ([]affwatch.Conversion, error) {
	var out []affwatch.Conversion
	err := s.eachByID(ctx, `SELECT conversion_id, order_id, affiliate_id, ts FROM conversions WHERE order_id IN `, orderIDs,
		func(rows *sql.Rows) error {
			var (
				c  affwatch.Conversion
				ms int64
			)
			if err := rows.Scan(&c.ConversionID, &c.OrderID, &c.AffiliateID, &ms); err != nil {
				return err
			}
			c.TS = time.UnixMilli(ms).UTC()
			out = append(out, c)
			return nil
		})
	return out, err
}

// VerdictsByClickIP returns the stored verdicts of conversions whose click came from one
// of these addresses, timed from from to to (inclusive), with only ConversionID, TS and
// ClickIP set.
func (s *DB) VerdictsByClickIP(ctx context.Context, ips []string, from, to time.Time) ([]affwatch.EventVerdict, error) {
	var (
		out []affwatch.EventVerdict
		err error
	)
	args := make([]any, 0, idsPerQuery+2)
	for start := 0; start < len(ips); start += idsPerQuery {
		end := min(start+idsPerQuery, len(ips))
		args = append(args[:0], from.UnixMilli(), to.UnixMilli())
		for _, ip := range ips[start:end] {
			args = append(args, ip)
		}
		q := `SELECT conversion_id, ts, click_ip FROM conversion_verdicts WHERE ts >= ? AND ts <= ? AND click_ip IN (` + placeholders(end-start) + `)`
		var rows *sql.Rows
		if end-start == 1 {
			var st *sql.Stmt
			if st, err = s.prepared(ctx, q); err == nil {
				rows, err = st.QueryContext(ctx, args...)
			}
		} else {
			rows, err = s.db.QueryContext(ctx, q, args...)
		}
		if err != nil {
			return nil, fmt.Errorf("verdicts by address: %w", err)
		}
		for rows.Next() {
			var (
				v  affwatch.EventVerdict
				ms int64
			)
			if err := rows.Scan(&v.ConversionID, &ms, &v.ClickIP); err != nil {
				rows.Close()
				return nil, fmt.Errorf("verdicts by address: %w", err)
			}
			v.TS = time.UnixMilli(ms).UTC()
			out = append(out, v)
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// EachConversionWithClick streams the conversions at or after since, oldest first, each
// with its stored click (nil when the click is not stored).
func (s *DB) EachConversionWithClick(ctx context.Context, since time.Time, fn func(affwatch.Conversion, *affwatch.Click) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT v.conversion_id, v.click_id, v.ts, v.affiliate_id, v.order_id, v.amount, v.currency,
		v.commission, v.status, c.ts, c.ip, u.ua, c.referrer, c.landing_url, c.codes, c.affiliate_id
		FROM conversions v `+s.conversionClick()+`
		LEFT JOIN user_agents u ON u.id = c.ua_id
		WHERE v.ts >= ? ORDER BY v.ts, v.conversion_id`, since.UnixMilli())
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			c                                 affwatch.Conversion
			ms                                int64
			clickMS                           sql.NullInt64
			ip, ua, ref, landing, codes, caff sql.NullString
		)
		if err := rows.Scan(&c.ConversionID, &c.ClickID, &ms, &c.AffiliateID, &c.OrderID, &c.Amount, &c.Currency, &c.Commission, &c.Status,
			&clickMS, &ip, &ua, &ref, &landing, &codes, &caff); err != nil {
			return err
		}
		c.TS = time.UnixMilli(ms).UTC()
		var click *affwatch.Click
		if clickMS.Valid {
			click = &affwatch.Click{ClickID: c.ClickID, TS: time.UnixMilli(clickMS.Int64).UTC(), AffiliateID: caff.String, IP: ip.String,
				UserAgent: ua.String, Referrer: ref.String, LandingURL: landing.String, Codes: splitCodes(codes.String)}
			c.ClickTS, c.ClickIP = click.TS, click.IP
		}
		if err := fn(c, click); err != nil {
			return err
		}
	}
	return rows.Err()
}

// anys is a list of strings as query arguments.
func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
