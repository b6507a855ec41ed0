package crawler_test

import (
	"encoding/csv"
	"fmt"
	"html"
	"io"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/affwatch/affwatch/crawler"
	"github.com/affwatch/affwatch/internal/testkit"
)

// itemText reads a platform's labelled sentences into one description per item, in order.
func itemText(t *testing.T, file string) (map[string][]string, []string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	if _, err := r.Read(); err != nil {
		t.Fatal(err)
	}
	items := map[string][]string{}
	var order []string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := items[rec[0]]; !ok {
			order = append(order, rec[0])
		}
		items[rec[0]] = append(items[rec[0]], rec[1])
	}
	return items, order
}

// labels reads an item file's any_disclosure column, by the item's id (idCol).
func labels(t *testing.T, file, idCol string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, r := range testkit.ReadCSV(t, file) {
		out[r[idCol]] = r["any_disclosure"] == "1"
	}
	return out
}

// discloses runs a description through the real extractor (each sentence a paragraph of a
// page) and reports whether it found a clear disclosure a reader can see.
func discloses(sentences []string) (bool, string) {
	var b strings.Builder
	b.WriteString("<html><body>")
	for _, s := range sentences {
		b.WriteString("<p>" + html.EscapeString(s) + "</p>")
	}
	b.WriteString("</body></html>")
	p, err := crawler.Extract([]byte(b.String()), "https://www.youtube.com/watch", crawler.ExtractOptions{})
	if err != nil {
		return false, ""
	}
	for _, d := range p.Disclosures {
		// Vague wording ("in partnership with", "#sp") is not a disclosure of a material
		// connection (the default pack flags it as DISC-004): it does not count here.
		if !d.Hidden && !d.Vague {
			return true, d.Phrase
		}
	}
	return false, ""
}

// TestDisclosureFinderOnMathur2018 measures the disclosure finder on the YouTube and
// Pinterest descriptions of Mathur et al. (CSCW 2018), every one of which carries affiliate
// links, against the study's item labels (any_disclosure), and against those labels
// corrected where a person read the disagreement (the labels are per sentence cluster and
// noisy: many "#sponsored" pins are labelled silent, many bare "Click link:" lines are
// labelled disclosures). Target: F1 >= 0.9 per platform on the corrected labels.
func TestDisclosureFinderOnMathur2018(t *testing.T) {
	dir := testkit.SharedData(t, "affiliate_disclosures_mathur2018")
	for _, platform := range []string{"youtube", "pinterest"} {
		t.Run(platform, func(t *testing.T) {
			items, order := itemText(t, dir+"/"+platform+"_labeled_sentences.csv")
			truth := labels(t, dir+"/"+platform+"_labeled_items.csv", map[string]string{"youtube": "video_id", "pinterest": "pin_id"}[platform])
			adj := adjudication(t, platform)
			var tp, fp, fn, tn int
			var falsePos, falseNeg []string
			// c* are the counts against the labels corrected by hand where a disagreement
			// was read; uFP and uFN count the disagreements nobody read.
			var ctp, cfp, cfn, uFP, uFN float64
			var readFP, readFPErr, readFN, readFNErr float64
			for _, id := range order {
				got, phrase := discloses(items[id])
				want := truth[id]
				switch {
				case got && want:
					tp++
				case got && !want:
					fp++
					falsePos = append(falsePos, fmt.Sprintf("%s [%s] %q", id, phrase, strings.Join(items[id], " | ")))
				case !got && want:
					fn++
					falseNeg = append(falseNeg, fmt.Sprintf("%s %q", id, strings.Join(items[id], " | ")))
				default:
					tn++
				}
				if v, read := adj[id]; read && got != want {
					if got {
						readFP++
					} else {
						readFN++
					}
					want = v
					if got == want {
						if got {
							readFPErr++
						} else {
							readFNErr++
						}
					}
				} else if got != want {
					if got {
						uFP++
					} else {
						uFN++
					}
					continue
				}
				switch {
				case got && want:
					ctp++
				case got && !want:
					cfp++
				case !got && want:
					cfn++
				}
			}
			p := float64(tp) / float64(max(tp+fp, 1))
			r := float64(tp) / float64(max(tp+fn, 1))
			f1 := 2 * p * r / max(p+r, 1e-9)
			t.Logf("%s: %d items, %d labelled disclosing; precision %.3f recall %.3f F1 %.3f (tp %d fp %d fn %d tn %d)",
				platform, len(order), tp+fn, p, r, f1, tp, fp, fn, tn)
			// Disagreements nobody read count as the read ones did: a share of the finder's
			// extra finds were label errors, a share of its misses were.
			if readFP > 0 {
				ctp += uFP * readFPErr / readFP
				cfp += uFP * (1 - readFPErr/readFP)
			} else {
				cfp += uFP
			}
			if readFN > 0 {
				cfn += uFN * (1 - readFNErr/readFN)
			} else {
				cfn += uFN
			}
			cp, cr := ctp/max(ctp+cfp, 1), ctp/max(ctp+cfn, 1)
			cf1 := 2 * cp * cr / max(cp+cr, 1e-9)
			t.Logf("%s, labels corrected by hand (%.0f of %d finder-only and %.0f of %d label-only items read; %.0f and %.0f were label errors): precision %.3f recall %.3f F1 %.3f",
				platform, readFP, fp, readFN, fn, readFPErr, readFNErr, cp, cr, cf1)
			if os.Getenv("AFFWATCH_SHOW_DISAGREEMENTS") != "" {
				sort.Strings(falsePos)
				sort.Strings(falseNeg)
				for _, s := range falsePos {
					t.Logf("FP %s", trim(s, 400))
				}
				for _, s := range falseNeg {
					t.Logf("FN %s", trim(s, 400))
				}
			}
			if cf1 < 0.9 {
				t.Errorf("%s: F1 %.3f against the corrected labels, want at least 0.9", platform, cf1)
			}
			// and against the study's own labels, no worse than measured when this was written
			floor := map[string]float64{"youtube": 0.80, "pinterest": 0.87}[platform]
			if f1 < floor {
				t.Errorf("%s: F1 %.3f against the study's labels, below %.2f", platform, f1, floor)
			}
			if readFP+readFN < 60 {
				t.Errorf("%s: only %.0f disagreements read by hand", platform, readFP+readFN)
			}
		})
	}
}

func trim(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// adjudication reads testdata/mathur2018_adjudication.csv: the disagreements between the
// finder and the study's labels that a person read, with the verdict (is the item
// disclosing?) and why.
func adjudication(t *testing.T, platform string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, r := range testkit.ReadCSV(t, "testdata/mathur2018_adjudication.csv") {
		if r["platform"] == platform {
			out[r["id"]] = r["verdict"] == "disclosing"
		}
	}
	return out
}
