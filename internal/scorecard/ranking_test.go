package scorecard_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/detectors"
	"github.com/affwatch/affwatch/internal/scorecard"
	"github.com/affwatch/affwatch/internal/store"
)

// loadGenerated writes a synthetic program as `affwatch events generate` does (the same
// generator and defaults) straight into the store, clicks first so that each conversion
// is joined to its click, and returns the labels.
func loadGenerated(t testing.TB, st *store.DB, opt detectors.GenOptions) []detectors.Label {
	t.Helper()
	ctx := context.Background()
	var (
		clicks []affwatch.Click
		convs  []affwatch.Conversion
	)
	flush := func() {
		if _, err := st.AddClicks(ctx, clicks); err != nil {
			t.Fatal(err)
		}
		clicks = clicks[:0]
	}
	labels, err := detectors.Generate(opt, func(c affwatch.Click) error {
		clicks = append(clicks, c)
		if len(clicks) == 5000 {
			flush()
		}
		return nil
	}, func(c affwatch.Conversion) error {
		convs = append(convs, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	flush()
	for i := 0; i < len(convs); i += 5000 {
		if _, err := st.AddConversions(ctx, convs[i:min(i+5000, len(convs))]); err != nil {
			t.Fatal(err)
		}
	}
	return labels
}

// TestRiskRankingOnGeneratedPrograms runs the detectors on programs from the generator
// (`affwatch events generate --seed N`, 300 affiliates, 10 fraudulent ones per pattern),
// stores their findings, builds the scorecards and checks the risk ranking against the
// labels: every fraudulent affiliate ranks above every clean one with a perfect record
// (no open violation of any kind), and the average precision of the ranking is high.
func TestRiskRankingOnGeneratedPrograms(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and stores about a million clicks per seed")
	}
	seeds := []int64{1, 2}
	if env := os.Getenv("AFFWATCH_RISK_SEEDS"); env != "" {
		seeds = nil
		for _, f := range strings.Fields(env) {
			n, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				t.Fatalf("AFFWATCH_RISK_SEEDS: %v", err)
			}
			seeds = append(seeds, n)
		}
	}
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			ctx := context.Background()
			st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "a.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			labels := loadGenerated(t, st, detectors.GenOptions{Seed: seed, End: end})
			scan, err := st.StartScan(ctx, affwatch.ScanKindDetect)
			if err != nil {
				t.Fatal(err)
			}
			vs, err := detectors.Run(ctx, st, detectors.Options{End: end}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.SaveDetections(ctx, scan.ID, vs); err != nil {
				t.Fatal(err)
			}
			cards, err := scorecard.Build(ctx, st, scorecard.Options{End: end})
			if err != nil {
				t.Fatal(err)
			}
			q := RankingQuality(cards, labels)
			t.Logf("seed %d: %d affiliates, %d fraudulent; average precision %.4f; lowest fraudulent score %.2f (%s), highest clean score %.2f (%s), highest clean score with a perfect record %.2f",
				seed, len(cards), q.Fraud, q.AP, q.MinFraud, q.MinFraudID, q.MaxClean, q.MaxCleanID, q.MaxPerfect)
			for i, c := range cards[:15] {
				t.Logf("  %2d %-8s %-16s %6.2f %s", i+1, c.Affiliate.ID, q.Truth[c.Affiliate.ID], c.Risk.Score, reasons(c.Risk))
			}
			if q.MinFraud <= q.MaxPerfect {
				t.Errorf("fraudulent %s (score %.2f) does not rank above every clean affiliate with a perfect record (best %.2f)",
					q.MinFraudID, q.MinFraud, q.MaxPerfect)
			}
			if q.AP < 0.95 {
				t.Errorf("average precision %.4f, want at least 0.95", q.AP)
			}
		})
	}
}

func reasons(r scorecard.Risk) string {
	var parts []string
	for _, it := range r.Items {
		parts = append(parts, fmt.Sprintf("%s %s %.1f", it.Kind, it.Name, it.Weight))
	}
	return strings.Join(parts, "; ")
}

// Quality is how well a risk ranking puts the fraudulent affiliates first.
type Quality struct {
	Fraud                          int
	AP                             float64
	MinFraud, MaxClean, MaxPerfect float64
	MinFraudID, MaxCleanID         string
	Truth                          map[string]string
}

// RankingQuality scores ranked cards against the labels. The average precision takes
// ties at their worst (a clean affiliate before a fraudulent one of the same score), so
// a ranking cannot look good by giving everyone the same score.
func RankingQuality(cards []scorecard.Card, labels []detectors.Label) Quality {
	q := Quality{Truth: map[string]string{}, MinFraud: 1e18, MaxClean: -1, MaxPerfect: -1}
	for _, l := range labels {
		q.Truth[l.AffiliateID] = l.Pattern
	}
	ranked := append([]scorecard.Card(nil), cards...)
	sort.SliceStable(ranked, func(i, j int) bool {
		if ranked[i].Risk.Score != ranked[j].Risk.Score {
			return ranked[i].Risk.Score > ranked[j].Risk.Score
		}
		return q.Truth[ranked[i].Affiliate.ID] == "" && q.Truth[ranked[j].Affiliate.ID] != ""
	})
	hits, sum := 0, 0.0
	for i, c := range ranked {
		id, s := c.Affiliate.ID, c.Risk.Score
		if q.Truth[id] != "" {
			hits++
			sum += float64(hits) / float64(i+1)
			if s < q.MinFraud {
				q.MinFraud, q.MinFraudID = s, id
			}
			continue
		}
		if s > q.MaxClean {
			q.MaxClean, q.MaxCleanID = s, id
		}
		if len(c.Violations) == 0 && s > q.MaxPerfect {
			q.MaxPerfect = s
		}
	}
	q.Fraud = hits
	if hits > 0 {
		q.AP = sum / float64(hits)
	}
	return q
}
