package detectors_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/detectors"
	"github.com/affwatch/affwatch/internal/store"
)

// ingestNow is the clock the validation tests judge timestamps against.
var ingestNow = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)

func storedClicks(t *testing.T, st *store.SQLite) map[string]affwatch.Click {
	t.Helper()
	got := map[string]affwatch.Click{}
	if err := st.EachClick(context.Background(), time.Time{}, func(c affwatch.Click) error { got[c.ClickID] = c; return nil }); err != nil {
		t.Fatal(err)
	}
	return got
}

func storedConversions(t *testing.T, st *store.SQLite) map[string]affwatch.Conversion {
	t.Helper()
	got := map[string]affwatch.Conversion{}
	if err := st.EachConversion(context.Background(), time.Time{}, func(c affwatch.Conversion) error { got[c.ConversionID] = c; return nil }); err != nil {
		t.Fatal(err)
	}
	return got
}

// ingestKind loads one file of clicks or conversions.
func ingestKind(st detectors.EventStore, kind, name string, r io.Reader, opt detectors.IngestOptions) (detectors.IngestResult, error) {
	if kind == "clicks" {
		return detectors.IngestClicks(context.Background(), st, name, r, opt)
	}
	return detectors.IngestConversions(context.Background(), st, name, r, opt)
}

// A row whose field count differs from the header's is rejected with file, line and the
// counts: padding a short row or dropping extra fields would load values into the wrong
// columns (an unquoted comma in a user agent moves the country into the referrer).
func TestIngestRejectsRowsWhoseFieldCountIsNotTheHeaders(t *testing.T) {
	const header = "click_id,ts,affiliate_id,sub_id,ip,user_agent,referrer,country\n"
	const good = "c1,2026-11-01T10:00:00Z,a,s,1.2.3.4,Mozilla/5.0,https://r.example/,DE\n"
	const after = "c3,2026-11-01T10:02:00Z,a,s,1.2.3.4,\"Mozilla/5.0 (X11, Linux)\",https://r.example/,FR\n"
	cases := []struct {
		name, row, want string
	}{
		{"short row", "c2,2026-11-01T10:01:00Z,a,s,1.2.3.4,Mozilla/5.0,https://r.example/\n", "clicks.csv:3: 7 fields, the header has 8"},
		{"extra field", "c2,2026-11-01T10:01:00Z,a,s,1.2.3.4,Mozilla/5.0,https://r.example/,DE,extra\n", "clicks.csv:3: 9 fields, the header has 8"},
		{"unquoted comma in the user agent", "c2,2026-11-01T10:01:00Z,a,s,1.2.3.4,Mozilla/5.0 (X11, Linux),https://r.example/,DE\n", "clicks.csv:3: 9 fields, the header has 8"},
		{"one field", "c2\n", "clicks.csv:3: 1 field, the header has 8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			res, err := detectors.IngestClicks(context.Background(), st, "clicks.csv", strings.NewReader(header+good+tc.row+after),
				detectors.IngestOptions{Now: func() time.Time { return ingestNow }})
			if err != nil {
				t.Fatal(err)
			}
			if res.Rows != 3 || res.Loaded != 2 || res.Rejected != 1 || len(res.Rejects) != 1 || res.Rejects[0].String() != tc.want {
				t.Fatalf("got %+v, want 2 loaded and the reject %q", res, tc.want)
			}
			got := storedClicks(t, st)
			if _, ok := got["c2"]; ok {
				t.Errorf("the bad row was stored: %+v", got["c2"])
			}
			if c := got["c3"]; c.UserAgent != "Mozilla/5.0 (X11, Linux)" || c.Country != "FR" || c.Referrer != "https://r.example/" {
				t.Errorf("the row after the bad one was stored as %+v", c)
			}
		})
	}
}

// repeat is an endless stream of one byte: a huge field made without holding it.
type repeat byte

func (r repeat) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// huge is a reader of before, n bytes of c, then after.
func huge(before string, c byte, n int64, after string) io.Reader {
	return io.MultiReader(strings.NewReader(before), io.LimitReader(repeat(c), n), strings.NewReader(after))
}

// A row or field longer than its limit is rejected with the reason and the rest of the
// file loads; a 200 MB row is read past, never held: ingest allocates far less than the
// row (a 200 MB user agent once took `detect` 3 min 40 s over 30 clicks).
func TestIngestRejectsOverlongRowsAndFieldsWithoutHoldingThem(t *testing.T) {
	const hugeRow = 200 << 20
	const csvHeader = "click_id,ts,affiliate_id,ip,user_agent,landing_url\n"
	const csvFirst = "c1,2026-11-01T10:00:00Z,a,1.2.3.4,Mozilla/5.0,https://shop.example/\n"
	const csvLast = "c3,2026-11-01T10:02:00Z,a,1.2.3.4,Mozilla/5.0,https://shop.example/\nc4,not-a-time,a,1.2.3.4,Mozilla/5.0,\n"
	jsonLine := func(id, ts string) string {
		return `{"click_id":"` + id + `","ts":"` + ts + `","affiliate_id":"a","ip":"1.2.3.4","user_agent":"Mozilla/5.0"}` + "\n"
	}
	csvFile := func(middle io.Reader) io.Reader {
		return io.MultiReader(strings.NewReader(csvHeader+csvFirst), middle, strings.NewReader(csvLast))
	}
	csvRow := func(row string) io.Reader { return csvFile(strings.NewReader(row)) }
	unclosed := "c2,2026-11-01T10:01:00Z,a,1.2.3.4,\"Mozilla/5.0 (never closed\n" + strings.Repeat(strings.Repeat("x", 60)+"\n", 2000)
	cases := []struct {
		name      string
		input     io.Reader
		line      int    // the line of the first reject
		want      string // its reason
		badTSLine int    // the line of the row with a bad timestamp after it (0: none)
	}{
		{"200 MB user agent in CSV", csvFile(huge("c2,2026-11-01T10:01:00Z,a,1.2.3.4,\"Mozilla", 'A', hugeRow, "\",https://shop.example/\n")),
			3, "the row is longer than 64 KiB", 5},
		{"200 MB line of JSON", io.MultiReader(
			huge(jsonLine("c1", "2026-11-01T10:00:00Z")+`{"click_id":"c2","ts":"2026-11-01T10:01:00Z","affiliate_id":"a","user_agent":"`, 'A', hugeRow, "\"}\n"),
			strings.NewReader(jsonLine("c3", "2026-11-01T10:02:00Z")+jsonLine("c4", "not-a-time"))),
			2, "the row is longer than 64 KiB", 4},
		{"200 MB last line without a line break", huge(csvHeader+csvFirst+"c3,2026-11-01T10:02:00Z,a,1.2.3.4,Mozilla/5.0,\nc2,2026-11-01T10:01:00Z,a,1.2.3.4,", 'A', hugeRow, ""),
			4, "the row is longer than 64 KiB", 0},
		// the row with the stray quote is the one reject for it; the lines after it are
		// read as rows of their own (here 1-field lines, rejected one by one)
		{"a quote never closed", csvRow(unclosed), 3, "a quote opened in this row is not closed", 2005},
		{"user agent of 2 KiB", csvRow("c2,2026-11-01T10:01:00Z,a,1.2.3.4," + strings.Repeat("M", 2048) + ",\n"),
			3, "user_agent is 2048 bytes, more than 1024", 5},
		{"landing URL of 9 KiB", csvRow("c2,2026-11-01T10:01:00Z,a,1.2.3.4,Mozilla/5.0,https://shop.example/?q=" + strings.Repeat("q", 9<<10) + "\n"),
			3, "landing_url is 9240 bytes, more than 8192", 5},
		{"click id of 300 bytes", csvRow(strings.Repeat("c", 300) + ",2026-11-01T10:01:00Z,a,1.2.3.4,Mozilla/5.0,\n"),
			3, "click_id is 300 bytes, more than 256", 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			input := tc.input
			st := openStore(t)
			var rejects []detectors.Reject
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			res, err := detectors.IngestClicks(context.Background(), st, "clicks", input, detectors.IngestOptions{
				Now: func() time.Time { return ingestNow }, OnReject: func(r detectors.Reject) error { rejects = append(rejects, r); return nil }})
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 32<<20 {
				t.Errorf("ingest allocated %d MiB: the long row was held in memory", allocated>>20)
			}
			if len(rejects) == 0 || rejects[0].Line != tc.line || !strings.Contains(rejects[0].Reason, tc.want) {
				t.Fatalf("rejects %v, want the first on line %d saying %q (result %+v)", rejects[:min(len(rejects), 3)], tc.line, tc.want, res)
			}
			if tc.badTSLine > 0 {
				last := rejects[len(rejects)-1]
				if last.Line != tc.badTSLine || !strings.Contains(last.Reason, "ts:") {
					t.Errorf("last reject %s, want the bad timestamp on line %d", last, tc.badTSLine)
				}
			}
			got := storedClicks(t, st)
			if len(got) != 2 || got["c1"].ClickID == "" || got["c3"].ClickID == "" {
				t.Errorf("stored %d clicks, want c1 and c3 (result %+v)", len(got), res)
			}
			if res.Loaded != 2 || res.Rejected != len(rejects) {
				t.Errorf("result %+v, want 2 loaded and %d rejected", res, len(rejects))
			}
		})
	}
}

// Values no click or sale can have are rejects naming the column: placeholder times,
// addresses that do not parse, negative or non-finite amounts, and statuses that are
// neither known nor mapped. What real exports carry loads.
func TestIngestRejectsImplausibleValues(t *testing.T) {
	const clickHeader = "click_id,ts,affiliate_id,ip\n"
	const convHeader = "conversion_id,click_id,ts,affiliate_id,amount,commission,status\n"
	statuses := detectors.StatusMap{"approved": {"ok", "paid"}, "reversed": {"cancelled"}}
	cases := []struct {
		name, kind, row string
		want            string // the reject's reason; empty: the row loads
		check           func(affwatch.Click, affwatch.Conversion) bool
	}{
		{"negative Unix time", "clicks", "x,-5,a,1.2.3.4", "ts: 1969-12-31T23:59:55Z is before 2000-01-01", nil},
		{"Unix zero", "clicks", "x,0,a,1.2.3.4", "ts: 1970-01-01T00:00:00Z is before 2000-01-01", nil},
		{"year one", "clicks", "x,0001-01-01T00:00:00Z,a,1.2.3.4", "ts: 0001-01-01T00:00:00Z is before 2000-01-01", nil},
		{"year 9999", "conversions", "x,,9999-12-31T23:59:59Z,a,1,0,approved", "ts: 9999-12-31T23:59:59Z is more than a day after now (2026-11-02T00:00:00Z)", nil},
		{"two days ahead", "clicks", "x,2026-11-04T00:00:00Z,a,1.2.3.4", "is more than a day after now", nil},
		{"a day ahead loads", "clicks", "x,2026-11-02T23:00:00Z,a,1.2.3.4", "", nil},
		{"year 2000 loads", "clicks", "x,2000-01-01T00:00:00Z,a,1.2.3.4", "", nil},
		{"address out of range", "clicks", "x,2026-11-01T10:00:00Z,a,999.1.1.1", `ip: "999.1.1.1" is not an IP address`, nil},
		{"address too short", "clicks", "x,2026-11-01T10:00:00Z,a,1.2.3", `ip: "1.2.3" is not an IP address`, nil},
		{"IPv6 loads", "clicks", "x,2026-11-01T10:00:00Z,a,2001:db8::1", "", nil},
		{"no address loads", "clicks", "x,2026-11-01T10:00:00Z,a,", "", nil},
		{"pseudonymised address loads", "clicks", "x,2026-11-01T10:00:00Z,a,87540", "", func(c affwatch.Click, _ affwatch.Conversion) bool { return c.IP == "87540" }},
		{"negative amount", "conversions", "x,,2026-11-01T10:00:00Z,a,-50,0,approved", "amount: -50 is negative", nil},
		{"negative commission", "conversions", "x,,2026-11-01T10:00:00Z,a,50,-1,approved", "commission: -1 is negative", nil},
		{"amount NaN", "conversions", "x,,2026-11-01T10:00:00Z,a,NaN,0,approved", `amount: "NaN" is not a finite number`, nil},
		{"amount infinite", "conversions", "x,,2026-11-01T10:00:00Z,a,+Inf,0,approved", `amount: "+Inf" is not a finite number`, nil},
		{"unknown status", "conversions", "x,,2026-11-01T10:00:00Z,a,50,4,weird", `status: "weird" is not approved, pending,`, nil},
		{"mapped status", "conversions", "x,,2026-11-01T10:00:00Z,a,50,4,PAID", "",
			func(_ affwatch.Click, v affwatch.Conversion) bool { return v.Status == "approved" }},
		{"status mapped to another", "conversions", "x,,2026-11-01T10:00:00Z,a,50,4,cancelled", "",
			func(_ affwatch.Click, v affwatch.Conversion) bool { return v.Status == "reversed" }},
		{"known status", "conversions", "x,,2026-11-01T10:00:00Z,a,0,0,Refunded", "",
			func(_ affwatch.Click, v affwatch.Conversion) bool { return v.Status == "refunded" }},
		{"no status", "conversions", "x,,2026-11-01T10:00:00Z,a,,,", "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			header := clickHeader
			if tc.kind == "conversions" {
				header = convHeader
			}
			res, err := ingestKind(st, tc.kind, tc.kind+".csv", strings.NewReader(header+tc.row+"\n"),
				detectors.IngestOptions{Now: func() time.Time { return ingestNow }, Statuses: statuses})
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if res.Loaded != 1 {
					t.Fatalf("not loaded: %+v", res)
				}
				if tc.check != nil && !tc.check(storedClicks(t, st)["x"], storedConversions(t, st)["x"]) {
					t.Errorf("stored %+v %+v", storedClicks(t, st)["x"], storedConversions(t, st)["x"])
				}
				return
			}
			if res.Loaded != 0 || res.Rejected != 1 || res.Rejects[0].Line != 2 || !strings.Contains(res.Rejects[0].Reason, tc.want) {
				t.Fatalf("got %+v, want the row rejected on line 2 saying %q", res, tc.want)
			}
		})
	}
}

// A row whose id is stored with other values is a conflict, counted and reported apart
// from the rows loaded before (duplicates), with the file, line, id and what differs; the
// stored row stands.
func TestIngestReportsConflictsApartFromDuplicates(t *testing.T) {
	cases := []struct {
		name, kind, first, again string
		want                     []string // the conflicts, in line order
		check                    func(*testing.T, *store.SQLite)
	}{
		{"clicks", "clicks",
			"click_id,ts,affiliate_id,ip\nc1,2026-11-01T10:00:00Z,a,1.2.3.4\nc2,2026-11-01T10:01:00Z,a,1.2.3.5\n",
			"click_id,ts,affiliate_id,ip\n" +
				"c1,2026-11-01T10:00:00Z,a,1.2.3.4\n" + // the same row: a duplicate
				"c2,2026-11-01T10:01:00Z,b,1.2.3.9\n" + // another affiliate and address
				"c3,2026-11-01T10:02:00Z,a,1.2.3.6\n" + // new
				"c3,2026-11-01T10:02:00Z,a,1.2.3.7\n", // the same id twice in one file
			[]string{`again:3: conflict: click_id "c2" is stored with other values: affiliate_id "b" (stored "a"), ip "1.2.3.9" (stored "1.2.3.5")`,
				`again:5: conflict: click_id "c3" is stored with other values: ip "1.2.3.7" (stored "1.2.3.6")`},
			func(t *testing.T, st *store.SQLite) {
				if c := storedClicks(t, st); c["c2"].AffiliateID != "a" || c["c3"].IP != "1.2.3.6" {
					t.Errorf("a conflicting row replaced the stored one: %+v", c)
				}
			}},
		{"conversions", "conversions",
			"conversion_id,ts,affiliate_id,amount,status\nv1,2026-11-01T10:00:00Z,a,50,approved\nv2,2026-11-01T10:00:00Z,a,50,pending\n",
			"conversion_id,ts,affiliate_id,amount,status\n" +
				"v1,2026-11-01T10:00:00Z,a,50,approved\n" +
				"v2,2026-11-01T11:00:00Z,a,500,pending\n" +
				"v3,2026-11-01T10:00:00Z,a,5,approved\n" +
				"v3,2026-11-01T10:00:00Z,a,5,approved\n", // the same row twice: a duplicate
			[]string{`again:3: conflict: conversion_id "v2" is stored with other values: ts 2026-11-01T11:00:00Z (stored 2026-11-01T10:00:00Z), amount 500 (stored 50)`},
			func(t *testing.T, st *store.SQLite) {
				if v := storedConversions(t, st); v["v2"].Amount != 50 {
					t.Errorf("a conflicting row replaced the stored one: %+v", v["v2"])
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			opt := detectors.IngestOptions{Now: func() time.Time { return ingestNow }}
			if res, err := ingestKind(st, tc.kind, "first", strings.NewReader(tc.first), opt); err != nil || res.Loaded != 2 {
				t.Fatalf("first load: %+v %v", res, err)
			}
			var reported []string
			opt.OnReject = func(r detectors.Reject) error { reported = append(reported, r.String()); return nil }
			res, err := ingestKind(st, tc.kind, "again", strings.NewReader(tc.again), opt)
			if err != nil {
				t.Fatal(err)
			}
			wantDup := 4 - 1 - len(tc.want)
			if res.Rows != 4 || res.Loaded != 1 || res.Conflicts != len(tc.want) || res.Duplicates != wantDup || res.Rejected != 0 {
				t.Errorf("got %+v, want 1 loaded, %d already loaded, %d conflicting", res, wantDup, len(tc.want))
			}
			if strings.Join(reported, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("reported\n%s\nwant\n%s", strings.Join(reported, "\n"), strings.Join(tc.want, "\n"))
			}
			for i, r := range res.Rejects {
				if !r.Conflict || i >= len(tc.want) || r.String() != tc.want[i] {
					t.Errorf("result keeps %+v", r)
				}
			}
			tc.check(t, st)
		})
	}
}

// A gzip file cut short loads the rows before the break and says how many, and that
// loading the whole file again completes it; the reload loads only the rest.
func TestIngestCutShortGzipSaysWhatLoadedAndAReloadCompletesIt(t *testing.T) {
	const rows = 12_000 // more than two insert batches
	var whole bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&whole, gzip.BestSpeed)
	fmt.Fprintln(zw, "click_id,ts,affiliate_id,ip,user_agent")
	for i := range rows {
		fmt.Fprintf(zw, "c%05d,2026-11-01T10:%02d:%02dZ,aff-%d,10.0.%d.%d,Mozilla/5.0 (row %d)\n", i, i/60%60, i%60, i%7, i/250, i%250, i)
	}
	zw.Close()
	st := openStore(t)
	opt := detectors.IngestOptions{Now: func() time.Time { return ingestNow }}
	cut := whole.Bytes()[:whole.Len()*2/3]
	res, err := detectors.IngestClicks(context.Background(), st, "clicks.csv.gz", bytes.NewReader(cut), opt)
	if err == nil {
		t.Fatalf("a file cut short loaded without an error: %+v", res)
	}
	stored := len(storedClicks(t, st))
	if stored != res.Loaded || stored < rows/2 {
		t.Fatalf("%d rows stored, result %+v: the rows before the break were not all loaded", stored, res)
	}
	for _, w := range []string{"clicks.csv.gz", "unexpected EOF", fmt.Sprintf("%d rows loaded", stored), "load the whole file again"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	again, err := detectors.IngestClicks(context.Background(), st, "clicks.csv.gz", bytes.NewReader(whole.Bytes()), opt)
	if err != nil || again.Loaded != rows-stored || again.Duplicates != stored || again.Conflicts != 0 || again.Rejected != 0 {
		t.Fatalf("reload of the whole file: %+v %v; want %d loaded and %d already loaded", again, err, rows-stored, stored)
	}
	if n := len(storedClicks(t, st)); n != rows {
		t.Errorf("%d clicks stored after the reload, want %d", n, rows)
	}
}

// A malformed first field is a reject like any other: it once crashed ingest (the CSV
// reader has no field position to give for it).
func TestIngestRejectsABadQuoteInTheFirstField(t *testing.T) {
	st := openStore(t)
	csv := "click_id,ts,affiliate_id\n\"c1\"x,2026-11-01T10:00:00Z,a\nc2,2026-11-01T10:00:00Z,a\n"
	res, err := detectors.IngestClicks(context.Background(), st, "clicks.csv", strings.NewReader(csv), detectors.IngestOptions{Now: func() time.Time { return ingestNow }})
	if err != nil || res.Loaded != 1 || res.Rejected != 1 || res.Rejects[0].Line != 2 || !strings.Contains(res.Rejects[0].Reason, "malformed CSV") {
		t.Fatalf("%+v %v", res, err)
	}
}

// A stray quote in one row costs that row only: the rows after it load, each counted once
// (tried as a new user would: 1,267 rows after a stray quote were never read or reported).
func TestStrayQuoteCostsOneRow(t *testing.T) {
	var b strings.Builder
	b.WriteString("click_id,ts,affiliate_id,ip,user_agent,landing_url\n")
	for i := range 2000 {
		ua := `"Mozilla/5.0 (X11; Linux x86_64), like Gecko"`
		if i == 9 {
			ua = `"Mozilla/5.0 (stray quote`
		}
		fmt.Fprintf(&b, "c%d,2026-11-01T10:00:00Z,a,192.0.2.1,%s,https://shop.example/\n", i, ua)
	}
	// a quoted field that really spans two lines is still one row, and "" is a quote
	b.WriteString("c-multi,2026-11-01T10:00:00Z,a,192.0.2.1,\"line one\nline \"\"two\"\"\",https://shop.example/\n")
	st := openStore(t)
	var rejects []detectors.Reject
	res, err := detectors.IngestClicks(context.Background(), st, "stray.csv", strings.NewReader(b.String()), detectors.IngestOptions{
		Now: func() time.Time { return ingestNow }, OnReject: func(r detectors.Reject) error { rejects = append(rejects, r); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 2001 || res.Loaded != 2000 || res.Rejected != 1 || len(rejects) != 1 || rejects[0].Line != 11 ||
		!strings.Contains(rejects[0].Reason, "quote") {
		t.Fatalf("result %+v, rejects %v: want 2001 rows, 2000 loaded, the row on line 11 rejected", res, rejects)
	}
	if got := storedClicks(t, st)["c-multi"].UserAgent; got != "line one\nline \"two\"" {
		t.Errorf("the two-line field: %q", got)
	}
}

// A header without a column every row needs fails the file once, up front, naming the
// column, instead of rejecting every row.
func TestHeaderWithoutARequiredColumnFailsOnce(t *testing.T) {
	st := openStore(t)
	var rejects int
	in := "foo,bar\n" + strings.Repeat("1,2\n", 1000)
	res, err := detectors.IngestClicks(context.Background(), st, "wrong.csv", strings.NewReader(in), detectors.IngestOptions{
		Now: func() time.Time { return ingestNow }, OnReject: func(detectors.Reject) error { rejects++; return nil }})
	if err == nil || !strings.Contains(err.Error(), "wrong.csv:1: the header has no click_id column") || rejects != 0 || res.Rows != 0 {
		t.Fatalf("err %v, %d rejects, result %+v", err, rejects, res)
	}
}
