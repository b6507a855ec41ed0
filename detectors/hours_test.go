package detectors_test

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/detectors"
	"github.com/affwatch/affwatch/internal/store"
)

// rowsOnly is the store seen without its per-hour click counts: detection then reads
// every click of the history one by one (the path before click_hours).
type rowsOnly struct{ st *store.DB }

func (r rowsOnly) EachClickSignal(ctx context.Context, since time.Time, fn func(affwatch.Click) error) error {
	return r.st.EachClickSignal(ctx, since, fn)
}

func (r rowsOnly) EachConversion(ctx context.Context, since time.Time, fn func(affwatch.Conversion) error) error {
	return r.st.EachConversion(ctx, since, fn)
}

// groupedHours counts the stored clicks per affiliate and hour from the clicks themselves.
func groupedHours(t *testing.T, st *store.DB) map[string]int {
	t.Helper()
	rows, err := st.DB().Query(`SELECT affiliate_id, (ts - ((ts % 3600000) + 3600000) % 3600000) / 3600000, count(*) FROM clicks GROUP BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var (
			aff     string
			hour, n int64
		)
		if err := rows.Scan(&aff, &hour, &n); err != nil {
			t.Fatal(err)
		}
		out[aff+"@"+time.UnixMilli(hour*3_600_000).UTC().Format(time.RFC3339)] = int(n)
	}
	return out
}

func keptHours(t *testing.T, st *store.DB) map[string]int {
	t.Helper()
	out := map[string]int{}
	err := st.EachClickHour(context.Background(), time.UnixMilli(-10*3_600_000), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
		func(aff string, hour time.Time, n int) error {
			out[aff+"@"+hour.Format(time.RFC3339)] += n
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The per-(affiliate, hour) click counts kept at ingest equal the stored clicks counted
// with a GROUP BY after a load, a reload of the same file (nothing counted twice), a file
// of rows whose ids are stored with other values (conflicts, not counted), and a file
// that mixes new rows with stored ones; and detection gives the very same flags, numbers
// and messages from them as from every click, on a generated program with all the fraud
// patterns, at a window end on the hour (counts used) and off it (every click read). Two
// runs over the same data also give the same examples (they once came in map order).
func TestClickHoursGiveTheSameFindingsAsEveryClick(t *testing.T) {
	if testing.Short() {
		t.Skip("generates, loads and judges about 200,000 clicks three times")
	}
	ctx := context.Background()
	st := openStore(t)
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var clicks, convs bytes.Buffer
	cw, vw := detectors.NewClickCSV(&clicks), detectors.NewConversionCSV(&convs)
	if _, err := detectors.Generate(detectors.GenOptions{Seed: 7, End: end, Days: 35, ClicksPerDay: 30, ConversionRate: 0.045}, cw.Click, vw.Conversion); err != nil {
		t.Fatal(err)
	}
	if err := cw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := vw.Flush(); err != nil {
		t.Fatal(err)
	}
	all := clicks.String()
	lines := strings.SplitAfter(all, "\n")
	half := strings.Join(lines[:len(lines)/2], "")
	// The first half, then the whole file: the second load mixes stored rows with new ones.
	for _, f := range []string{half, all, all} {
		if _, err := detectors.IngestClicks(ctx, st, "clicks.csv", strings.NewReader(f), detectors.IngestOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Stored ids with another affiliate: conflicts, which must not move any count.
	conflicting := lines[0] + strings.Replace(lines[1], ",aff", ",zzz", 1) + strings.Replace(lines[2], ",aff", ",zzz", 1)
	res, err := detectors.IngestClicks(ctx, st, "conflicts.csv", strings.NewReader(conflicting), detectors.IngestOptions{})
	if err != nil || res.Conflicts != 2 {
		t.Fatalf("conflicting rows: %v %+v", err, res)
	}
	if _, err := detectors.IngestConversions(ctx, st, "conversions.csv", strings.NewReader(convs.String()), detectors.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	want, got := groupedHours(t, st), keptHours(t, st)
	if len(want) < 1000 || !reflect.DeepEqual(got, want) {
		t.Fatalf("click_hours holds %d affiliate-hours, the clicks %d; they differ", len(got), len(want))
	}
	for _, end := range []time.Time{end, end.Add(-90 * time.Minute), end.Add(-3 * 24 * time.Hour)} {
		fromHours, err := detectors.Detect(ctx, st, detectors.Options{End: end}, nil)
		if err != nil {
			t.Fatal(err)
		}
		fromRows, err := detectors.Detect(ctx, rowsOnly{st}, detectors.Options{End: end}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(fromRows) < 10 {
			t.Fatalf("end %s: only %d flags: the program should hold fraud of every pattern", end, len(fromRows))
		}
		if !reflect.DeepEqual(fromHours, fromRows) {
			t.Errorf("end %s: %d flags from the hour counts, %d from the clicks, and they differ", end, len(fromHours), len(fromRows))
			for i := range min(len(fromHours), len(fromRows)) {
				if !reflect.DeepEqual(fromHours[i], fromRows[i]) {
					t.Fatalf("first difference:\n hours %+v\n rows  %+v", fromHours[i], fromRows[i])
				}
			}
		}
	}
}
