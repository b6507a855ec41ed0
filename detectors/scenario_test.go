package detectors_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/detectors"
)

// TestScenarios measures the detectors (per affiliate) and the per-event verdicts (per
// conversion) on the harder programs the thresholds were not set on: fraud spread over
// many small affiliates, two patterns in one affiliate, fraud ramping up over the weeks,
// and honest affiliates with odd audiences. The seeds (3, unless AFFWATCH_SCENARIO_SEEDS
// says) are not the ones the detectors' thresholds were tuned on (1 and 2). It prints the
// README's table; it runs when AFFWATCH_SCENARIOS is set (a few minutes).
func TestScenarios(t *testing.T) {
	if os.Getenv("AFFWATCH_SCENARIOS") == "" {
		t.Skip("set AFFWATCH_SCENARIOS=1 to measure the scenarios (a few minutes)")
	}
	seeds := []int64{3}
	if env := os.Getenv("AFFWATCH_SCENARIO_SEEDS"); env != "" {
		seeds = nil
		for _, f := range strings.Fields(env) {
			n, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			seeds = append(seeds, n)
		}
	}
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var table []string
	for _, scenario := range detectors.Scenarios {
		for _, seed := range seeds {
			name := scenario
			if name == "" {
				name = "standard"
			}
			t.Run(fmt.Sprintf("%s/seed%d", name, seed), func(t *testing.T) {
				opt := detectors.GenOptions{Seed: seed, End: end, Days: 28, ClicksPerDay: 90, ConversionRate: 0.045, Scenario: scenario}
				if scenario == detectors.ScenarioSpread {
					opt.Affiliates = 600
				}
				st := openStore(t)
				labels, fraudEvents := ingestJudged(t, st, opt)
				flags, err := detectors.Detect(context.Background(), st, detectors.Options{End: end}, nil)
				if err != nil {
					t.Fatal(err)
				}
				a := affiliateScore(labels, flags)
				e := eventScore(t, st, labels, fraudEvents)
				t.Logf("affiliates: precision %.2f recall %.2f, clean flagged %d of %d (%.1f%%)%s; per pattern: %s",
					a.precision, a.recall, a.cleanFlagged, a.clean, 100*a.cleanRate(), a.oddNote, a.perPattern)
				t.Logf("conversions: precision %.2f recall %.2f (%d fraudulent, %d flagged), clean affiliates' conversions flagged %.2f%%; recall per pattern: %s",
					e.precision, e.recall, e.fraud, e.flagged, 100*e.cleanRate, e.perPattern)
				table = append(table, fmt.Sprintf("| %s | %d | %.2f | %.2f | %.1f%% (%d of %d)%s | %.2f | %.2f | %.2f%% |", name, seed,
					a.precision, a.recall, 100*a.cleanRate(), a.cleanFlagged, a.clean, a.oddNote, e.precision, e.recall, 100*e.cleanRate))
			})
		}
	}
	t.Log("\n| scenario | seed | affiliate precision | affiliate recall | clean affiliates flagged | event precision | event recall | clean events flagged |\n|---|---|---|---|---|---|---|---|\n" +
		strings.Join(table, "\n"))
}

// ingestJudged generates a program and loads it through the CSV ingest path with the
// per-event judge, clicks first; it returns the labels and the fraudulent conversions
// (id -> pattern).
func ingestJudged(t *testing.T, st detectors.EventStore, opt detectors.GenOptions) ([]detectors.Label, map[string]string) {
	t.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	fraud := map[string]string{}
	opt.Event = func(l detectors.EventLabel) error {
		if l.Kind == "conversion" {
			mu.Lock()
			fraud[l.ID] = l.Pattern
			mu.Unlock()
		}
		return nil
	}
	judge := detectors.NewJudge(detectors.VerdictRules{}, nil)
	iopt := detectors.IngestOptions{Judge: judge, Now: func() time.Time { return opt.End }}
	clickR, clickW := io.Pipe()
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
	if res, err := detectors.IngestClicks(ctx, st, "clicks.csv", clickR, iopt); err != nil || res.Rejected > 0 {
		t.Fatalf("ingest clicks: %v %+v", err, res.Rejects)
	}
	if err := <-genErr; err != nil {
		t.Fatal(err)
	}
	if res, err := detectors.IngestConversions(ctx, st, "conversions.csv", strings.NewReader(convBuf.String()), iopt); err != nil || res.Rejected > 0 {
		t.Fatalf("ingest conversions: %v %+v", err, res.Rejects)
	}
	return <-labels, fraud
}

type affScore struct {
	precision, recall   float64
	clean, cleanFlagged int
	oddNote, perPattern string
	tp, fp, fn          int
}

func (a affScore) cleanRate() float64 { return float64(a.cleanFlagged) / float64(max(a.clean, 1)) }

// affiliateScore counts, over every pattern, the affiliates flagged for it that run it
// (a mixed affiliate runs two), those flagged for it that do not, and those missed.
func affiliateScore(labels []detectors.Label, flags []detectors.Flag) affScore {
	flagged := map[string]map[string]bool{}
	anyFlag := map[string]bool{}
	for _, f := range flags {
		p := detectors.PatternOf(f.Finding.RuleID)
		if flagged[p] == nil {
			flagged[p] = map[string]bool{}
		}
		flagged[p][f.AffiliateID] = true
		anyFlag[f.AffiliateID] = true
	}
	var s affScore
	runs := map[string][]string{}
	odd := map[string][2]int{}
	for _, l := range labels {
		runs[l.AffiliateID] = l.Patterns()
		if l.Pattern == "" {
			s.clean++
			if anyFlag[l.AffiliateID] {
				s.cleanFlagged++
			}
			if l.Audience != "" {
				x := odd[l.Audience]
				x[1]++
				if anyFlag[l.AffiliateID] {
					x[0]++
				}
				odd[l.Audience] = x
			}
		}
	}
	var parts []string
	for _, p := range detectors.Patterns {
		tp, fp, fn := 0, 0, 0
		for aff := range flagged[p] {
			if slices.Contains(runs[aff], p) {
				tp++
			} else {
				fp++
			}
		}
		for aff, ps := range runs {
			if slices.Contains(ps, p) && !flagged[p][aff] {
				fn++
			}
		}
		s.tp, s.fp, s.fn = s.tp+tp, s.fp+fp, s.fn+fn
		parts = append(parts, fmt.Sprintf("%s %d/%d", p, tp, tp+fn))
	}
	s.precision = float64(s.tp) / float64(max(s.tp+s.fp, 1))
	s.recall = float64(s.tp) / float64(max(s.tp+s.fn, 1))
	s.perPattern = strings.Join(parts, ", ")
	for _, aud := range []string{detectors.AudienceNightShift, detectors.AudienceNewsletter} {
		if x, ok := odd[aud]; ok {
			s.oddNote += fmt.Sprintf("; %s %d of %d", strings.ReplaceAll(aud, "_", " "), x[0], x[1])
		}
	}
	return s
}

type evScore struct {
	precision, recall, cleanRate float64
	fraud, flagged               int
	perPattern                   string
}

// eventScore compares the stored conversion verdicts (review or reject is flagged) with
// the fraudulent conversions the generator named.
func eventScore(t *testing.T, st interface {
	EachVerdict(context.Context, affwatch.VerdictFilter, func(affwatch.EventVerdict) error) error
}, labels []detectors.Label, fraud map[string]string) evScore {
	t.Helper()
	clean := map[string]bool{}
	for _, l := range labels {
		clean[l.AffiliateID] = l.Pattern == ""
	}
	var (
		s                       evScore
		tp, fp, cleanN, cleanFl int
		hitByPattern, byPattern = map[string]int{}, map[string]int{}
	)
	for _, p := range fraud {
		byPattern[p]++
	}
	err := st.EachVerdict(context.Background(), affwatch.VerdictFilter{}, func(v affwatch.EventVerdict) error {
		flagged := v.Verdict != affwatch.VerdictOK
		p, isFraud := fraud[v.ConversionID]
		if flagged {
			s.flagged++
			if isFraud {
				tp++
				hitByPattern[p]++
			} else {
				fp++
			}
		}
		if clean[v.AffiliateID] {
			cleanN++
			if flagged {
				cleanFl++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.fraud = len(fraud)
	s.precision = float64(tp) / float64(max(tp+fp, 1))
	s.recall = float64(tp) / float64(max(len(fraud), 1))
	s.cleanRate = float64(cleanFl) / float64(max(cleanN, 1))
	var parts []string
	for _, p := range detectors.Patterns {
		if byPattern[p] > 0 {
			parts = append(parts, fmt.Sprintf("%s %.2f (%d)", p, float64(hitByPattern[p])/float64(byPattern[p]), byPattern[p]))
		}
	}
	s.perPattern = strings.Join(parts, ", ")
	return s
}
