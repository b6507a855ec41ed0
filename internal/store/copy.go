package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Moving an installation: Copy takes every row of one store (SQLite, say) into another
// (PostgreSQL), table by table in the order their foreign keys need, in ONE transaction
// of the target: a copy that fails leaves the target as it was, and can be run again.

// TableCount is one table's rows in the source and, after the copy, in the target.
type TableCount struct {
	Table  string `json:"table"`
	Source int64  `json:"source"`
	Target int64  `json:"target"`
}

// CopyOptions set how Copy treats the target.
type CopyOptions struct {
	// Replace empties the target's tables first (in the copy's transaction); without it a
	// target holding any row is refused.
	Replace bool
}

// ErrTargetNotEmpty is a copy refused because the target holds data already.
var ErrTargetNotEmpty = errors.New("the target store is not empty")

// notCopied are the tables a copy leaves alone: the schema's own bookkeeping, the locks
// (leases of processes running on the source, which would block the target's own) and
// click_keys and click_hours, which the target derives from its clicks.
var notCopied = []string{"schema_migrations", "locks", "click_keys", "click_hours"}

// derivedColumns are source columns the target may lack: storage details of one dialect.
var derivedColumns = map[string][]string{
	"clicks": {"id"}, // SQLite's rowid order; PostgreSQL keeps clicks by day
}

// Copy copies every row of src into dst and checks that each table holds as many rows in
// dst as in src before committing. Both stores must be at the same schema version (opening
// them migrates both to this affwatch's). The source is read in one transaction, so the
// copy is one consistent moment of it.
func Copy(ctx context.Context, src, dst *DB, opt CopyOptions) ([]TableCount, error) {
	if src.dialect == dst.dialect && src.path == dst.path {
		return nil, errors.New("the source and the target are the same store")
	}
	srcTables, err := src.copyTables(ctx)
	if err != nil {
		return nil, fmt.Errorf("source tables: %w", err)
	}
	dstTables, err := dst.copyTables(ctx)
	if err != nil {
		return nil, fmt.Errorf("target tables: %w", err)
	}
	order, err := dst.fkOrder(ctx, dstTables)
	if err != nil {
		return nil, err
	}
	for _, t := range srcTables {
		if !slices.Contains(dstTables, t) {
			return nil, fmt.Errorf("table %s of the source is not in the target: run the same affwatch version on both", t)
		}
	}
	order = slices.DeleteFunc(order, func(t string) bool { return !slices.Contains(srcTables, t) })

	// The source's one moment: a read transaction (SQLite's holds its write lock, so no
	// writer changes it during the copy; PostgreSQL's is a repeatable-read snapshot).
	var txOpt *sql.TxOptions
	if src.dialect == dialectPostgres {
		txOpt = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	stx, err := src.db.BeginTx(ctx, txOpt)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	defer stx.Rollback()

	w, err := dst.beginCopy(ctx)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	defer w.rollback()
	counts := make([]TableCount, 0, len(order))
	for _, t := range order {
		n, err := w.count(t)
		if err != nil {
			return nil, fmt.Errorf("target %s: %w", t, err)
		}
		if n > 0 && !opt.Replace {
			return nil, fmt.Errorf("%w: table %s holds %d rows (copy into an empty store, or empty it first with --replace)", ErrTargetNotEmpty, t, n)
		}
	}
	if opt.Replace {
		if err := w.empty(order); err != nil {
			return nil, fmt.Errorf("empty the target: %w", err)
		}
	}
	for _, t := range order {
		cols, err := copyColumns(ctx, stx, src, dst, t)
		if err != nil {
			return nil, err
		}
		var want int64
		if err := stx.QueryRowContext(ctx, `SELECT count(*) FROM `+quoteIdent(t)).Scan(&want); err != nil {
			return nil, fmt.Errorf("source %s: %w", t, err)
		}
		if t == "clicks" && dst.dialect == dialectPostgres {
			if err := w.clickDays(ctx, stx); err != nil {
				return nil, err
			}
		}
		rows, err := stx.QueryContext(ctx, `SELECT `+joinIdents(cols)+` FROM `+quoteIdent(t))
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", t, err)
		}
		err = w.load(ctx, t, cols, rows)
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("copy %s: %w", t, err)
		}
		got, err := w.count(t)
		if err != nil {
			return nil, fmt.Errorf("target %s: %w", t, err)
		}
		counts = append(counts, TableCount{Table: t, Source: want, Target: got})
		if got != want {
			return counts, fmt.Errorf("copy %s: the target holds %d rows, the source %d: nothing was copied", t, got, want)
		}
	}
	if err := w.finish(ctx, order); err != nil {
		return counts, err
	}
	return counts, nil
}

// copyTables lists the store's tables that a copy moves.
func (s *DB) copyTables(ctx context.Context) ([]string, error) {
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`
	if s.dialect == dialectPostgres {
		// Partitions are their parent's rows; River's tables are the job queue's own state.
		q = `SELECT c.relname FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace
			AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname NOT LIKE 'river%' ORDER BY 1`
	}
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		if !slices.Contains(notCopied, t) {
			out = append(out, t)
		}
	}
	return out, rows.Err()
}

// fkOrder orders tables so that each comes after the tables its foreign keys name.
func (s *DB) fkOrder(ctx context.Context, tables []string) ([]string, error) {
	deps := map[string][]string{}
	for _, t := range tables {
		var (
			rows *sql.Rows
			err  error
		)
		if s.dialect == dialectPostgres {
			rows, err = s.db.QueryContext(ctx, `SELECT DISTINCT f.relname FROM pg_constraint k JOIN pg_class f ON f.oid = k.confrelid
				WHERE k.contype = 'f' AND k.conrelid = ?::regclass`, t)
		} else {
			rows, err = s.db.QueryContext(ctx, `SELECT DISTINCT "table" FROM pragma_foreign_key_list(?)`, t)
		}
		if err != nil {
			return nil, fmt.Errorf("foreign keys of %s: %w", t, err)
		}
		for rows.Next() {
			var d string
			if err := rows.Scan(&d); err != nil {
				rows.Close()
				return nil, err
			}
			if d != t {
				deps[t] = append(deps[t], d)
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, err
		}
	}
	var order []string
	done := map[string]bool{}
	var visit func(t string, path []string) error
	visit = func(t string, path []string) error {
		if done[t] {
			return nil
		}
		if slices.Contains(path, t) {
			return fmt.Errorf("foreign keys form a cycle: %s", strings.Join(append(path, t), " -> "))
		}
		for _, d := range deps[t] {
			if err := visit(d, append(path, t)); err != nil {
				return err
			}
		}
		done[t] = true
		order = append(order, t)
		return nil
	}
	for _, t := range tables {
		if err := visit(t, nil); err != nil {
			return nil, err
		}
	}
	return slices.DeleteFunc(order, func(t string) bool { return !slices.Contains(tables, t) }), nil
}

// copyColumns are the columns of table t a copy moves: the source's, each of which the
// target must have (but for derivedColumns).
func copyColumns(ctx context.Context, stx *sql.Tx, src, dst *DB, t string) ([]string, error) {
	srcCols, err := src.columns(ctx, stx, t)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", t, err)
	}
	dstCols, err := dst.columns(ctx, nil, t)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", t, err)
	}
	var cols []string
	for _, c := range srcCols {
		switch {
		case slices.Contains(dstCols, c):
			cols = append(cols, c)
		case !slices.Contains(derivedColumns[t], c):
			return nil, fmt.Errorf("column %s.%s of the source is not in the target: run the same affwatch version on both", t, c)
		}
	}
	return cols, nil
}

// columns lists a table's columns (through tx when not nil).
func (s *DB) columns(ctx context.Context, tx *sql.Tx, t string) ([]string, error) {
	q := `SELECT name FROM pragma_table_info(?) ORDER BY cid`
	if s.dialect == dialectPostgres {
		q = `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position`
	}
	var (
		rows *sql.Rows
		err  error
	)
	if tx != nil {
		rows, err = tx.QueryContext(ctx, q, t)
	} else {
		rows, err = s.db.QueryContext(ctx, q, t)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func joinIdents(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = quoteIdent(c)
	}
	return strings.Join(q, ", ")
}

// copyWriter writes a copy into the target, in one transaction.
type copyWriter interface {
	count(table string) (int64, error)
	empty(tables []string) error
	clickDays(ctx context.Context, src *sql.Tx) error
	load(ctx context.Context, table string, cols []string, rows *sql.Rows) error
	finish(ctx context.Context, tables []string) error
	rollback()
}

func (s *DB) beginCopy(ctx context.Context) (copyWriter, error) {
	if s.dialect == dialectPostgres {
		tx, err := s.pool.Begin(ctx)
		if err != nil {
			return nil, err
		}
		w := &pgCopy{ctx: ctx, tx: tx}
		// The partitions' DDL and the bulk load take the lock that creating partitions
		// does, so a process ingesting at the same time waits instead of failing.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, partitionLock); err != nil {
			tx.Rollback(ctx)
			return nil, err
		}
		return w, nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &sqlCopy{ctx: ctx, tx: tx}, nil
}

// pgCopy writes into PostgreSQL with COPY.
type pgCopy struct {
	ctx context.Context
	tx  pgx.Tx
}

func (w *pgCopy) count(t string) (int64, error) {
	var n int64
	err := w.tx.QueryRow(w.ctx, `SELECT count(*) FROM `+quoteIdent(t)).Scan(&n)
	return n, err
}

func (w *pgCopy) empty(tables []string) error {
	_, err := w.tx.Exec(w.ctx, `TRUNCATE `+joinIdents(append(slices.Clone(tables), "click_keys"))+` RESTART IDENTITY`)
	return err
}

// clickDays creates the partitions of the days the source's clicks fall on.
func (w *pgCopy) clickDays(ctx context.Context, src *sql.Tx) error {
	rows, err := src.QueryContext(ctx, `SELECT DISTINCT ts / ? FROM clicks`, dayMillis)
	if err != nil {
		return fmt.Errorf("source clicks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var d int64
		if err := rows.Scan(&d); err != nil {
			return err
		}
		if _, err := w.tx.Exec(ctx, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s PARTITION OF clicks FOR VALUES FROM (%d) TO (%d)`,
			dayPartition(d), d*dayMillis, (d+1)*dayMillis)); err != nil {
			return fmt.Errorf("clicks partition: %w", err)
		}
	}
	return rows.Err()
}

func (w *pgCopy) load(ctx context.Context, t string, cols []string, rows *sql.Rows) error {
	types := map[string]string{}
	r, err := w.tx.Query(ctx, `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1`, t)
	if err != nil {
		return err
	}
	for r.Next() {
		var c, ty string
		if err := r.Scan(&c, &ty); err != nil {
			r.Close()
			return err
		}
		types[c] = ty
	}
	r.Close()
	if err := r.Err(); err != nil {
		return err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	line := 0
	_, err = w.tx.CopyFrom(ctx, pgx.Identifier{t}, cols, &copyState{next: func() ([]any, error) {
		if !rows.Next() {
			return nil, rows.Err()
		}
		line++
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, c := range cols {
			v, err := pgValue(vals[i], types[c])
			if err != nil {
				return nil, fmt.Errorf("row %d, column %s: %w", line, c, err)
			}
			vals[i] = v
		}
		return vals, nil
	}})
	if err == nil && t == "clicks" {
		_, err = w.tx.Exec(ctx, `INSERT INTO click_keys (click_id, ts) SELECT click_id, ts FROM clicks`)
	}
	return err
}

// pgValue converts a value read from the source to what the target column of type ty
// takes: SQLite keeps booleans as integers and may return text as bytes.
func pgValue(v any, ty string) (any, error) {
	switch x := v.(type) {
	case int64:
		if ty == "boolean" {
			return x != 0, nil
		}
		if ty == "double precision" || ty == "real" {
			return float64(x), nil
		}
	case []byte:
		if ty == "text" {
			return string(x), nil
		}
	case string:
		if ty == "bytea" {
			return []byte(x), nil
		}
	}
	return v, nil
}

// finish sets each identity column's next value past the ids copied, and commits.
func (w *pgCopy) finish(ctx context.Context, tables []string) error {
	// click_hours is not copied: the target counts the clicks it took per affiliate and hour.
	for _, q := range recountClickHours {
		if _, err := w.tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("click_hours: %w", err)
		}
	}
	for _, t := range tables {
		var col string
		err := w.tx.QueryRow(ctx, `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()
			AND table_name = $1 AND is_identity = 'YES'`, t).Scan(&col)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return err
		}
		if _, err := w.tx.Exec(ctx, fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('%s', '%s'), coalesce(max(%s), 0) + 1, false) FROM %s`,
			t, col, quoteIdent(col), quoteIdent(t))); err != nil {
			return fmt.Errorf("identity of %s: %w", t, err)
		}
	}
	return w.tx.Commit(ctx)
}

func (w *pgCopy) rollback() { w.tx.Rollback(context.WithoutCancel(w.ctx)) }

// copyState is a pgx.CopyFromSource of a function that returns nil at the end.
type copyState struct {
	next func() ([]any, error)
	row  []any
	err  error
}

func (c *copyState) Next() bool {
	c.row, c.err = c.next()
	return c.row != nil && c.err == nil
}
func (c *copyState) Values() ([]any, error) { return c.row, c.err }
func (c *copyState) Err() error             { return c.err }

// sqlCopy writes into SQLite with prepared inserts.
type sqlCopy struct {
	ctx context.Context
	tx  *sql.Tx
}

func (w *sqlCopy) count(t string) (int64, error) {
	var n int64
	err := w.tx.QueryRowContext(w.ctx, `SELECT count(*) FROM `+quoteIdent(t)).Scan(&n)
	return n, err
}

func (w *sqlCopy) empty(tables []string) error {
	for _, t := range slices.Backward(tables) {
		if _, err := w.tx.ExecContext(w.ctx, `DELETE FROM `+quoteIdent(t)); err != nil {
			return err
		}
	}
	return nil
}

func (w *sqlCopy) clickDays(context.Context, *sql.Tx) error { return nil }

func (w *sqlCopy) load(ctx context.Context, t string, cols []string, rows *sql.Rows) error {
	st, err := w.tx.PrepareContext(ctx, `INSERT INTO `+quoteIdent(t)+` (`+joinIdents(cols)+`) VALUES (`+placeholders(len(cols))+`)`)
	if err != nil {
		return err
	}
	defer st.Close()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for line := 1; rows.Next(); line++ {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if _, err := st.ExecContext(ctx, vals...); err != nil {
			return fmt.Errorf("row %d: %w", line, err)
		}
	}
	return rows.Err()
}

// finish counts the copied clicks per affiliate and hour (click_hours, which AddClicks
// keeps and a copy does not carry) before committing.
func (w *sqlCopy) finish(ctx context.Context, _ []string) error {
	for _, q := range recountClickHours {
		if _, err := w.tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("click_hours: %w", err)
		}
	}
	return w.tx.Commit()
}
func (w *sqlCopy) rollback() { w.tx.Rollback() }
