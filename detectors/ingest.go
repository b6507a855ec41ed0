// Package detectors loads click and conversion logs and finds fraud in them with
// statistics: each detector compares an affiliate with the program's other affiliates and
// with its own history, and every finding carries the numbers behind it.
package detectors

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/affwatch/affwatch"
)

// EventStore is the part of the store that ingest writes to.
type EventStore interface {
	AddClicks(ctx context.Context, cs []affwatch.Click) (int, error)
	AddConversions(ctx context.Context, cs []affwatch.Conversion) (int, error)
}

// Reject is a row that could not be loaded, and why.
type Reject struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Reason string `json:"reason"`
	Row    string `json:"row,omitempty"`
}

func (r Reject) String() string { return fmt.Sprintf("%s:%d: %s", r.File, r.Line, r.Reason) }

// IngestResult counts what one file gave.
type IngestResult struct {
	File       string `json:"file"`
	Rows       int    `json:"rows"`
	Loaded     int    `json:"loaded"`
	Duplicates int    `json:"duplicates"`
	Rejected   int    `json:"rejected"`
	// Skipped are rows the mapping leaves out quietly (an empty "column?").
	Skipped int `json:"skipped"`
	// Rejects are the first rejected rows (all of them go to IngestOptions.OnReject).
	Rejects []Reject `json:"rejects,omitempty"`
}

// keptRejects is how many rejected rows a result keeps in memory: a file of nothing but
// bad rows must not fill memory either.
const keptRejects = 100

// IngestOptions set how a file is read.
type IngestOptions struct {
	// Mapping renames the file's columns (or JSON keys) to the canonical ones.
	Mapping Mapping
	// OnReject, when set, receives every rejected row as it is met (to write a reject file).
	OnReject func(Reject) error
}

// Mapping renames source columns to affwatch's canonical ones (canonical -> source).
// Two forms serve exports that lack a column: "@row" is an id made of the file's name and
// the row's line (stable, so loading the file again changes nothing), and a trailing "?"
// ("attributed_time?") means a row where that column is empty is skipped, not rejected
// (a click log that is also the conversion log: the rows that did not convert).
type Mapping map[string]string

// RowID is the mapping value that makes an id from the file and line.
const RowID = "@row"

// source returns the source column of a canonical one and whether an empty value skips
// the row.
func (m Mapping) source(canonical string) (col string, optional bool) {
	col = canonical
	if v := m[canonical]; v != "" {
		col = v
	}
	if strings.HasSuffix(col, "?") {
		return strings.TrimSuffix(col, "?"), true
	}
	return col, false
}

// batchSize is how many rows go into one insert transaction.
const batchSize = 5000

// record is one row, by canonical column name.
type record func(col string) string

// ClickColumns and ConversionColumns are the canonical schemas.
var (
	ClickColumns      = []string{"click_id", "ts", "affiliate_id", "sub_id", "ip", "user_agent", "referrer", "country", "landing_url"}
	ConversionColumns = []string{"conversion_id", "click_id", "ts", "affiliate_id", "order_id", "amount", "currency", "commission", "status"}
)

// IngestClicks streams a CSV (with header) or JSON Lines file of clicks into the store.
// Bad rows are returned as rejects with their line; the rest loads.
func IngestClicks(ctx context.Context, st EventStore, name string, r io.Reader, opt IngestOptions) (IngestResult, error) {
	return ingest(ctx, name, r, opt, parseClick, st.AddClicks)
}

// IngestConversions streams a CSV or JSON Lines file of conversions into the store.
func IngestConversions(ctx context.Context, st EventStore, name string, r io.Reader, opt IngestOptions) (IngestResult, error) {
	return ingest(ctx, name, r, opt, parseConversion, st.AddConversions)
}

// ingest parses each row of a file and adds the good ones to the store in batches.
func ingest[T any](ctx context.Context, name string, r io.Reader, opt IngestOptions, parse func(record) (T, error),
	add func(context.Context, []T) (int, error)) (IngestResult, error) {
	var batch []T
	res := IngestResult{File: name}
	flush := func() error {
		n, err := add(ctx, batch)
		res.Loaded += n
		res.Duplicates += len(batch) - n
		batch = batch[:0]
		return err
	}
	m := opt.Mapping
	var optional []string // canonical columns whose emptiness skips the row
	rowIDs := false       // whether a column is made from the file and line
	for c, v := range m {
		if _, opt := m.source(c); opt {
			optional = append(optional, c)
		}
		rowIDs = rowIDs || v == RowID
	}
	base := path.Base(name)
	err := eachRecord(name, r, m, func(line int, raw record, bad error) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		res.Rows++
		rec := raw
		if rowIDs {
			rec = func(c string) string {
				if m[c] == RowID {
					return base + ":" + strconv.Itoa(line)
				}
				return raw(c)
			}
		}
		if bad == nil {
			for _, c := range optional {
				if strings.TrimSpace(rec(c)) == "" {
					res.Skipped++
					return nil
				}
			}
		}
		v, err := parse(rec)
		if bad != nil {
			err = bad
		}
		if err != nil {
			rej := Reject{File: name, Line: line, Reason: err.Error()}
			res.Rejected++
			if len(res.Rejects) < keptRejects {
				res.Rejects = append(res.Rejects, rej)
			}
			if opt.OnReject != nil {
				return opt.OnReject(rej)
			}
			return nil
		}
		batch = append(batch, v)
		if len(batch) >= batchSize {
			return flush()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = flush()
	}
	return res, err
}

// eachRecord reads CSV or JSON Lines (gzip or not, told apart by their first bytes) and
// calls fn with each row and its line number.
func eachRecord(name string, r io.Reader, m Mapping, fn func(line int, rec record, bad error) error) error {
	br := bufio.NewReaderSize(r, 1<<16)
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("%s: gzip: %w", name, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 1<<16)
	}
	first, _ := br.Peek(1)
	if len(first) == 1 && first[0] == '{' {
		return eachJSONL(name, br, m, fn)
	}
	return eachCSV(name, br, m, fn)
}

func eachCSV(name string, r io.Reader, m Mapping, fn func(int, record, error) error) error {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("%s:1: header: %w", name, err)
	}
	index := map[string]int{}
	for i, h := range header {
		index[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	// where maps each canonical column to its index in the file (absent columns: none).
	where := map[string]int{}
	for _, c := range append(append([]string{}, ClickColumns...), ConversionColumns...) {
		src, _ := m.source(c)
		if i, ok := index[strings.ToLower(src)]; ok {
			where[c] = i
		}
	}
	var row []string
	rec := func(c string) string {
		if i, ok := where[c]; ok && i < len(row) {
			return row[i]
		}
		return ""
	}
	for {
		fields, err := cr.Read()
		line, _ := cr.FieldPos(0)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				// a malformed row is rejected by the caller's count; keep reading
				row = nil
				if ferr := fn(pe.Line, rec, fmt.Errorf("malformed CSV: %w", pe.Err)); ferr != nil {
					return ferr
				}
				continue
			}
			return fmt.Errorf("%s: %w", name, err)
		}
		row = fields
		if err := fn(line, rec, nil); err != nil {
			return err
		}
	}
}

func eachJSONL(name string, r *bufio.Reader, m Mapping, fn func(int, record, error) error) error {
	line := 0
	for {
		raw, err := r.ReadBytes('\n')
		line++
		if len(strings.TrimSpace(string(raw))) > 0 {
			var obj map[string]any
			var bad error
			if jerr := json.Unmarshal(raw, &obj); jerr != nil {
				bad = fmt.Errorf("malformed JSON: %w", jerr)
			}
			rec := func(c string) string {
				c, _ = m.source(c)
				switch v := obj[c].(type) {
				case string:
					return v
				case float64:
					return strconv.FormatFloat(v, 'f', -1, 64)
				case nil:
					return ""
				default:
					return fmt.Sprint(v)
				}
			}
			if ferr := fn(line, rec, bad); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
	}
}

func parseClick(rec record) (affwatch.Click, error) {
	c := affwatch.Click{
		ClickID: strings.TrimSpace(rec("click_id")), AffiliateID: strings.TrimSpace(rec("affiliate_id")),
		SubID: rec("sub_id"), IP: strings.TrimSpace(rec("ip")), UserAgent: rec("user_agent"),
		Referrer: rec("referrer"), Country: rec("country"), LandingURL: rec("landing_url"),
	}
	if c.ClickID == "" {
		return c, errors.New("click_id is missing")
	}
	if c.AffiliateID == "" {
		return c, errors.New("affiliate_id is missing")
	}
	ts, err := ParseTime(rec("ts"))
	if err != nil {
		return c, fmt.Errorf("ts: %w", err)
	}
	c.TS = ts
	return c, nil
}

func parseConversion(rec record) (affwatch.Conversion, error) {
	c := affwatch.Conversion{
		ConversionID: strings.TrimSpace(rec("conversion_id")), ClickID: strings.TrimSpace(rec("click_id")),
		AffiliateID: strings.TrimSpace(rec("affiliate_id")), OrderID: strings.TrimSpace(rec("order_id")),
		Currency: strings.ToUpper(strings.TrimSpace(rec("currency"))), Status: strings.ToLower(strings.TrimSpace(rec("status"))),
	}
	if c.ConversionID == "" {
		return c, errors.New("conversion_id is missing")
	}
	if c.AffiliateID == "" {
		return c, errors.New("affiliate_id is missing")
	}
	ts, err := ParseTime(rec("ts"))
	if err != nil {
		return c, fmt.Errorf("ts: %w", err)
	}
	c.TS = ts
	for _, f := range []struct {
		col string
		dst *float64
	}{{"amount", &c.Amount}, {"commission", &c.Commission}} {
		v := strings.TrimSpace(rec(f.col))
		if v == "" {
			continue
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return c, fmt.Errorf("%s: %q is not a number", f.col, v)
		}
		*f.dst = x
	}
	return c, nil
}

// timeLayouts are the timestamp forms of common network exports, tried in order.
var timeLayouts = []string{
	time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04:05.000", "2006-01-02 15:04",
	"01/02/2006 15:04:05", "01/02/2006 15:04", "02.01.2006 15:04:05", "2006/01/02 15:04:05",
}

// ParseTime reads a timestamp in RFC 3339, a common export form (taken as UTC), or Unix
// seconds or milliseconds.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("empty timestamp")
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > 1e12 {
			return time.UnixMilli(n).UTC(), nil
		}
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a timestamp", s)
}
