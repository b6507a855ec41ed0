// Package store keeps affwatch's scans, page snapshots, violations and event logs. SQLite
// is the embedded default; the schema is applied from embedded migrations.
package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"io/fs"
	"net/url"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/mattn/go-sqlite3"

	"github.com/affwatch/affwatch"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// The dialects a DB speaks: SQLite, the embedded default, and PostgreSQL for teams.
const (
	dialectSQLite   = "sqlite"
	dialectPostgres = "postgres"
)

// DB is the store: SQLite (one file, WAL journal, foreign keys on, a busy timeout so that
// a reader never fails a writer) or PostgreSQL. Its statements are written once, with "?"
// placeholders; each dialect has its own schema in migrations/<dialect>.
type DB struct {
	db      *sql.DB
	dialect string
	path    string // the SQLite file, or the PostgreSQL URL without its password
	// Now is the clock, replaceable in tests.
	Now func() time.Time

	// closers release what the database handle does not own (a connection pool).
	closers []func()
	// pool is PostgreSQL's connection pool (nil on SQLite).
	pool *pgxpool.Pool

	// uaIDs caches the ids of user agents already stored.
	uaMu  sync.Mutex
	uaIDs map[string]int64

	// days are the UTC days whose clicks partition exists (PostgreSQL; see ensureDays).
	days sync.Map
	// viaSQL makes EachClickSignal on PostgreSQL go through database/sql as on SQLite
	// (benchmarks compare the two).
	viaSQL bool

	// stmts are statements prepared once, by query (see prepared).
	stmts sync.Map
}

// prepared returns the statement of a query run often with few arguments (per request),
// prepared at its first use and kept until Close.
func (s *DB) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := s.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// SQLite is the name the store had when SQLite was its only dialect.
type SQLite = DB

var _ affwatch.Store = (*DB)(nil)

// OpenSQLite opens (creating if needed) the database at path and applies any migrations
// it has not seen yet. ":memory:" is not supported: tests use a file in t.TempDir().
func OpenSQLite(ctx context.Context, dbPath string) (*SQLite, error) {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_foreign_keys", "on")
	q.Set("_busy_timeout", "10000")
	q.Set("_synchronous", "NORMAL")
	q.Set("_txlock", "immediate")
	q.Set("_cache_size", "-65536") // 64 MiB of page cache: bulk ingest and detection scans touch many pages
	db, err := sql.Open(sqliteDriver, "file:"+dbPath+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dbPath, err)
	}
	s := &DB{db: db, dialect: dialectSQLite, path: dbPath, Now: time.Now}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", dbPath, err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate %s: %w", dbPath, err)
	}
	return s, nil
}

// sqliteDriver is mattn's SQLite driver with the setting the DSN cannot carry, run on
// every new connection: wal_autocheckpoint = 16384 pages (64 MiB instead of 4 MiB), so the
// WAL is copied into the database less often during a bulk ingest and hot index pages are
// copied once per checkpoint rather than many times. Durability is as before: WAL with
// synchronous NORMAL never corrupts the database; a power loss (not a killed process) can
// roll back the transactions since the last checkpoint, which loading the file again
// restores (rows are keyed by id). temp_store stays on file: in memory, every large sort
// and GROUP BY would hold its temporary b-tree in RAM.
const sqliteDriver = "sqlite3_affwatch"

func init() {
	sql.Register(sqliteDriver, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		_, err := c.Exec("PRAGMA wal_autocheckpoint = 16384", nil)
		return err
	}})
}

// DB exposes the database handle for reports and benchmarks that query it directly.
func (s *SQLite) DB() *sql.DB { return s.db }

// Close closes the database.
func (s *DB) Close() error {
	s.stmts.Range(func(_, st any) bool { st.(*sql.Stmt).Close(); return true })
	err := s.db.Close()
	for _, c := range s.closers {
		c()
	}
	return err
}

// migrate applies, in order and each in its own transaction, the embedded migrations whose
// version is not yet recorded.
func (s *SQLite) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migrations/"+s.dialect+"/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	// A database that a newer affwatch migrated is left alone: this one would misread it.
	known := 0
	if len(names) > 0 {
		known, _ = strconv.Atoi(strings.SplitN(path.Base(names[len(names)-1]), "_", 2)[0])
	}
	var newest sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&newest); err != nil {
		return err
	}
	if newest.Int64 > int64(known) {
		return fmt.Errorf("%w: its schema is at version %d, and this affwatch knows versions up to %d: upgrade affwatch", ErrNewerSchema, newest.Int64, known)
	}
	for _, name := range names {
		base := path.Base(name)
		num, _, _ := strings.Cut(base, "_")
		version, err := strconv.Atoi(num)
		if err != nil {
			return fmt.Errorf("migration %s: name must start with a number", base)
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		err = s.tx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %s: %w", base, err)
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				version, base, fmtTime(s.Now()))
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// tx runs fn in a transaction, committing when it returns nil.
func (s *SQLite) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// ErrNewerSchema is returned when the database was migrated by a newer affwatch.
var ErrNewerSchema = errors.New("the database is from a newer affwatch")

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// timeLayout stores times at a fixed width (RFC 3339 with nine fraction digits), so that
// comparing them as text in SQL (expiry, next attempt, since) orders them as times:
// RFC3339Nano drops trailing zeros, and "…:00Z" sorts after "…:00.5Z".
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// nullTime writes a zero time as NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return fmtTime(t)
}

func parseTime(s sql.NullString) time.Time {
	if !s.Valid || s.String == "" {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339Nano, s.String)
	return t
}

// SyncAffiliates records the configured affiliates, updating those already known.
func (s *SQLite) SyncAffiliates(ctx context.Context, affs []affwatch.Affiliate) error {
	now := fmtTime(s.Now())
	return s.tx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO affiliates (id, name, program, manager_email, sites, network_ids, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, program = excluded.program,
			manager_email = excluded.manager_email, sites = excluded.sites,
			network_ids = excluded.network_ids, updated_at = excluded.updated_at`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, a := range affs {
			sites, _ := json.Marshal(a.Sites)
			ids, _ := json.Marshal(a.NetworkIDs)
			if _, err := stmt.ExecContext(ctx, a.ID, a.Name, a.Program, a.ManagerEmail, string(sites), string(ids), now); err != nil {
				return fmt.Errorf("affiliate %s: %w", a.ID, err)
			}
		}
		return nil
	})
}

// StartScan records a new running scan, first marking as failed any scan of the same kind
// that a crash left running.
func (s *SQLite) StartScan(ctx context.Context, kind string) (affwatch.Scan, error) {
	now := s.Now()
	var id int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE scans SET status = ?, finished = ?, error = 'interrupted: the process stopped before the scan finished'
			WHERE kind = ? AND status = ?`, affwatch.ScanFailed, fmtTime(now), kind, affwatch.ScanRunning); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `INSERT INTO scans (kind, started, status) VALUES (?, ?, ?) RETURNING id`,
			kind, fmtTime(now), affwatch.ScanRunning).Scan(&id)
	})
	if err != nil {
		return affwatch.Scan{}, err
	}
	return affwatch.Scan{ID: id, Kind: kind, Started: now, Status: affwatch.ScanRunning}, nil
}

// SavePage stores one page, its snapshot and its violations in one transaction.
func (s *SQLite) SavePage(ctx context.Context, scanID int64, snap affwatch.Snapshot, vs []affwatch.Violation) (affwatch.PageOutcome, error) {
	p := &snap.Page
	doc, err := gzipJSON(p)
	if err != nil {
		return affwatch.PageOutcome{}, err
	}
	var html []byte
	if len(snap.HTML) > 0 {
		if html, err = gzipBytes(snap.HTML); err != nil {
			return affwatch.PageOutcome{}, err
		}
	}
	now := s.Now()
	var out affwatch.PageOutcome
	err = s.tx(ctx, func(tx *sql.Tx) error {
		var sha any
		if p.ContentSHA256 != "" && html != nil {
			sha = p.ContentSHA256
			if _, err := tx.ExecContext(ctx, `INSERT INTO snapshots (sha256, size, html) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
				p.ContentSHA256, len(snap.HTML), html); err != nil {
				return fmt.Errorf("snapshot: %w", err)
			}
		}
		var shot any
		if p.Screenshot != "" && len(snap.Screenshot) > 0 {
			shot = p.Screenshot
			cfg, err := png.DecodeConfig(bytes.NewReader(snap.Screenshot))
			if err != nil {
				return fmt.Errorf("screenshot %s: %w", p.Screenshot, err)
			}
			// PNG is compressed already: it is stored as it is.
			if _, err := tx.ExecContext(ctx, `INSERT INTO screenshots (sha256, width, height, size, png) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
				p.Screenshot, cfg.Width, cfg.Height, len(snap.Screenshot), snap.Screenshot); err != nil {
				return fmt.Errorf("screenshot: %w", err)
			}
		}
		fetched := p.FetchedAt
		if fetched.IsZero() {
			fetched = now
		}
		judged, violated := decisionOf(snap, vs)
		if _, err := tx.ExecContext(ctx, `INSERT INTO pages (scan_id, affiliate_id, url, final_url, status, fetch_status, fetch_error,
				fetched_at, content_sha256, etag, last_modified, findings, doc, eval_errors, policy_revision, judged_rules, violated_rules,
				screenshot_sha256)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (scan_id, affiliate_id, url) DO UPDATE SET final_url = excluded.final_url, status = excluded.status,
				fetch_status = excluded.fetch_status, fetch_error = excluded.fetch_error, fetched_at = excluded.fetched_at,
				content_sha256 = excluded.content_sha256, etag = excluded.etag, last_modified = excluded.last_modified,
				findings = excluded.findings, doc = excluded.doc, eval_errors = excluded.eval_errors,
				policy_revision = excluded.policy_revision, judged_rules = excluded.judged_rules, violated_rules = excluded.violated_rules,
				screenshot_sha256 = excluded.screenshot_sha256`,
			scanID, p.Affiliate.ID, p.URL, p.FinalURL, p.Status, p.FetchStatus, p.FetchError, fmtTime(fetched), sha,
			snap.ETag, snap.LastModified, len(vs), doc, snap.EvalErrors, snap.PolicyRevision, judged, violated, shot); err != nil {
			return fmt.Errorf("page: %w", err)
		}
		if !p.FetchStatus.Verified() {
			return nil // an unverified page changes no violation
		}
		seen, err := s.sight(ctx, tx, scanID, now, vs, &out)
		if err != nil {
			return err
		}
		where, args := `source = ? AND affiliate_id = ? AND url = ?`, []any{affwatch.SourcePolicy, p.Affiliate.ID, p.URL}
		if snap.Judged != nil {
			if len(snap.Judged) == 0 {
				return nil // no rule judged the page
			}
			where += ` AND rule_id IN (` + placeholders(len(snap.Judged)) + `)`
			for _, id := range snap.Judged {
				args = append(args, id)
			}
		}
		return s.resolveAbsent(ctx, tx, scanID, now, seen, &out, where, args...)
	})
	return out, err
}

// decisionOf is a page's decision record as stored: the rules that judged it (a JSON
// array, NULL when none did) and those of them that found something (a JSON array).
func decisionOf(snap affwatch.Snapshot, vs []affwatch.Violation) (judged any, violated string) {
	if snap.Judged != nil && snap.Page.FetchStatus.Verified() {
		ids := slices.Sorted(slices.Values(snap.Judged))
		b, _ := json.Marshal(ids)
		judged = string(b)
	}
	var ids []string
	for _, v := range vs {
		if !slices.Contains(ids, v.RuleID) {
			ids = append(ids, v.RuleID)
		}
	}
	slices.Sort(ids)
	b, _ := json.Marshal(append([]string{}, ids...))
	return judged, string(b)
}

// PageDecisions are the decision records of a URL, newest scan first: every scan's fetch
// status, policy revision, rules judged and rules that found something on it.
func (s *SQLite) PageDecisions(ctx context.Context, pageURL string, limit int) ([]affwatch.PageDecision, error) {
	if limit <= 0 {
		limit = 50
	}
	rows, err := s.db.QueryContext(ctx, `SELECT p.scan_id, s.started, p.affiliate_id, p.url, p.fetch_status, p.fetch_error,
			p.fetched_at, p.policy_revision, p.judged_rules, p.violated_rules, p.eval_errors, p.findings
		FROM pages p JOIN scans s ON s.id = p.scan_id
		WHERE p.url = ? OR p.final_url = ?
		ORDER BY p.scan_id DESC, p.affiliate_id LIMIT ?`, pageURL, pageURL, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []affwatch.PageDecision
	for rows.Next() {
		var (
			d                   affwatch.PageDecision
			started, fetched    sql.NullString
			judged              sql.NullString
			violated, fetchStat string
		)
		if err := rows.Scan(&d.ScanID, &started, &d.AffiliateID, &d.URL, &fetchStat, &d.FetchError, &fetched,
			&d.PolicyRevision, &judged, &violated, &d.EvalErrors, &d.Findings); err != nil {
			return nil, err
		}
		d.FetchStatus = affwatch.FetchStatus(fetchStat)
		d.ScanStarted, d.FetchedAt = parseTime(started), parseTime(fetched)
		if judged.Valid {
			if err := json.Unmarshal([]byte(judged.String), &d.Judged); err != nil {
				return nil, fmt.Errorf("page %s in scan %d: judged_rules: %w", d.URL, d.ScanID, err)
			}
		}
		if err := json.Unmarshal([]byte(violated), &d.Violated); err != nil {
			return nil, fmt.Errorf("page %s in scan %d: violated_rules: %w", d.URL, d.ScanID, err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

var _ affwatch.PageDecisions = (*SQLite)(nil)

// SaveDetections stores a detector run's violations and resolves the active detector
// violations it did not find again.
func (s *SQLite) SaveDetections(ctx context.Context, scanID int64, vs []affwatch.Violation) (affwatch.PageOutcome, error) {
	return s.saveRun(ctx, scanID, vs, affwatch.SourceDetector)
}

// saveRun stores the violations of a run that judges everything of one source at once
// (the detectors, the joined rules) and resolves the active violations of that source it
// did not find again, in one transaction.
func (s *SQLite) saveRun(ctx context.Context, scanID int64, vs []affwatch.Violation, source affwatch.Source) (affwatch.PageOutcome, error) {
	now := s.Now()
	var out affwatch.PageOutcome
	err := s.tx(ctx, func(tx *sql.Tx) error {
		seen, err := s.sight(ctx, tx, scanID, now, vs, &out)
		if err != nil {
			return err
		}
		return s.resolveAbsent(ctx, tx, scanID, now, seen, &out, `source = ?`, source)
	})
	return out, err
}

// sight inserts or advances each violation found in this scan and returns the set of
// fingerprints seen.
func (s *SQLite) sight(ctx context.Context, tx *sql.Tx, scanID int64, now time.Time, vs []affwatch.Violation, out *affwatch.PageOutcome) (map[string]bool, error) {
	seen := make(map[string]bool, len(vs))
	for _, v := range vs {
		if seen[v.Fingerprint] {
			continue // the same finding twice on one page is one violation
		}
		seen[v.Fingerprint] = true
		out.Seen++
		cur, err := getViolation(ctx, tx, v.Fingerprint)
		switch {
		case errors.Is(err, affwatch.ErrNotFound):
			v.FirstSeen, v.LastSeen, v.FirstScan, v.LastScan = now, now, scanID, scanID
			if v.State != affwatch.StateSuppressed {
				v.State = affwatch.StateNew
			}
			if err := insertViolation(ctx, tx, v); err != nil {
				return nil, err
			}
			if err := addEvent(ctx, tx, v.Fingerprint, scanID, now, "", v.State, v.SuppressReason); err != nil {
				return nil, err
			}
			if v.State == affwatch.StateSuppressed {
				out.Suppressed++
			} else {
				out.New++
			}
		case err != nil:
			return nil, err
		default:
			next := cur.Sighted(v, scanID, now)
			if err := updateViolation(ctx, tx, next); err != nil {
				return nil, err
			}
			if next.State != cur.State {
				if err := addEvent(ctx, tx, v.Fingerprint, scanID, now, cur.State, next.State, next.SuppressReason); err != nil {
					return nil, err
				}
				switch next.State {
				case affwatch.StateReopened:
					out.Reopened++
				case affwatch.StateSuppressed:
					out.Suppressed++
				}
			}
		}
	}
	return seen, nil
}

// resolveAbsent resolves the active violations selected by where that were not seen.
func (s *SQLite) resolveAbsent(ctx context.Context, tx *sql.Tx, scanID int64, now time.Time, seen map[string]bool,
	out *affwatch.PageOutcome, where string, args ...any) error {
	rows, err := tx.QueryContext(ctx, selectViolation+` WHERE state != 'resolved' AND `+where, args...)
	if err != nil {
		return err
	}
	var gone []affwatch.Violation
	for rows.Next() {
		v, err := scanViolation(rows)
		if err != nil {
			rows.Close()
			return err
		}
		if !seen[v.Fingerprint] && v.Resolvable(now) {
			gone = append(gone, v)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, v := range gone {
		if _, err := tx.ExecContext(ctx, `UPDATE violations SET state = 'resolved', resolved_at = ? WHERE fingerprint = ?`,
			fmtTime(now), v.Fingerprint); err != nil {
			return err
		}
		if err := addEvent(ctx, tx, v.Fingerprint, scanID, now, v.State, affwatch.StateResolved, ""); err != nil {
			return err
		}
		out.Resolved++
	}
	return nil
}

func addEvent(ctx context.Context, tx *sql.Tx, fp string, scanID int64, at time.Time, from, to affwatch.State, note string) error {
	var scan any
	if scanID > 0 {
		scan = scanID
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO violation_events (fingerprint, scan_id, at, from_state, to_state, note) VALUES (?, ?, ?, ?, ?, ?)`,
		fp, scan, fmtTime(at), from, to, note)
	return err
}

const selectViolation = `SELECT fingerprint, rule_id, source, severity, title, message, remediation, advisory, evidence,
	affiliate_id, program_id, url, policy_revision, first_seen, last_seen, first_scan, last_scan, state, resolved_at,
	suppress_reason, suppressed_by, suppress_until FROM violations`

type rowScanner interface{ Scan(...any) error }

func scanViolation(r rowScanner) (affwatch.Violation, error) {
	var (
		v                            affwatch.Violation
		evidence                     string
		first, last, resolved, until sql.NullString
		advisory                     bool
	)
	err := r.Scan(&v.Fingerprint, &v.RuleID, &v.Source, &v.Severity, &v.Title, &v.Message, &v.Remediation, &advisory, &evidence,
		&v.AffiliateID, &v.ProgramID, &v.URL, &v.PolicyRevision, &first, &last, &v.FirstScan, &v.LastScan, &v.State, &resolved,
		&v.SuppressReason, &v.SuppressedBy, &until)
	if err != nil {
		return v, err
	}
	v.Advisory = advisory
	if err := json.Unmarshal([]byte(evidence), &v.Evidence); err != nil {
		return v, fmt.Errorf("violation %s: evidence: %w", v.Fingerprint, err)
	}
	v.FirstSeen, v.LastSeen, v.ResolvedAt, v.SuppressUntil = parseTime(first), parseTime(last), parseTime(resolved), parseTime(until)
	return v, nil
}

func getViolation(ctx context.Context, tx *sql.Tx, fp string) (affwatch.Violation, error) {
	v, err := scanViolation(tx.QueryRowContext(ctx, selectViolation+` WHERE fingerprint = ?`, fp))
	if errors.Is(err, sql.ErrNoRows) {
		return v, affwatch.ErrNotFound
	}
	return v, err
}

func insertViolation(ctx context.Context, tx *sql.Tx, v affwatch.Violation) error {
	ev, err := json.Marshal(v.Evidence)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO violations (fingerprint, rule_id, source, severity, title, message, remediation,
		advisory, evidence, affiliate_id, program_id, url, policy_revision, first_seen, last_seen, first_scan, last_scan, state,
		resolved_at, suppress_reason, suppressed_by, suppress_until)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.Fingerprint, v.RuleID, v.Source, v.Severity, v.Title, v.Message, v.Remediation, v.Advisory, string(ev),
		v.AffiliateID, v.ProgramID, v.URL, v.PolicyRevision, fmtTime(v.FirstSeen), fmtTime(v.LastSeen), v.FirstScan, v.LastScan,
		v.State, nullTime(v.ResolvedAt), v.SuppressReason, v.SuppressedBy, nullTime(v.SuppressUntil))
	if err != nil {
		return fmt.Errorf("violation %s (%s): %w", v.Fingerprint, v.RuleID, err)
	}
	return nil
}

func updateViolation(ctx context.Context, tx *sql.Tx, v affwatch.Violation) error {
	ev, err := json.Marshal(v.Evidence)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE violations SET severity = ?, title = ?, message = ?, remediation = ?, advisory = ?,
		evidence = ?, policy_revision = ?, last_seen = ?, last_scan = ?, state = ?, resolved_at = ?, suppress_reason = ?,
		suppressed_by = ?, suppress_until = ? WHERE fingerprint = ?`,
		v.Severity, v.Title, v.Message, v.Remediation, v.Advisory, string(ev), v.PolicyRevision, fmtTime(v.LastSeen), v.LastScan,
		v.State, nullTime(v.ResolvedAt), v.SuppressReason, v.SuppressedBy, nullTime(v.SuppressUntil), v.Fingerprint)
	return err
}

// FinishScan closes a scan with its status; its counts are derived from what was stored,
// so they are right even for a scan that a crash interrupted.
func (s *SQLite) FinishScan(ctx context.Context, scanID int64, status affwatch.ScanStatus, errText string) (affwatch.Scan, error) {
	_, err := s.db.ExecContext(ctx, `UPDATE scans SET status = ?, finished = ?, error = ? WHERE id = ?`,
		status, fmtTime(s.Now()), errText, scanID)
	if err != nil {
		return affwatch.Scan{}, err
	}
	return s.Scan(ctx, scanID)
}

// Scan returns one scan with its counts.
func (s *SQLite) Scan(ctx context.Context, id int64) (affwatch.Scan, error) {
	scans, err := s.scans(ctx, `WHERE s.id = ?`, id)
	if err != nil {
		return affwatch.Scan{}, err
	}
	if len(scans) == 0 {
		return affwatch.Scan{}, fmt.Errorf("scan %d: %w", id, affwatch.ErrNotFound)
	}
	return scans[0], nil
}

// Scans returns the latest scans, newest first.
func (s *SQLite) Scans(ctx context.Context, limit int) ([]affwatch.Scan, error) {
	if limit <= 0 {
		limit = 20
	}
	return s.scans(ctx, `ORDER BY s.id DESC LIMIT ?`, limit)
}

func (s *SQLite) scans(ctx context.Context, tail string, args ...any) ([]affwatch.Scan, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT s.id, s.kind, s.started, s.finished, s.status, s.error,
		(SELECT count(*) FROM pages p WHERE p.scan_id = s.id),
		(SELECT count(*) FROM pages p WHERE p.scan_id = s.id AND p.fetch_status IN ('ok', 'not_modified')),
		(SELECT coalesce(sum(p.findings), 0) FROM pages p WHERE p.scan_id = s.id),
		(SELECT count(*) FROM violation_events e WHERE e.scan_id = s.id AND e.to_state = 'new'),
		(SELECT count(*) FROM violation_events e WHERE e.scan_id = s.id AND e.to_state = 'reopened'),
		(SELECT count(*) FROM violation_events e WHERE e.scan_id = s.id AND e.to_state = 'resolved'),
		(SELECT count(*) FROM violation_events e WHERE e.scan_id = s.id AND e.to_state = 'suppressed')
		FROM scans s `+tail, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []affwatch.Scan
	for rows.Next() {
		var (
			sc                affwatch.Scan
			started, finished sql.NullString
			c                 = &sc.Counts
		)
		if err := rows.Scan(&sc.ID, &sc.Kind, &started, &finished, &sc.Status, &sc.Error,
			&c.Pages, &c.Verified, &c.Findings, &c.New, &c.Reopened, &c.Resolved, &c.Suppressed); err != nil {
			return nil, err
		}
		c.Failed = c.Pages - c.Verified
		sc.Started, sc.Finished = parseTime(started), parseTime(finished)
		out = append(out, sc)
	}
	return out, rows.Err()
}

// Violations returns the violations the filter selects, most severe first.
func (s *SQLite) Violations(ctx context.Context, f affwatch.ViolationFilter) ([]affwatch.Violation, error) {
	var (
		where []string
		args  []any
	)
	if len(f.AffiliateIDs) > 0 {
		where = append(where, `affiliate_id IN (`+placeholders(len(f.AffiliateIDs))+`)`)
		for _, id := range f.AffiliateIDs {
			args = append(args, id)
		}
	}
	if f.RuleID != "" {
		where, args = append(where, `rule_id = ?`), append(args, f.RuleID)
	}
	if f.MinSeverity > 0 {
		where, args = append(where, `severity >= ?`), append(args, f.MinSeverity)
	}
	if len(f.States) > 0 {
		where = append(where, `state IN (`+placeholders(len(f.States))+`)`)
		for _, st := range f.States {
			args = append(args, st)
		}
	}
	if f.Source != "" {
		where, args = append(where, `source = ?`), append(args, f.Source)
	}
	if !f.Since.IsZero() {
		where, args = append(where, `last_seen >= ?`), append(args, fmtTime(f.Since))
	}
	q := selectViolation
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY severity DESC, affiliate_id, rule_id, url, fingerprint`
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []affwatch.Violation
	for rows.Next() {
		v, err := scanViolation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

// Snapshot returns the HTML stored for a content hash.
func (s *SQLite) Snapshot(ctx context.Context, sha string) ([]byte, error) {
	var z []byte
	err := s.db.QueryRowContext(ctx, `SELECT html FROM snapshots WHERE sha256 = ?`, sha).Scan(&z)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("snapshot %s: %w", sha, affwatch.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return gunzip(z)
}

// Screenshot returns the PNG stored for a screenshot hash (a page's Screenshot, a
// violation's Evidence.Screenshot).
func (s *DB) Screenshot(ctx context.Context, sha string) ([]byte, error) {
	var b []byte
	err := s.db.QueryRowContext(ctx, `SELECT png FROM screenshots WHERE sha256 = ?`, sha).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("screenshot %s: %w", sha, affwatch.ErrNotFound)
	}
	return b, err
}

// Pages returns the Page documents stored for a scan, in the order they were saved.
func (s *SQLite) Pages(ctx context.Context, scanID int64) ([]affwatch.Page, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT doc FROM pages WHERE scan_id = ? ORDER BY id`, scanID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []affwatch.Page
	for rows.Next() {
		var z []byte
		if err := rows.Scan(&z); err != nil {
			return nil, err
		}
		raw, err := gunzip(z)
		if err != nil {
			return nil, err
		}
		var p affwatch.Page
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func gzipJSON(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return gzipBytes(raw)
}

func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func gunzip(z []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	return io.ReadAll(zr)
}
