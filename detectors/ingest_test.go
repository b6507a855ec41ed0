package detectors_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/affwatch/affwatch/detectors"
	"github.com/affwatch/affwatch/fixtures"
	"github.com/affwatch/affwatch/internal/store"
)

func openStore(t *testing.T) *store.DB {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "e.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestIngestIsIdempotentAndRejectsBadRows(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	csv := "click_id,ts,affiliate_id,ip\n" +
		"c1,2026-11-01T10:00:00Z,a,1.2.3.4\n" +
		"c2,not-a-time,a,1.2.3.4\n" +
		",2026-11-01T10:00:00Z,a,1.2.3.4\n" +
		"c3,\"2026-11-01 11:00:00\",b,1.2.3.5\n" +
		"c4,\"broken,quote\n"
	res, err := detectors.IngestClicks(ctx, st, "clicks.csv", strings.NewReader(csv), detectors.IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Loaded != 2 || len(res.Rejects) != 3 {
		t.Fatalf("first load: %+v", res)
	}
	wantLines := map[int]string{3: "ts", 4: "click_id is missing", 6: "malformed CSV"}
	for _, r := range res.Rejects {
		if w, ok := wantLines[r.Line]; !ok || !strings.Contains(r.Reason, w) || r.File != "clicks.csv" {
			t.Errorf("reject %s: want line in %v", r, wantLines)
		}
	}
	again, err := detectors.IngestClicks(ctx, st, "clicks.csv", strings.NewReader(csv), detectors.IngestOptions{})
	if err != nil || again.Loaded != 0 || again.Duplicates != 2 {
		t.Fatalf("second load of the same file: %+v %v", again, err)
	}
}

func TestIngestJSONLinesGzipWithMapping(t *testing.T) {
	st := openStore(t)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(`{"id":"v1","click":"c1","time":"2026-11-01T10:05:00Z","publisher":"a","order":"o1","amount":12.5,"status":"approved"}` + "\n\n" +
		`{"id":"v2","time":"2026-11-01T10:06:00Z","publisher":"a","amount":"x"}` + "\n" + `{not json}` + "\n"))
	zw.Close()
	m := detectors.Mapping{"conversion_id": "id", "click_id": "click", "ts": "time", "affiliate_id": "publisher", "order_id": "order"}
	res, err := detectors.IngestConversions(context.Background(), st, "conv.jsonl.gz", &buf, detectors.IngestOptions{Mapping: m})
	if err != nil {
		t.Fatal(err)
	}
	if res.Loaded != 1 || len(res.Rejects) != 2 || res.Rejects[0].Line != 3 || res.Rejects[1].Line != 4 {
		t.Fatalf("%+v", res)
	}
}

func TestIntegrityFlagsTheFixtureFraud(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	for _, kind := range []string{"clicks", "conversions"} {
		f, err := fixtures.Events.Open("events/" + kind + ".csv")
		if err != nil {
			t.Fatal(err)
		}
		if kind == "clicks" {
			_, err = detectors.IngestClicks(ctx, st, kind, f, detectors.IngestOptions{})
		} else {
			_, err = detectors.IngestConversions(ctx, st, kind, f, detectors.IngestOptions{})
		}
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	end := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	vs, err := detectors.Run(ctx, st, detectors.Options{End: end}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, v := range vs {
		got[v.RuleID] = v.AffiliateID
		if v.Evidence.Numbers["value"] < 1 || v.Evidence.Numbers["conversions"] < 1 {
			t.Errorf("%s carries no numbers: %+v", v.RuleID, v.Evidence)
		}
	}
	want := map[string]string{detectors.RuleUnknownClick: "stuffer", detectors.RuleConversionBefore: "stuffer"}
	for rule, aff := range want {
		if got[rule] != aff {
			t.Errorf("%s: flagged %q, want %q (all: %v)", rule, got[rule], aff, got)
		}
	}
	if _, ok := got[detectors.RuleDuplicateOrder]; !ok {
		t.Errorf("the order credited twice was not flagged: %v", got)
	}
	if len(vs) != 3 {
		t.Errorf("%d findings, want 3: %v", len(vs), got)
	}
}
