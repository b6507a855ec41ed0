package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/affwatch/affwatch"
)

// On PostgreSQL, clicks and conversions are ingested with COPY: a batch is copied into a
// staging table of the session (emptied at each commit), and what is new moves from there
// into the stored table in one statement, in the same transaction. Clicks are partitioned
// by UTC day (migration 0017): the day's partition is created before its first click is
// copied, and a click id's uniqueness is kept in click_keys.

// dayMillis is one UTC day in Unix milliseconds: a click's day is ts / dayMillis.
const dayMillis = 86_400_000

// dayPartition is the name of the clicks partition of a UTC day (days since 1970-01-01).
func dayPartition(day int64) string {
	return "clicks_p" + time.UnixMilli(day*dayMillis).UTC().Format("20060102")
}

// partitionLock is the advisory lock key that serialises the creation and dropping of
// clicks partitions between processes ingesting at once.
const partitionLock = 0x61667064 // "afpd"

// copyClicks is AddClicks on PostgreSQL.
func (s *DB) copyClicks(ctx context.Context, cs []affwatch.Click) (int, error) {
	cs = firstOfEachID(cs, func(c *affwatch.Click) string { return c.ClickID })
	if len(cs) == 0 {
		return 0, nil
	}
	ua, err := s.userAgentIDs(ctx, cs)
	if err != nil {
		return 0, err
	}
	var days []int64
	for i := range cs {
		if d := cs[i].TS.UnixMilli() / dayMillis; !slices.Contains(days, d) {
			days = append(days, d)
		}
	}
	if len(cs) < 2*copyPartMin {
		return s.copyClicksPart(ctx, cs, ua, days)
	}
	// A large batch goes in as two halves at once, each a transaction of its own on a
	// connection of its own: the server's work on a click (its key, its row, the ts
	// index) is most of ingest's, and two backends share it. The halves hold other ids
	// (firstOfEachID), so neither waits for the other; a crash may keep one half, which
	// loading the file again completes like any lost batch.
	half := len(cs) / 2
	var (
		wg   sync.WaitGroup
		n2   int
		err2 error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		n2, err2 = s.copyClicksPart(ctx, cs[half:], ua, days)
	}()
	n1, err1 := s.copyClicksPart(ctx, cs[:half], ua, days)
	wg.Wait()
	return n1 + n2, errors.Join(err1, err2)
}

// copyPartMin is the fewest clicks a half of a batch copied in two at once holds.
const copyPartMin = 4096

// copyClicksPart copies clicks of the days given, finding out again once which days'
// partitions exist when one is missing.
func (s *DB) copyClicksPart(ctx context.Context, cs []affwatch.Click, ua map[string]int64, days []int64) (int, error) {
	for attempt := 0; ; attempt++ {
		if err := s.ensureDays(ctx, days); err != nil {
			return 0, err
		}
		n, err := s.copyClicksOnce(ctx, cs, ua)
		var pgErr *pgconn.PgError
		if attempt == 0 && errors.As(err, &pgErr) && pgErr.Code == "23514" && strings.Contains(pgErr.Message, "no partition") {
			// Another process's retention dropped a day this one had seen: find out again.
			s.days.Clear()
			continue
		}
		return n, err
	}
}

// clickColumns are the stored columns of a click, in the order copyClicksOnce copies them.
var clickColumns = []string{"click_id", "ts", "affiliate_id", "sub_id", "ip", "ua_id", "referrer", "country", "landing_url", "verdict", "codes"}

func (s *DB) copyClicksOnce(ctx context.Context, cs []affwatch.Click, ua map[string]int64) (int, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// A batch's commit does not wait for its WAL to reach the disk (a crash may lose the
	// last batches, never a part of one; loading the file again adds what was lost, as
	// ingest is idempotent), so a file's thousand commits cost what psql's one does.
	if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off; SAVEPOINT fast`); err != nil {
		return 0, err
	}
	row := make([]any, len(clickColumns))
	clickRows := pgx.CopyFromSlice(len(cs), func(i int) ([]any, error) {
		c := &cs[i]
		row[0], row[1], row[2], row[3], row[4], row[5] = c.ClickID, c.TS.UnixMilli(), c.AffiliateID, c.SubID, c.IP, ua[c.UserAgent]
		row[6], row[7], row[8], row[9], row[10] = c.Referrer, c.Country, c.LandingURL, string(c.Verdict), joinCodes(c.Codes)
		return row, nil
	})
	// The common case, a batch of new clicks, is two COPYs and no staging: the keys into
	// click_keys, whose primary key refuses the whole COPY at the first id stored before
	// (one B-tree descent per new click, no probe first), then the clicks straight into
	// their days. When some id was stored already (a file loaded again, or another process
	// storing the same ids in between), the unique violation sends the batch in again from
	// the savepoint through a staging table of the session, with ON CONFLICT, and only the
	// clicks whose key it inserted follow.
	key := make([]any, 2)
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"click_keys"}, []string{"click_id", "ts"}, pgx.CopyFromSlice(len(cs), func(i int) ([]any, error) {
		key[0], key[1] = cs[i].ClickID, cs[i].TS.UnixMilli()
		return key, nil
	}))
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"clicks"}, clickColumns, clickRows)
		if err != nil {
			return 0, fmt.Errorf("copy new clicks: %w", err)
		}
		if err := addClickHours(ctx, tx, cs); err != nil {
			return 0, err
		}
		if err := tx.Commit(ctx); err != nil {
			return 0, err
		}
		return int(n), nil
	case errors.As(err, &pgErr) && pgErr.Code == "23505":
	default:
		return 0, fmt.Errorf("copy new click ids: %w", err)
	}
	if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT fast`); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS click_stage (click_id TEXT, ts BIGINT, affiliate_id TEXT, sub_id TEXT,
		ip TEXT, ua_id BIGINT, referrer TEXT, country TEXT, landing_url TEXT, verdict TEXT, codes TEXT) ON COMMIT DELETE ROWS`); err != nil {
		return 0, fmt.Errorf("click staging table: %w", err)
	}
	if _, err = tx.CopyFrom(ctx, pgx.Identifier{"click_stage"}, clickColumns, clickRows); err != nil {
		return 0, fmt.Errorf("copy clicks: %w", err)
	}
	cols := strings.Join(clickColumns, ", ")
	// The new clicks are counted into click_hours in the same statement (a data-modifying
	// WITH runs whether or not the query reads it), in key order as addClickHours.
	var added int
	err = tx.QueryRow(ctx, `WITH new AS (INSERT INTO click_keys (click_id, ts) SELECT click_id, ts FROM click_stage ON CONFLICT DO NOTHING RETURNING click_id),
		ins AS (INSERT INTO clicks (`+cols+`) SELECT s.`+strings.ReplaceAll(cols, ", ", ", s.")+` FROM click_stage s JOIN new USING (click_id)
			RETURNING affiliate_id, `+sqlHourOf+` AS hour),
		hours AS (INSERT INTO click_hours (affiliate_id, hour, clicks) SELECT affiliate_id, hour, count(*) FROM ins GROUP BY 1, 2 ORDER BY 1, 2
			ON CONFLICT (affiliate_id, hour) DO UPDATE SET clicks = click_hours.clicks + excluded.clicks)
		SELECT count(*) FROM ins`).Scan(&added)
	if err != nil {
		return 0, fmt.Errorf("insert new clicks: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	return added, nil
}

// addClickHours adds new clicks, all of them stored by the transaction, to their
// affiliate's hours in click_hours. The hours are written in key order, so two
// transactions counting into the same hours (the halves of a batch, two processes) wait
// for each other instead of deadlocking.
func addClickHours(ctx context.Context, tx pgx.Tx, cs []affwatch.Click) error {
	counts := map[hourKey]int64{}
	for i := range cs {
		counts[hourKey{cs[i].AffiliateID, hourOf(cs[i].TS.UnixMilli())}]++
	}
	keys := make([]hourKey, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b hourKey) int {
		if c := strings.Compare(a.affiliate, b.affiliate); c != 0 {
			return c
		}
		return cmp.Compare(a.hour, b.hour)
	})
	affs, hours, clicks := make([]string, len(keys)), make([]int64, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		affs[i], hours[i], clicks[i] = k.affiliate, k.hour, counts[k]
	}
	if _, err := tx.Exec(ctx, `INSERT INTO click_hours (affiliate_id, hour, clicks)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) ORDER BY 1, 2
		ON CONFLICT (affiliate_id, hour) DO UPDATE SET clicks = click_hours.clicks + excluded.clicks`, affs, hours, clicks); err != nil {
		return fmt.Errorf("click hours: %w", err)
	}
	return nil
}

// ensureDays creates the clicks partitions of the days not known to exist yet.
func (s *DB) ensureDays(ctx context.Context, days []int64) error {
	var missing []int64
	for _, d := range days {
		if _, ok := s.days.Load(d); !ok {
			missing = append(missing, d)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, partitionLock); err != nil {
		return err
	}
	for _, d := range missing {
		if _, err := tx.Exec(ctx, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s PARTITION OF clicks FOR VALUES FROM (%d) TO (%d)`,
			dayPartition(d), d*dayMillis, (d+1)*dayMillis)); err != nil {
			return fmt.Errorf("clicks partition of %s: %w", time.UnixMilli(d*dayMillis).UTC().Format(time.DateOnly), err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	for _, d := range missing {
		s.days.Store(d, true)
	}
	return nil
}

// conversionColumns are the stored columns of a conversion, in the order copyConversions
// copies them.
var conversionColumns = []string{"conversion_id", "click_id", "ts", "affiliate_id", "order_id", "amount", "currency", "commission", "status"}

// copyConversions is AddConversions on PostgreSQL.
func (s *DB) copyConversions(ctx context.Context, cs []affwatch.Conversion) (int, error) {
	if len(cs) == 0 {
		return 0, nil
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS conversion_stage (conversion_id TEXT, click_id TEXT, ts BIGINT,
		affiliate_id TEXT, order_id TEXT, amount DOUBLE PRECISION, currency TEXT, commission DOUBLE PRECISION, status TEXT)
		ON COMMIT DELETE ROWS`); err != nil {
		return 0, fmt.Errorf("conversion staging table: %w", err)
	}
	row := make([]any, len(conversionColumns))
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"conversion_stage"}, conversionColumns, pgx.CopyFromSlice(len(cs), func(i int) ([]any, error) {
		c := &cs[i]
		row[0], row[1], row[2], row[3], row[4] = c.ConversionID, c.ClickID, c.TS.UnixMilli(), c.AffiliateID, c.OrderID
		row[5], row[6], row[7], row[8] = c.Amount, c.Currency, c.Commission, c.Status
		return row, nil
	}))
	if err != nil {
		return 0, fmt.Errorf("copy conversions: %w", err)
	}
	if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil { // as copyClicksOnce
		return 0, err
	}
	cols := strings.Join(conversionColumns, ", ")
	// ON CONFLICT DO NOTHING skips ids stored before and the second of an id repeated in
	// the batch (the first stands, as on SQLite).
	tag, err := tx.Exec(ctx, `INSERT INTO conversions (`+cols+`) SELECT `+cols+` FROM conversion_stage ON CONFLICT DO NOTHING`)
	if err != nil {
		return 0, fmt.Errorf("insert new conversions: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

// firstOfEachID keeps the first of the events that share an id (the batch's later ones
// are left to the caller's check against the stored one), in order.
func firstOfEachID[T any](es []T, id func(*T) string) []T {
	seen := make(map[string]struct{}, len(es))
	out := es
	copied := false
	for i := range es {
		k := id(&es[i])
		if _, dup := seen[k]; dup {
			if !copied {
				out = append(make([]T, 0, len(es)), es[:i]...)
				copied = true
			}
			continue
		}
		seen[k] = struct{}{}
		if copied {
			out = append(out, es[i])
		}
	}
	return out
}

// Retention is what DropClicksBefore removed.
type Retention struct {
	// Before is the start of the first UTC day kept.
	Before time.Time
	// Days are the UTC days whose clicks were removed (on PostgreSQL, the partitions
	// dropped), oldest first.
	Days []time.Time
	// Clicks is how many clicks they held.
	Clicks int64
}

// DropClicksBefore removes the clicks of every UTC day that ends at or before the start
// of t's UTC day: a day is kept or removed whole. On PostgreSQL each such day's partition
// is dropped (and its ids forgotten, so a click loaded again is new again); on SQLite its
// rows are deleted. Conversions and their verdicts are kept (a conversion whose click
// was removed reads as one without a stored click).
func (s *DB) DropClicksBefore(ctx context.Context, t time.Time) (Retention, error) {
	cut := t.UTC().Truncate(24 * time.Hour)
	out := Retention{Before: cut}
	cutMS := cut.UnixMilli()
	if s.pool == nil {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			rows, err := tx.QueryContext(ctx, `SELECT ts / ?, count(*) FROM clicks WHERE ts < ? GROUP BY 1 ORDER BY 1`, dayMillis, cutMS)
			if err != nil {
				return err
			}
			for rows.Next() {
				var d, n int64
				if err := rows.Scan(&d, &n); err != nil {
					rows.Close()
					return err
				}
				out.Days, out.Clicks = append(out.Days, time.UnixMilli(d*dayMillis).UTC()), out.Clicks+n
			}
			if err := errors.Join(rows.Err(), rows.Close()); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM clicks WHERE ts < ?`, cutMS); err != nil {
				return err
			}
			// the per-hour counts of the days removed go with them (cut is on a day, so on an hour)
			_, err = tx.ExecContext(ctx, `DELETE FROM click_hours WHERE hour < ?`, cutMS/3_600_000)
			return err
		})
		return out, err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return out, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, partitionLock); err != nil {
		return out, err
	}
	rows, err := tx.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'clicks'::regclass ORDER BY c.relname`)
	if err != nil {
		return out, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return out, err
	}
	for _, name := range names {
		day, err := time.Parse("20060102", strings.TrimPrefix(name, "clicks_p"))
		if err != nil || !strings.HasPrefix(name, "clicks_p") {
			return out, fmt.Errorf("clicks partition %q: not named clicks_pYYYYMMDD", name)
		}
		if !day.Before(cut) {
			continue
		}
		var n int64
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{name}.Sanitize()).Scan(&n); err != nil {
			return out, err
		}
		if _, err := tx.Exec(ctx, `DROP TABLE `+pgx.Identifier{name}.Sanitize()); err != nil {
			return out, fmt.Errorf("drop clicks of %s: %w", day.Format(time.DateOnly), err)
		}
		out.Days, out.Clicks = append(out.Days, day), out.Clicks+n
	}
	if len(out.Days) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM click_keys WHERE ts < $1`, cutMS); err != nil {
			return out, err
		}
		// the per-hour counts of the days dropped go with them (cut is on a day, so on an hour)
		if _, err := tx.Exec(ctx, `DELETE FROM click_hours WHERE hour < $1`, cutMS/msPerHour); err != nil {
			return out, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return out, err
	}
	for _, d := range out.Days {
		s.days.Delete(d.UnixMilli() / dayMillis)
	}
	return out, nil
}

// eachClickSignalPG is EachClickSignal on PostgreSQL, read with pgx itself: the rows come
// in pgx's binary format without database/sql's per-value conversions, which is most of
// the client's cost on tens of millions of clicks.
func (s *DB) eachClickSignalPG(ctx context.Context, since time.Time, fn func(affwatch.Click) error) error {
	rows, err := s.pool.Query(ctx, `SELECT c.ts, c.affiliate_id, c.ip, u.ua FROM clicks c JOIN user_agents u ON u.id = c.ua_id
		WHERE c.ts >= $1`, since.UnixMilli())
	if err != nil {
		return err
	}
	defer rows.Close()
	var ms int64
	for rows.Next() {
		var c affwatch.Click
		if err := rows.Scan(&ms, &c.AffiliateID, &c.IP, &c.UserAgent); err != nil {
			return err
		}
		c.TS = time.UnixMilli(ms).UTC()
		if err := fn(c); err != nil {
			return err
		}
	}
	return rows.Err()
}
