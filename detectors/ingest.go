// Package detectors loads click and conversion logs and finds fraud in them with
// statistics: each detector compares an affiliate with the program's other affiliates and
// with its own history, and every finding carries the numbers behind it.
package detectors

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/affwatch/affwatch"
)

// EventStore is the part of the store that ingest writes to.
type EventStore interface {
	AddClicks(ctx context.Context, cs []affwatch.Click) (int, error)
	AddConversions(ctx context.Context, cs []affwatch.Conversion) (int, error)
	// ClicksByID and ConversionsByID return the stored events with these ids: ingest
	// compares a row whose id is already stored with the stored one.
	ClicksByID(ctx context.Context, ids []string) ([]affwatch.Click, error)
	ConversionsByID(ctx context.Context, ids []string) ([]affwatch.Conversion, error)
}

// Reject is a row that could not be loaded, and why.
type Reject struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Reason string `json:"reason"`
	// Conflict marks a row whose id is already stored with other values: the stored row
	// stands, and the reason says what differs.
	Conflict bool `json:"conflict,omitempty"`
}

func (r Reject) String() string { return fmt.Sprintf("%s:%d: %s", r.File, r.Line, r.Reason) }

// IngestResult counts what one file gave. Every row is counted once: Rows is the sum of
// Loaded, Duplicates, Conflicts, Rejected and Skipped.
type IngestResult struct {
	File   string `json:"file"`
	Rows   int    `json:"rows"`
	Loaded int    `json:"loaded"`
	// Duplicates are rows stored before with the same values (loading a file again).
	Duplicates int `json:"duplicates"`
	// Conflicts are rows whose id is stored with other values: not loaded, and reported
	// like rejects (to OnReject, with Reject.Conflict set), since one of the two is wrong.
	Conflicts int `json:"conflicts"`
	Rejected  int `json:"rejected"`
	// Skipped are rows the mapping leaves out quietly (an empty "column?").
	Skipped int `json:"skipped"`
	// Rejects are the first rejected and conflicting rows (all of them go to
	// IngestOptions.OnReject).
	Rejects []Reject `json:"rejects,omitempty"`
	// Verdicts counts the loaded (and already loaded) events by verdict, when
	// IngestOptions.Judge is set.
	Verdicts map[affwatch.Verdict]int `json:"verdicts,omitempty"`
}

// keptRejects is how many rejected rows a result keeps in memory: a file of nothing but
// bad rows must not fill memory either.
const keptRejects = 100

// IngestOptions set how a file is read.
type IngestOptions struct {
	// Mapping renames the file's columns (or JSON keys) to the canonical ones.
	Mapping Mapping
	// Statuses maps the export's conversion statuses to affwatch's (see StatusMap).
	Statuses StatusMap
	// OnReject, when set, receives every rejected or conflicting row as it is met (to
	// write a reject file).
	OnReject func(Reject) error
	// Now is the clock that timestamps are judged against (default time.Now): an event
	// more than MaxFutureSkew after it is rejected.
	Now func() time.Time
	// Judge, when set, gives each click its reason codes and verdict before it is stored,
	// and each conversion its verdict once its batch is stored (the store must then be a
	// VerdictStore). One judge serves one file at a time.
	Judge *Judge
}

// Limits on what one row may hold. A longer row or field is rejected with the reason and
// the rest of the file loads; a row is never held in memory beyond MaxRowBytes however long
// it is, so one hostile row cannot fill memory or slow every later detector run.
const (
	// MaxRowBytes is the longest row: a CSV record with its line breaks (quoted ones
	// included), or a JSON line.
	MaxRowBytes = 64 << 10
	// MaxUserAgentBytes is the longest user agent (browsers' are under 300 bytes).
	MaxUserAgentBytes = 1 << 10
	// MaxURLBytes is the longest referrer or landing URL.
	MaxURLBytes = 8 << 10
	// MaxFieldBytes is the longest value of every other column: ids, sub id, address,
	// country, currency, status, amounts and timestamps.
	MaxFieldBytes = 256
)

// EarliestEventTime is the earliest plausible click or conversion: an earlier timestamp
// is an export's placeholder (0, -5, 0001-01-01), not an event.
var EarliestEventTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// MaxFutureSkew is how far after IngestOptions.Now an event may lie (the network's clock
// or a local time read as UTC); a later timestamp is a placeholder such as 9999-12-31.
const MaxFutureSkew = 24 * time.Hour

// Statuses are the conversion statuses affwatch knows; the reversal detector counts the
// ones that take a conversion back (reversed, refunded, rejected, ...). An empty status
// (the export has none) is allowed too; any other word is rejected unless a StatusMap
// maps it to one of these.
var Statuses = append([]string{"approved", "pending"}, affwatch.ReversedStatuses...)

// StatusMap maps affwatch's conversion statuses to the export's words for them, e.g.
// {approved: [ok, paid], reversed: [cancelled]}; words are matched without regard to case
// or surrounding spaces, and a mapped word stores as its status.
type StatusMap map[string][]string

// Validate says what is wrong with a status map: a status affwatch does not know, or one
// word mapped to two statuses.
func (m StatusMap) Validate() error {
	var errs []error
	seen := map[string]string{}
	for _, st := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(Statuses, st) {
			errs = append(errs, fmt.Errorf("%q is not a status (one of %s)", st, strings.Join(Statuses, ", ")))
		}
		for _, w := range m[st] {
			w = strings.ToLower(strings.TrimSpace(w))
			if other, ok := seen[w]; ok && other != st {
				errs = append(errs, fmt.Errorf("%q is mapped to both %s and %s", w, other, st))
			}
			seen[w] = st
		}
	}
	return errors.Join(errs...)
}

// words returns the map from an export's word to the status it stands for.
func (m StatusMap) words() map[string]string {
	w := map[string]string{}
	for st, words := range m {
		for _, x := range words {
			w[strings.ToLower(strings.TrimSpace(x))] = st
		}
	}
	return w
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

// batchSize is how many rows go into one insert transaction: SQLite writes every page a
// transaction touched to its journal once per transaction, so fewer, larger transactions
// rewrite the hot pages of the click indexes less often (20,000 clicks are a few MB).
const batchSize = 20000

// record is one row, by canonical column name.
type record func(col string) string

// ClickColumns and ConversionColumns are the canonical schemas.
var (
	ClickColumns      = []string{"click_id", "ts", "affiliate_id", "sub_id", "ip", "user_agent", "referrer", "country", "landing_url"}
	ConversionColumns = []string{"conversion_id", "click_id", "ts", "affiliate_id", "order_id", "amount", "currency", "commission", "status"}
)

// IngestClicks streams a CSV (with header) or JSON Lines file of clicks into the store.
// Bad rows are returned as rejects with their line; the rest loads. A row is bad when it
// cannot be read (malformed, a field count unlike the header's, longer than MaxRowBytes or
// its field's limit) or holds a value no click has: a timestamp before EarliestEventTime or more than
// MaxFutureSkew after now, an address that is neither an IP address nor a number (exports
// that pseudonymise addresses give a number), a missing id or affiliate.
func IngestClicks(ctx context.Context, st EventStore, name string, r io.Reader, opt IngestOptions) (IngestResult, error) {
	v := newValidator(opt)
	k := eventKind[affwatch.Click]{
		idColumn: "click_id", parse: v.click, add: st.AddClicks, byID: st.ClicksByID,
		id: func(c *affwatch.Click) string { return c.ClickID }, diff: diffClicks,
	}
	if j := opt.Judge; j != nil {
		k.prepare = j.Click
		k.verdict = func(c *affwatch.Click) affwatch.Verdict { return c.Verdict }
	}
	return ingest(ctx, name, r, opt, k)
}

// IngestConversions streams a CSV or JSON Lines file of conversions into the store. Beside
// what IngestClicks rejects, a conversion is bad when its amount or commission is negative
// or not a finite number, or its status is neither one of Statuses nor mapped to one.
func IngestConversions(ctx context.Context, st EventStore, name string, r io.Reader, opt IngestOptions) (IngestResult, error) {
	if err := opt.Statuses.Validate(); err != nil {
		return IngestResult{File: name}, fmt.Errorf("status mapping: %w", err)
	}
	v := newValidator(opt)
	k := eventKind[affwatch.Conversion]{
		idColumn: "conversion_id", parse: v.conversion, add: st.AddConversions, byID: st.ConversionsByID,
		id: func(c *affwatch.Conversion) string { return c.ConversionID }, diff: diffConversions,
	}
	if j := opt.Judge; j != nil {
		vst, ok := st.(VerdictStore)
		if !ok {
			return IngestResult{File: name}, fmt.Errorf("ingest %s: the store keeps no verdicts", name)
		}
		k.judge = func(ctx context.Context, batch []affwatch.Conversion, skip []bool) (map[affwatch.Verdict]int, error) {
			vs, err := j.Conversions(ctx, vst, batch, skip)
			counts := map[affwatch.Verdict]int{}
			for _, v := range vs {
				counts[v.Verdict]++
			}
			return counts, err
		}
	}
	return ingest(ctx, name, r, opt, k)
}

// eventKind is what ingest needs to know of clicks or conversions.
type eventKind[T any] struct {
	idColumn string
	parse    func(record) (T, error)
	add      func(context.Context, []T) (int, error)
	byID     func(context.Context, []string) ([]T, error)
	id       func(*T) string
	// diff lists the fields where a row differs from the stored event of its id ("" if none).
	diff func(row, stored *T) string
	// prepare and verdict, when set, judge a row before it is stored and read its verdict
	// (clicks); judge, when set, judges a stored batch, leaving out the rows skip marks
	// (conversions).
	prepare func(*T)
	verdict func(*T) affwatch.Verdict
	judge   func(ctx context.Context, batch []T, skip []bool) (map[affwatch.Verdict]int, error)
}

// readError is a file that could not be read on (a gzip stream cut short, a disk error):
// unlike a bad row, it ends the file.
type readError struct {
	line int // the last line read whole
	err  error
}

func (e *readError) Error() string { return fmt.Sprintf("after line %d: %v", e.line, e.err) }
func (e *readError) Unwrap() error { return e.err }

// ingest parses each row of a file and adds the good ones to the store in batches.
func ingest[T any](ctx context.Context, name string, r io.Reader, opt IngestOptions, k eventKind[T]) (IngestResult, error) {
	var (
		batch []T
		lines []int // the line of each row in batch
	)
	res := IngestResult{File: name}
	if k.verdict != nil || k.judge != nil {
		res.Verdicts = map[affwatch.Verdict]int{}
	}
	// Rows are read and checked on this goroutine while the batch before is written on
	// another: on two cores the store's inserts and the parsing overlap. mu serialises
	// what both touch: the kept rejects and OnReject.
	var mu sync.Mutex
	reject := func(rej Reject) error {
		mu.Lock()
		defer mu.Unlock()
		if len(res.Rejects) < keptRejects {
			res.Rejects = append(res.Rejects, rej)
		}
		if opt.OnReject != nil {
			return opt.OnReject(rej)
		}
		return nil
	}
	write := func(batch []T, lines []int) error {
		n, err := k.add(ctx, batch)
		if err != nil {
			return err
		}
		res.Loaded += n
		conflicts := 0
		var conflicting []bool
		if n < len(batch) {
			// Some ids were stored already: the same row loaded before, or another row
			// under the same id (a conflict). Rows inserted just now equal their stored self.
			if conflicting, err = checkConflicts(ctx, name, batch, lines, k, reject); err != nil {
				return err
			}
			for _, c := range conflicting {
				if c {
					conflicts++
				}
			}
		}
		res.Conflicts += conflicts
		res.Duplicates += len(batch) - n - conflicts
		if k.verdict != nil {
			for i := range batch {
				if conflicting == nil || !conflicting[i] {
					res.Verdicts[k.verdict(&batch[i])]++
				}
			}
		}
		if k.judge != nil {
			// A conflicting row is not judged: the stored row stands, with its verdict.
			counts, err := k.judge(ctx, batch, conflicting)
			if err != nil {
				return err
			}
			for v, n := range counts {
				res.Verdicts[v] += n
			}
		}
		return nil
	}
	type pending struct {
		batch []T
		lines []int
	}
	work := make(chan pending, 1)
	written := make(chan error, 1)
	var writeFailed atomic.Bool
	go func() {
		var err error
		for p := range work {
			if err == nil {
				if err = write(p.batch, p.lines); err != nil {
					writeFailed.Store(true)
				}
			}
		}
		written <- err
	}()
	// flush hands the batch to the writer; finish waits for every batch to be written.
	flush := func() error {
		if writeFailed.Load() {
			return errWriteFailed
		}
		if len(batch) > 0 {
			work <- pending{batch, lines}
			batch, lines = make([]T, 0, batchSize), make([]int, 0, batchSize)
		}
		return nil
	}
	finished := false
	finish := func() error {
		if finished {
			return nil
		}
		finished = true
		close(work)
		return <-written
	}
	defer finish()
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
	err := eachRecord(name, r, m, []string{k.idColumn, "ts", "affiliate_id"}, func(line int, raw record, bad error) error {
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
		err := bad
		var v T
		if err == nil {
			v, err = k.parse(rec)
		}
		if err != nil {
			res.Rejected++
			return reject(Reject{File: name, Line: line, Reason: err.Error()})
		}
		if k.prepare != nil {
			k.prepare(&v)
		}
		batch, lines = append(batch, v), append(lines, line)
		if len(batch) >= batchSize {
			return flush()
		}
		return nil
	})
	var rerr *readError
	if errors.As(err, &rerr) {
		// The rows read before the break are good: load them, and say how far the file
		// got. Ids make loading the whole file again finish the job without doubling.
		ferr := flush()
		if werr := finish(); werr != nil || ferr != nil {
			return res, errors.Join(fmt.Errorf("read %s: %w", name, err), werr)
		}
		return res, fmt.Errorf("read %s: %w; %d rows loaded (the file is cut short or damaged: load the whole file again to load the rest, rows already loaded are not loaded twice)",
			name, err, res.Loaded)
	}
	if err == nil {
		err = flush()
	}
	if werr := finish(); werr != nil {
		// The writer's own error, not the placeholder the reader stopped on.
		if errors.Is(err, errWriteFailed) || err == nil {
			err = werr
		} else {
			err = errors.Join(err, werr)
		}
	}
	return res, err
}

// errWriteFailed stops reading a file once a batch could not be written (the writer's
// error is returned in its place).
var errWriteFailed = errors.New("a batch could not be written")

// checkConflicts compares each row of a batch with the stored event of its id, reports
// those that differ as conflicts, and returns which rows they are.
func checkConflicts[T any](ctx context.Context, name string, batch []T, lines []int, k eventKind[T], reject func(Reject) error) ([]bool, error) {
	ids := make([]string, len(batch))
	for i := range batch {
		ids[i] = k.id(&batch[i])
	}
	stored, err := k.byID(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("read stored %ss: %w", strings.TrimSuffix(k.idColumn, "_id"), err)
	}
	byID := make(map[string]*T, len(stored))
	for i := range stored {
		byID[k.id(&stored[i])] = &stored[i]
	}
	conflicting := make([]bool, len(batch))
	for i := range batch {
		s, ok := byID[ids[i]]
		if !ok {
			continue
		}
		if d := k.diff(&batch[i], s); d != "" {
			conflicting[i] = true
			rej := Reject{File: name, Line: lines[i], Conflict: true,
				Reason: fmt.Sprintf("conflict: %s %q is stored with other values: %s", k.idColumn, ids[i], d)}
			if err := reject(rej); err != nil {
				return conflicting, err
			}
		}
	}
	return conflicting, nil
}

// differences builds the list of fields where a row and the stored event differ.
type differences []string

func (d *differences) text(field, row, stored string) {
	if row != stored {
		*d = append(*d, fmt.Sprintf("%s %q (stored %q)", field, shorten(row, 60), shorten(stored, 60)))
	}
}

func (d *differences) time(field string, row, stored time.Time) {
	if row.UnixMilli() != stored.UnixMilli() { // the store keeps milliseconds
		*d = append(*d, fmt.Sprintf("%s %s (stored %s)", field, row.Format(time.RFC3339Nano), stored.Format(time.RFC3339Nano)))
	}
}

func (d *differences) number(field string, row, stored float64) {
	if row != stored {
		*d = append(*d, fmt.Sprintf("%s %s (stored %s)", field, strconv.FormatFloat(row, 'f', -1, 64), strconv.FormatFloat(stored, 'f', -1, 64)))
	}
}

// shorten cuts a value for a message.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

func diffClicks(row, stored *affwatch.Click) string {
	var d differences
	d.time("ts", row.TS, stored.TS)
	d.text("affiliate_id", row.AffiliateID, stored.AffiliateID)
	d.text("sub_id", row.SubID, stored.SubID)
	d.text("ip", row.IP, stored.IP)
	d.text("user_agent", row.UserAgent, stored.UserAgent)
	d.text("referrer", row.Referrer, stored.Referrer)
	d.text("country", row.Country, stored.Country)
	d.text("landing_url", row.LandingURL, stored.LandingURL)
	return strings.Join(d, ", ")
}

func diffConversions(row, stored *affwatch.Conversion) string {
	var d differences
	d.text("click_id", row.ClickID, stored.ClickID)
	d.time("ts", row.TS, stored.TS)
	d.text("affiliate_id", row.AffiliateID, stored.AffiliateID)
	d.text("order_id", row.OrderID, stored.OrderID)
	d.number("amount", row.Amount, stored.Amount)
	d.text("currency", row.Currency, stored.Currency)
	d.number("commission", row.Commission, stored.Commission)
	d.text("status", row.Status, stored.Status)
	return strings.Join(d, ", ")
}

// errRowTooLong is the reason of a row longer than MaxRowBytes.
var errRowTooLong = fmt.Errorf("the row is longer than %d KiB", MaxRowBytes>>10)

// eachRecord reads CSV or JSON Lines (gzip or not, told apart by their first bytes) and
// calls fn with each row and its line number. An error reading the file on is a
// *readError.
func eachRecord(name string, r io.Reader, m Mapping, required []string, fn func(line int, rec record, bad error) error) error {
	// br is small: it serves to look at the first bytes, while the readers of rows keep
	// buffers of MaxRowBytes and, asking for more than br holds, read past it uncopied.
	br := bufio.NewReader(r)
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("%s: gzip: %w", name, err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	first, _ := br.Peek(1)
	if len(first) == 1 && first[0] == '{' {
		return eachJSONL(bufio.NewReaderSize(br, MaxRowBytes), m, fn)
	}
	return eachCSV(name, br, m, required, fn)
}

// skipLine drops the rest of a line, line break included, holding none of it.
func skipLine(r *bufio.Reader) error {
	for {
		_, err := r.ReadSlice('\n')
		if !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
	}
}

// physLine is one line of a file as read: its number, its text without the line break,
// and whether it was longer than MaxRowBytes (then its text is dropped unread).
type physLine struct {
	no      int
	text    string
	tooLong bool
}

// lineSource hands out a file's lines one at a time, none longer than MaxRowBytes held in
// memory; lines read ahead (to finish a quoted field) can be given back.
type lineSource struct {
	r      *bufio.Reader
	no     int
	back   []physLine
	err    error // what ended the file (io.EOF at its end)
	lastNo int   // the last line handed out
}

func (ls *lineSource) next() (physLine, bool) {
	if n := len(ls.back); n > 0 {
		l := ls.back[0]
		ls.back = ls.back[1:]
		ls.lastNo = l.no
		return l, true
	}
	if ls.err != nil {
		return physLine{}, false
	}
	raw, err := ls.r.ReadSlice('\n')
	l := physLine{}
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		l.tooLong = true
		err = skipLine(ls.r)
	case len(raw) > 0:
		l.text = strings.TrimSuffix(strings.TrimSuffix(string(raw), "\n"), "\r")
	}
	if err != nil {
		ls.err = err
		if len(raw) == 0 && !l.tooLong {
			return physLine{}, false
		}
	}
	ls.no++
	l.no = ls.no
	ls.lastNo = l.no
	return l, true
}

// unread gives lines back, to be handed out again first, in order.
func (ls *lineSource) unread(ls2 []physLine) {
	ls.back = append(append([]physLine{}, ls2...), ls.back...)
}

// errOpenQuote is a quoted field whose closing quote never comes in a complete row.
var errOpenQuote = errors.New("malformed CSV: a quote opened in this row is not closed (the lines after it are read as rows of their own)")

// maxRowLines bounds the lines one quoted field may span.
const maxRowLines = 64

// splitCSV reads one CSV record (RFC 4180: comma-separated; a field that starts with a
// quote is quoted, "" is a quote inside it, and it may hold commas and line breaks) into
// dst. open reports a quoted field still open when s ends; err a quote out of place.
func splitCSV(s string, dst []string) (fields []string, open bool, err error) {
	fields = dst[:0]
	for i := 0; ; {
		if i < len(s) && s[i] == '"' {
			i++
			j := strings.IndexByte(s[i:], '"')
			if j < 0 {
				return fields, true, nil
			}
			field := s[i : i+j] // the common case: no quote inside, a slice of the line
			i += j + 1
			if i < len(s) && s[i] == '"' {
				// "" is a quote inside the field: build it
				var b strings.Builder
				b.WriteString(field)
				for i < len(s) && s[i] == '"' {
					b.WriteByte('"')
					i++
					k := strings.IndexByte(s[i:], '"')
					if k < 0 {
						return fields, true, nil
					}
					b.WriteString(s[i : i+k])
					i += k + 1
				}
				field = b.String()
			}
			fields = append(fields, field)
			switch {
			case i == len(s):
				return fields, false, nil
			case s[i] != ',':
				return fields, false, errors.New(`malformed CSV: extraneous or missing " in quoted-field`)
			}
			i++
			continue
		}
		j := strings.IndexByte(s[i:], ',')
		field := s[i:]
		if j >= 0 {
			field = s[i : i+j]
		}
		if strings.IndexByte(field, '"') >= 0 {
			return fields, false, errors.New(`malformed CSV: bare " in non-quoted-field`)
		}
		fields = append(fields, field)
		if j < 0 {
			return fields, false, nil
		}
		i += j + 1
	}
}

// record reads the next CSV record from the lines, joining the lines a quoted field spans.
// A record whose quote is never closed within a complete row of width fields (a stray
// quote) is rejected alone: the lines read after it are given back and read again, so one
// bad quote costs one row, never the rows after it.
func (ls *lineSource) record(width int, dst []string) (line int, fields []string, bad error, ok bool) {
	for {
		l, more := ls.next()
		if !more {
			return 0, nil, nil, false
		}
		if l.tooLong {
			return l.no, nil, errRowTooLong, true
		}
		if l.text == "" {
			continue // blank lines are no rows
		}
		fields, open, err := splitCSV(l.text, dst)
		if !open {
			if err == nil && width > 0 && len(fields) != width {
				err = fmt.Errorf("%d %s, the header has %d", len(fields), plural(len(fields), "field"), width)
			}
			return l.no, fields, err, true
		}
		joined, used := l.text, []physLine{}
		for open && len(used) < maxRowLines {
			nl, more := ls.next()
			if !more {
				break
			}
			used = append(used, nl)
			if nl.tooLong || len(joined)+1+len(nl.text) > MaxRowBytes {
				break
			}
			joined += "\n" + nl.text
			fields, open, err = splitCSV(joined, dst)
		}
		if open || err != nil || (width > 0 && len(fields) != width) {
			ls.unread(used)
			return l.no, nil, errOpenQuote, true
		}
		return l.no, fields, nil, true
	}
}

func eachCSV(name string, r *bufio.Reader, m Mapping, required []string, fn func(int, record, error) error) error {
	ls := &lineSource{r: bufio.NewReaderSize(r, MaxRowBytes)}
	readErr := func() error {
		if ls.err != nil && !errors.Is(ls.err, io.EOF) {
			return &readError{line: ls.lastNo, err: ls.err}
		}
		return nil
	}
	hline, header, herr, ok := ls.record(0, nil)
	if !ok {
		return readErr()
	}
	if herr != nil {
		return fmt.Errorf("%s:%d: header: %w", name, hline, herr)
	}
	header = append([]string(nil), header...)
	width := len(header)
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
	// A header without a column every row needs is one error, not a reject per row.
	for _, c := range required {
		src, _ := m.source(c)
		if _, ok := where[c]; !ok && src != RowID {
			mapped := ""
			if src != c {
				mapped = fmt.Sprintf(" (the mapping reads it from %q)", src)
			}
			return fmt.Errorf("%s:%d: the header has no %s column%s: its columns are %s", name, hline, c, mapped, strings.Join(header, ", "))
		}
	}
	var row, buf []string
	rec := func(c string) string {
		if i, ok := where[c]; ok && i < len(row) {
			return row[i]
		}
		return ""
	}
	for {
		line, fields, bad, ok := ls.record(width, buf)
		if !ok {
			return readErr()
		}
		buf = fields
		if bad != nil {
			row = nil
		} else {
			row = fields
		}
		if err := fn(line, rec, bad); err != nil {
			return err
		}
	}
}

// plural is word for n of it.
func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

func eachJSONL(r *bufio.Reader, m Mapping, fn func(int, record, error) error) error {
	var obj map[string]any
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
	line := 0
	for {
		// The reader's buffer is MaxRowBytes: a longer line does not fit, and is dropped
		// without being held.
		raw, err := r.ReadSlice('\n')
		line++
		var bad error
		if errors.Is(err, bufio.ErrBufferFull) {
			bad, err = errRowTooLong, skipLine(r)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return &readError{line: line - 1, err: err}
		}
		if bad != nil || len(bytes.TrimSpace(raw)) > 0 {
			obj = nil
			if bad == nil {
				if jerr := json.Unmarshal(raw, &obj); jerr != nil {
					bad = fmt.Errorf("malformed JSON: %w", jerr)
				}
			}
			if ferr := fn(line, rec, bad); ferr != nil {
				return ferr
			}
		}
		if err != nil { // io.EOF
			return nil
		}
	}
}

// validator holds what one file's rows are judged by.
type validator struct {
	latest   time.Time         // the latest plausible event time
	statuses map[string]string // the export's word -> status
}

func newValidator(opt IngestOptions) *validator {
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	v := &validator{latest: now().Add(MaxFutureSkew), statuses: map[string]string{}}
	for _, st := range Statuses {
		v.statuses[st] = st
	}
	maps.Copy(v.statuses, opt.Statuses.words()) // a mapped word may be a known status too
	return v
}

// columnLimit is the longest value a column may hold.
func columnLimit(col string) int {
	switch col {
	case "user_agent":
		return MaxUserAgentBytes
	case "referrer", "landing_url":
		return MaxURLBytes
	}
	return MaxFieldBytes
}

// fieldTooLong says which of a row's values, given in the order of cols, is longer than
// its column's limit.
func fieldTooLong(cols []string, vals ...string) error {
	for i, v := range vals {
		if limit := columnLimit(cols[i]); len(v) > limit {
			return fmt.Errorf("%s is %d bytes, more than %d", cols[i], len(v), limit)
		}
	}
	return nil
}

// time reads and judges an event's timestamp.
func (v *validator) time(s string) (time.Time, error) {
	ts, err := ParseTime(s)
	if err != nil {
		return ts, fmt.Errorf("ts: %w", err)
	}
	if ts.Before(EarliestEventTime) {
		return ts, fmt.Errorf("ts: %s is before %s", ts.Format(time.RFC3339Nano), EarliestEventTime.Format(time.DateOnly))
	}
	if ts.After(v.latest) {
		return ts, fmt.Errorf("ts: %s is more than a day after now (%s)", ts.Format(time.RFC3339Nano), v.latest.Add(-MaxFutureSkew).Format(time.RFC3339))
	}
	return ts, nil
}

func (v *validator) click(rec record) (affwatch.Click, error) {
	c := affwatch.Click{
		ClickID: strings.TrimSpace(rec("click_id")), AffiliateID: strings.TrimSpace(rec("affiliate_id")),
		SubID: rec("sub_id"), IP: strings.TrimSpace(rec("ip")), UserAgent: rec("user_agent"),
		Referrer: rec("referrer"), Country: rec("country"), LandingURL: rec("landing_url"),
	}
	ts := rec("ts")
	// One test for all the limits; which field broke one is worked out only then.
	if len(c.UserAgent) > MaxUserAgentBytes || max(len(c.Referrer), len(c.LandingURL)) > MaxURLBytes ||
		max(len(c.ClickID), len(ts), len(c.AffiliateID), len(c.SubID), len(c.IP), len(c.Country)) > MaxFieldBytes {
		return c, fieldTooLong(ClickColumns, c.ClickID, ts, c.AffiliateID, c.SubID, c.IP, c.UserAgent, c.Referrer, c.Country, c.LandingURL)
	}
	if c.ClickID == "" {
		return c, errors.New("click_id is missing")
	}
	if c.AffiliateID == "" {
		return c, errors.New("affiliate_id is missing")
	}
	var err error
	if c.TS, err = v.time(ts); err != nil {
		return c, err
	}
	if c.IP != "" && !plausibleIP(c.IP) {
		return c, fmt.Errorf("ip: %q is not an IP address", c.IP)
	}
	return c, nil
}

// dottedQuad says whether s is an IPv4 address in the form netip.ParseAddr reads: four
// decimal fields of 0 to 255 without leading zeros. It is the common case made quick
// (netip, which reads every form, costs as much as the rest of a row's checks); what it
// turns down goes to netip, so it never accepts what netip would not.
func dottedQuad(s string) bool {
	fields, val, digits := 0, 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			if digits == 1 && val == 0 { // a leading zero
				return false
			}
			val, digits = val*10+int(c-'0'), digits+1
			if val > 255 {
				return false
			}
		case c == '.' && digits > 0 && fields < 3:
			fields, val, digits = fields+1, 0, 0
		default:
			return false
		}
	}
	return fields == 3 && digits > 0
}

// money reads an amount or commission: empty is 0, and a sum of money is a finite number
// not below 0.
func money(col, s string) (float64, error) {
	if s == "" {
		return 0, nil
	}
	x, err := strconv.ParseFloat(s, 64)
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange):
		return 0, fmt.Errorf("%s: %q is not a number", col, s)
	case err != nil || math.IsInf(x, 0) || math.IsNaN(x):
		return 0, fmt.Errorf("%s: %q is not a finite number", col, s)
	case x < 0:
		return 0, fmt.Errorf("%s: %s is negative", col, s)
	}
	return x, nil
}

// plausibleIP says whether a click's address is an IPv4 or IPv6 address, or a whole
// number: the id some exports put in place of the address to pseudonymise it
// (TalkingData's), counted per address but not per network.
func plausibleIP(s string) bool {
	if dottedQuad(s) {
		return true
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (v *validator) conversion(rec record) (affwatch.Conversion, error) {
	c := affwatch.Conversion{
		ConversionID: strings.TrimSpace(rec("conversion_id")), ClickID: strings.TrimSpace(rec("click_id")),
		AffiliateID: strings.TrimSpace(rec("affiliate_id")), OrderID: strings.TrimSpace(rec("order_id")),
		Currency: strings.ToUpper(strings.TrimSpace(rec("currency"))), Status: strings.ToLower(strings.TrimSpace(rec("status"))),
	}
	ts, amount, commission := rec("ts"), strings.TrimSpace(rec("amount")), strings.TrimSpace(rec("commission"))
	if max(len(c.ConversionID), len(c.ClickID), len(ts), len(c.AffiliateID), len(c.OrderID), len(amount), len(c.Currency),
		len(commission), len(c.Status)) > MaxFieldBytes {
		return c, fieldTooLong(ConversionColumns, c.ConversionID, c.ClickID, ts, c.AffiliateID, c.OrderID, amount, c.Currency, commission, c.Status)
	}
	if c.ConversionID == "" {
		return c, errors.New("conversion_id is missing")
	}
	if c.AffiliateID == "" {
		return c, errors.New("affiliate_id is missing")
	}
	var err error
	if c.TS, err = v.time(ts); err != nil {
		return c, err
	}
	if c.Amount, err = money("amount", amount); err != nil {
		return c, err
	}
	if c.Commission, err = money("commission", commission); err != nil {
		return c, err
	}
	if c.Status != "" {
		st, ok := v.statuses[c.Status]
		if !ok {
			return c, fmt.Errorf("status: %q is not %s (or mapped to one)", c.Status, strings.Join(Statuses, ", "))
		}
		c.Status = st
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
