package detectors_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/detectors"
)

// ingestGenerated generates a synthetic program and loads it through the CSV ingest path
// into a real SQLite store, streaming (the generator writes while ingest reads).
func ingestGenerated(t testing.TB, st detectors.EventStore, opt detectors.GenOptions) []detectors.Label {
	t.Helper()
	ctx := context.Background()
	clickR, clickW := io.Pipe()
	convR, convW := io.Pipe()
	// Conversions are buffered to a second pipe read after the clicks, so the clicks are
	// stored first and the store can join each conversion to its click.
	var convBuf strings.Builder
	labels := make(chan []detectors.Label, 1)
	genErr := make(chan error, 1)
	go func() {
		cw, vw := detectors.NewClickCSV(clickW), detectors.NewConversionCSV(&convBuf)
		ls, err := detectors.Generate(opt, cw.Click, vw.Conversion)
		err = errorsJoin(err, cw.Flush(), vw.Flush())
		clickW.CloseWithError(err)
		labels <- ls
		genErr <- err
	}()
	res, err := detectors.IngestClicks(ctx, st, "clicks.csv", clickR, detectors.IngestOptions{})
	if err != nil || res.Rejected > 0 {
		t.Fatalf("ingest clicks: %v %+v", err, res.Rejects)
	}
	if err := <-genErr; err != nil {
		t.Fatal(err)
	}
	go func() {
		_, err := io.Copy(convW, strings.NewReader(convBuf.String()))
		convW.CloseWithError(err)
	}()
	res, err = detectors.IngestConversions(ctx, st, "conversions.csv", convR, detectors.IngestOptions{})
	if err != nil || res.Rejected > 0 {
		t.Fatalf("ingest conversions: %v %+v", err, res.Rejects)
	}
	return <-labels
}

func errorsJoin(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// score is precision and recall for one pattern.
type score struct {
	pattern           string
	tp, fp, fn        int
	precision, recall float64
	labelled          int
}

// evaluate compares the flags with the ground truth, per pattern, and counts the clean
// affiliates flagged by anything.
func evaluate(labels []detectors.Label, flags []detectors.Flag) (map[string]*score, int, int) {
	truth := map[string]string{}
	for _, l := range labels {
		truth[l.AffiliateID] = l.Pattern
	}
	flagged := map[string]map[string]bool{} // pattern -> affiliates flagged for it
	anyFlag := map[string]bool{}
	for _, f := range flags {
		p := detectors.PatternOf(f.Finding.RuleID)
		if flagged[p] == nil {
			flagged[p] = map[string]bool{}
		}
		flagged[p][f.AffiliateID] = true
		anyFlag[f.AffiliateID] = true
	}
	scores := map[string]*score{}
	for _, p := range detectors.Patterns {
		s := &score{pattern: p}
		for aff := range flagged[p] {
			if truth[aff] == p {
				s.tp++
			} else {
				s.fp++
			}
		}
		for aff, tp := range truth {
			if tp == p {
				s.labelled++
				if !flagged[p][aff] {
					s.fn++
				}
			}
		}
		s.precision = float64(s.tp) / float64(max(s.tp+s.fp, 1))
		if s.tp+s.fp == 0 {
			s.precision = 1
		}
		s.recall = float64(s.tp) / float64(max(s.tp+s.fn, 1))
		scores[p] = s
	}
	clean, cleanFlagged := 0, 0
	for aff, p := range truth {
		if p == "" {
			clean++
			if anyFlag[aff] {
				cleanFlagged++
			}
		}
	}
	return scores, clean, cleanFlagged
}

// TestDetectorsOnGeneratedPrograms runs every detector at its default thresholds on
// synthetic programs with known fraud, and holds each pattern to recall >= 0.9 and
// precision >= 0.95, with at most 1% of clean affiliates flagged.
func TestDetectorsOnGeneratedPrograms(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and ingests about a million clicks")
	}
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	seeds := []int64{1, 2}
	if env := os.Getenv("AFFWATCH_DETECT_SEEDS"); env != "" { // more seeds for a measurement
		seeds = nil
		for _, f := range strings.Fields(env) {
			n, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				t.Fatalf("AFFWATCH_DETECT_SEEDS: %v", err)
			}
			seeds = append(seeds, n)
		}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			st := openStore(t)
			labels := ingestGenerated(t, st, detectors.GenOptions{Seed: seed, End: end, Days: 28, ClicksPerDay: 90, ConversionRate: 0.045})
			flags, err := detectors.Detect(context.Background(), st, detectors.Options{End: end}, nil)
			if err != nil {
				t.Fatal(err)
			}
			scores, clean, cleanFlagged := evaluate(labels, flags)
			truth := map[string]string{}
			for _, l := range labels {
				truth[l.AffiliateID] = l.Pattern
			}
			for _, f := range flags {
				if p := detectors.PatternOf(f.Finding.RuleID); truth[f.AffiliateID] != p {
					t.Logf("false flag: %s (truly %q) %s", f.AffiliateID, truth[f.AffiliateID], f.Finding.Message)
				}
			}
			for _, p := range detectors.Patterns {
				s := scores[p]
				t.Logf("%-17s precision %.2f recall %.2f (tp %d, fp %d, fn %d of %d)", p, s.precision, s.recall, s.tp, s.fp, s.fn, s.labelled)
				if s.recall < 0.9 || s.precision < 0.95 {
					t.Errorf("%s: precision %.2f recall %.2f, want >= 0.95 and >= 0.9", p, s.precision, s.recall)
				}
			}
			rate := float64(cleanFlagged) / float64(clean)
			t.Logf("clean affiliates flagged: %d of %d (%.2f%%)", cleanFlagged, clean, 100*rate)
			if rate > 0.01 {
				t.Errorf("%.2f%% of clean affiliates flagged, want at most 1%%", 100*rate)
			}
			// Every flag says what was measured, against what, and how unlikely it is.
			for _, f := range flags {
				n := f.Finding.Evidence.Numbers
				if _, ok := n["value"]; !ok || f.Finding.Message == "" {
					t.Fatalf("%s on %s carries no numbers: %+v", f.Finding.RuleID, f.AffiliateID, f.Finding)
				}
				if detectors.PatternOf(f.Finding.RuleID) != detectors.PatternIntegrity {
					if _, ok := n["q"]; !ok || (f.Finding.Evidence.Tier != "review" && f.Finding.Evidence.Tier != "act") {
						t.Fatalf("%s on %s has no q-value or tier: %+v", f.Finding.RuleID, f.AffiliateID, f.Finding.Evidence)
					}
				}
			}
			_ = affwatch.SeverityHigh
		})
	}
}
