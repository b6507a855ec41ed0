package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/affwatch/affwatch"
)

var _ affwatch.Dashboard = (*DB)(nil)

// sortKey is one column of a list's order.
type sortKey struct {
	col  string
	desc bool
	num  bool // an integer column: the cursor's text is read back as a number
}

// violationOrders are the violation list's orders; every one ends with the fingerprint.
var violationOrders = map[string][]sortKey{
	affwatch.SortSeverity:  {{"severity", true, true}, {"fingerprint", true, false}},
	affwatch.SortLastSeen:  {{"last_seen", true, false}, {"fingerprint", true, false}},
	affwatch.SortFirstSeen: {{"first_seen", true, false}, {"fingerprint", true, false}},
	affwatch.SortAffiliate: {{"affiliate_id", false, false}, {"severity", true, true}, {"fingerprint", true, false}},
	affwatch.SortRule:      {{"rule_id", false, false}, {"severity", true, true}, {"fingerprint", true, false}},
}

// keyValues are a violation's values in an order's columns, as a cursor keeps them.
func keyValues(v affwatch.Violation, keys []sortKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		switch k.col {
		case "severity":
			out[i] = strconv.Itoa(int(v.Severity))
		case "fingerprint":
			out[i] = v.Fingerprint
		case "last_seen":
			out[i] = fmtTime(v.LastSeen)
		case "first_seen":
			out[i] = fmtTime(v.FirstSeen)
		case "affiliate_id":
			out[i] = v.AffiliateID
		case "rule_id":
			out[i] = v.RuleID
		}
	}
	return out
}

// ErrCursor is a cursor that this list did not make (or made for another order).
var ErrCursor = errors.New("bad cursor")

func encodeCursor(sort string, vals []string) string {
	raw, _ := json.Marshal(append([]string{sort}, vals...))
	return base64.RawURLEncoding.EncodeToString(raw)
}

func decodeCursor(c, sort string, keys []sortKey) ([]any, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	var vals []string
	if err == nil {
		err = json.Unmarshal(raw, &vals)
	}
	if err != nil || len(vals) != len(keys)+1 || vals[0] != sort {
		return nil, fmt.Errorf("%w: %w: it was not made by this list and order", affwatch.ErrInvalid, ErrCursor)
	}
	out := make([]any, len(keys))
	for i, k := range keys {
		out[i] = vals[i+1]
		if k.num {
			n, err := strconv.Atoi(vals[i+1])
			if err != nil {
				return nil, fmt.Errorf("%w: %w", affwatch.ErrInvalid, ErrCursor)
			}
			out[i] = n
		}
	}
	return out, nil
}

// after is the keyset condition "comes after these values in this order".
func after(keys []sortKey, vals []any) (string, []any) {
	var ors []string
	var args []any
	for i, k := range keys {
		var ands []string
		for j := range i {
			ands = append(ands, keys[j].col+` = ?`)
			args = append(args, vals[j])
		}
		op := ` > ?`
		if k.desc {
			op = ` < ?`
		}
		ands = append(ands, k.col+op)
		args = append(args, vals[i])
		ors = append(ors, `(`+strings.Join(ands, ` AND `)+`)`)
	}
	return `(` + strings.Join(ors, ` OR `) + `)`, args
}

// scopeWhere limits a query to the scope's affiliates.
func scopeWhere(col string, scoped bool, scope []string) (string, []any) {
	if !scoped {
		return "", nil
	}
	if len(scope) == 0 {
		return `1 = 0`, nil
	}
	args := make([]any, len(scope))
	for i, id := range scope {
		args[i] = id
	}
	return col + ` IN (` + placeholders(len(scope)) + `)`, args
}

// likeEscape escapes LIKE's wildcards in a search text.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(s))
}

// ViolationPage returns one page of the violations the query selects, and the cursor of
// the next page.
func (s *DB) ViolationPage(ctx context.Context, q affwatch.ViolationQuery) ([]affwatch.Violation, string, error) {
	sort := q.Sort
	if sort == "" {
		sort = affwatch.SortSeverity
	}
	keys, ok := violationOrders[sort]
	if !ok {
		return nil, "", fmt.Errorf("%w: unknown sort %q", affwatch.ErrInvalid, sort)
	}
	var (
		where []string
		args  []any
	)
	add := func(cond string, a ...any) {
		if cond != "" {
			where, args = append(where, cond), append(args, a...)
		}
	}
	addAll := func(cond string, a []any) { add(cond, a...) }
	addAll(scopeWhere("affiliate_id", q.Scoped, q.Scope))
	if len(q.AffiliateIDs) > 0 {
		addAll(scopeWhere("affiliate_id", true, q.AffiliateIDs))
	}
	if len(q.States) > 0 {
		a := make([]any, len(q.States))
		for i, st := range q.States {
			a[i] = string(st)
		}
		add(`state IN (`+placeholders(len(a))+`)`, a...)
	}
	if len(q.Severities) > 0 {
		a := make([]any, len(q.Severities))
		for i, sv := range q.Severities {
			a[i] = int(sv)
		}
		add(`severity IN (`+placeholders(len(a))+`)`, a...)
	}
	if q.RuleID != "" {
		add(`rule_id = ?`, q.RuleID)
	}
	if q.Source != "" {
		add(`source = ?`, string(q.Source))
	}
	if t := strings.TrimSpace(q.Text); t != "" {
		like := "%" + likeEscape(t) + "%"
		add(`(lower(message) LIKE ? ESCAPE '\' OR lower(title) LIKE ? ESCAPE '\' OR lower(url) LIKE ? ESCAPE '\' OR lower(rule_id) LIKE ? ESCAPE '\')`,
			like, like, like, like)
	}
	if !q.Since.IsZero() {
		add(`last_seen >= ?`, fmtTime(q.Since))
	}
	if !q.Until.IsZero() {
		add(`last_seen < ?`, fmtTime(q.Until))
	}
	if q.After != "" {
		vals, err := decodeCursor(q.After, sort, keys)
		if err != nil {
			return nil, "", err
		}
		addAll(after(keys, vals))
	}
	query := selectViolation
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	order := make([]string, len(keys))
	for i, k := range keys {
		order[i] = k.col
		if k.desc {
			order[i] += ` DESC`
		}
	}
	query += ` ORDER BY ` + strings.Join(order, `, `)
	limit := q.Limit
	if limit == 0 {
		limit = 50
	}
	if limit > 0 {
		query += ` LIMIT ?`
		args = append(args, limit+1)
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var out []affwatch.Violation
	for rows.Next() {
		v, err := scanViolation(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if limit > 0 && len(out) > limit {
		out = out[:limit]
		next = encodeCursor(sort, keyValues(out[limit-1], keys))
	}
	return out, next, nil
}

// ViolationCounts counts the violations by state and severity.
func (s *DB) ViolationCounts(ctx context.Context, scoped bool, scope []string) ([]affwatch.StateSeverityCount, error) {
	where, args := scopeWhere("affiliate_id", scoped, scope)
	if where != "" {
		where = ` WHERE ` + where
	}
	rows, err := s.db.QueryContext(ctx, `SELECT state, severity, count(*) FROM violations`+where+` GROUP BY state, severity`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []affwatch.StateSeverityCount
	for rows.Next() {
		var c affwatch.StateSeverityCount
		if err := rows.Scan(&c.State, &c.Severity, &c.Count); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// OpenByDay counts, for each day, the violations first seen before its end and not
// resolved by then (suppressed ones left out).
func (s *DB) OpenByDay(ctx context.Context, scoped bool, scope []string, days []time.Time) ([]affwatch.DayCount, error) {
	if len(days) == 0 {
		return nil, nil
	}
	var cols []string
	var args []any
	for _, d := range days {
		end := fmtTime(d.Add(24 * time.Hour))
		cols = append(cols, `coalesce(sum(CASE WHEN first_seen < ? AND (resolved_at IS NULL OR resolved_at >= ?) THEN 1 ELSE 0 END), 0)`)
		args = append(args, end, end)
	}
	q := `SELECT ` + strings.Join(cols, `, `) + ` FROM violations WHERE state != 'suppressed'`
	if where, a := scopeWhere("affiliate_id", scoped, scope); where != "" {
		q += ` AND ` + where
		args = append(args, a...)
	}
	counts := make([]int64, len(days))
	dest := make([]any, len(days))
	for i := range counts {
		dest[i] = &counts[i]
	}
	if err := s.db.QueryRowContext(ctx, q, args...).Scan(dest...); err != nil {
		return nil, err
	}
	out := make([]affwatch.DayCount, len(days))
	for i, d := range days {
		out[i] = affwatch.DayCount{Day: d, Count: int(counts[i])}
	}
	return out, nil
}

// Changes is what the latest scans found new (or reopened) and resolved, newest first.
func (s *DB) Changes(ctx context.Context, scoped bool, scope []string, scans int) ([]affwatch.ScanChanges, error) {
	join, scopeArgs := scopeWhere("v.affiliate_id", scoped, scope)
	if join != "" {
		join = ` AND ` + join
	}
	args := append([]any{scans}, scopeArgs...)
	rows, err := s.db.QueryContext(ctx, `SELECT s.id, s.started,
			coalesce(sum(CASE WHEN v.fingerprint IS NOT NULL AND e.to_state IN ('new', 'reopened') THEN 1 ELSE 0 END), 0),
			coalesce(sum(CASE WHEN v.fingerprint IS NOT NULL AND e.to_state = 'resolved' THEN 1 ELSE 0 END), 0)
		FROM (SELECT id, started FROM scans ORDER BY id DESC LIMIT ?) s
		LEFT JOIN violation_events e ON e.scan_id = s.id
		LEFT JOIN violations v ON v.fingerprint = e.fingerprint`+join+`
		GROUP BY s.id, s.started ORDER BY s.id DESC`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []affwatch.ScanChanges
	for rows.Next() {
		var (
			c       affwatch.ScanChanges
			started sql.NullString
		)
		if err := rows.Scan(&c.ScanID, &started, &c.New, &c.Resolved); err != nil {
			return nil, err
		}
		c.Started = parseTime(started)
		out = append(out, c)
	}
	return out, rows.Err()
}

// RuleCounts is how many violations each rule found, and how many of them are active.
func (s *DB) RuleCounts(ctx context.Context, scoped bool, scope []string) ([]affwatch.RuleCount, error) {
	where, args := scopeWhere("affiliate_id", scoped, scope)
	if where != "" {
		where = ` WHERE ` + where
	}
	rows, err := s.db.QueryContext(ctx, `SELECT rule_id, count(*), coalesce(sum(CASE WHEN state != 'resolved' THEN 1 ELSE 0 END), 0)
		FROM violations`+where+` GROUP BY rule_id ORDER BY rule_id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []affwatch.RuleCount
	for rows.Next() {
		var c affwatch.RuleCount
		if err := rows.Scan(&c.RuleID, &c.Total, &c.Active); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

const selectPageSummary = `SELECT scan_id, affiliate_id, url, final_url, status, fetch_status, fetch_error, fetched_at,
	coalesce(content_sha256, ''), policy_revision, findings FROM pages`

func scanPageSummary(r rowScanner) (affwatch.PageSummary, error) {
	var (
		p       affwatch.PageSummary
		fetched sql.NullString
	)
	err := r.Scan(&p.ScanID, &p.AffiliateID, &p.URL, &p.FinalURL, &p.Status, &p.FetchStatus, &p.FetchError, &fetched,
		&p.ContentSHA256, &p.PolicyRevision, &p.Findings)
	p.FetchedAt = parseTime(fetched)
	return p, err
}

// PagesOf lists the pages of a scan, or of an affiliate's latest scan.
func (s *DB) PagesOf(ctx context.Context, scanID int64, affiliateID string, unverified bool, limit int) ([]affwatch.PageSummary, error) {
	var (
		where []string
		args  []any
	)
	if scanID > 0 {
		where, args = append(where, `scan_id = ?`), append(args, scanID)
	}
	if affiliateID != "" {
		where = append(where, `affiliate_id = ?`)
		args = append(args, affiliateID)
		if scanID <= 0 {
			where = append(where, `scan_id = (SELECT max(scan_id) FROM pages WHERE affiliate_id = ?)`)
			args = append(args, affiliateID)
		}
	}
	if unverified {
		where = append(where, `fetch_status NOT IN ('ok', 'not_modified')`)
	}
	if len(where) == 0 {
		return nil, fmt.Errorf("%w: pages of which scan or affiliate?", affwatch.ErrInvalid)
	}
	if limit <= 0 {
		limit = 500
	}
	rows, err := s.db.QueryContext(ctx, selectPageSummary+` WHERE `+strings.Join(where, ` AND `)+` ORDER BY id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []affwatch.PageSummary
	for rows.Next() {
		p, err := scanPageSummary(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// PageAt is the stored look at an affiliate's page in a scan, or the latest one before it
// (scanID 0: the latest of all).
func (s *DB) PageAt(ctx context.Context, affiliateID, url string, scanID int64) (affwatch.PageSummary, error) {
	q, args := selectPageSummary+` WHERE affiliate_id = ? AND url = ?`, []any{affiliateID, url}
	if scanID > 0 {
		q, args = q+` AND scan_id <= ?`, append(args, scanID)
	}
	p, err := scanPageSummary(s.db.QueryRowContext(ctx, q+` ORDER BY scan_id DESC LIMIT 1`, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("page %s: %w", url, affwatch.ErrNotFound)
	}
	return p, err
}

// DailyTraffic counts the affiliates' clicks and conversions per UTC day since a time
// (every affiliate's when none is named).
func (s *DB) DailyTraffic(ctx context.Context, affiliateIDs []string, since time.Time) ([]affwatch.Traffic, error) {
	const day = 86400000
	byDay := map[int64]*affwatch.Traffic{}
	var order []int64
	count := func(table string, set func(*affwatch.Traffic, int)) error {
		where, args := scopeWhere("affiliate_id", len(affiliateIDs) > 0, affiliateIDs)
		q := `SELECT ts / ` + strconv.Itoa(day) + `, count(*) FROM ` + table + ` WHERE ts >= ?`
		args = append([]any{since.UnixMilli()}, args...)
		if where != "" {
			q += ` AND ` + where
		}
		rows, err := s.db.QueryContext(ctx, q+` GROUP BY 1 ORDER BY 1`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d int64
			var n int
			if err := rows.Scan(&d, &n); err != nil {
				return err
			}
			t, ok := byDay[d]
			if !ok {
				t = &affwatch.Traffic{Day: time.UnixMilli(d * day).UTC()}
				byDay[d] = t
				order = append(order, d)
			}
			set(t, n)
		}
		return rows.Err()
	}
	if err := count("clicks", func(t *affwatch.Traffic, n int) { t.Clicks = n }); err != nil {
		return nil, err
	}
	if err := count("conversions", func(t *affwatch.Traffic, n int) { t.Conversions = n }); err != nil {
		return nil, err
	}
	slices.Sort(order)
	out := make([]affwatch.Traffic, 0, len(order))
	for _, d := range order {
		out = append(out, *byDay[d])
	}
	return out, nil
}

// ScanTotals counts the scans by kind and status.
func (s *DB) ScanTotals(ctx context.Context) ([]affwatch.ScanTotal, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT kind, status, count(*) FROM scans GROUP BY kind, status ORDER BY kind, status`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []affwatch.ScanTotal
	for rows.Next() {
		var t affwatch.ScanTotal
		if err := rows.Scan(&t.Kind, &t.Status, &t.Count); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
