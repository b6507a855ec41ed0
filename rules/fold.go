package rules

import (
	"fmt"
	"strings"

	"github.com/affwatch/affwatch"
)

// mergeSameKey merges the findings of one rule that share their evidence key (two claim
// lists that both match "cures insomnia"): they would be one violation, so the first
// finding stands for them and its message keeps the others' words. The findings are in
// rule order.
func mergeSameKey(fs []affwatch.Finding) []affwatch.Finding {
	out := fs[:0]
	for i := 0; i < len(fs); {
		j := i + 1
		for j < len(fs) && fs[j].RuleID == fs[i].RuleID {
			j++
		}
		// fs[i:j] are one rule's findings
		first := map[string]int{} // key -> index in out
		for _, f := range fs[i:j] {
			k := f.Evidence.FingerprintKey()
			at, dup := first[k]
			if !dup {
				first[k] = len(out)
				out = append(out, f)
				continue
			}
			m := &out[at]
			if f.Message != m.Message && !strings.Contains(m.Message, "(also: "+f.Message+")") {
				m.Message += " (also: " + f.Message + ")"
			}
			if f.Suppressed == "" {
				m.Suppressed = "" // suppressed only if every merged finding is
			}
		}
		i = j
	}
	return out
}

// FoldedKey is the evidence key of the one finding that stands for a rule's findings on a
// page past the cap: it keeps one fingerprint however many offences the page holds.
const FoldedKey = "(folded)"

// foldShown is how many of the folded findings' messages the folded finding quotes.
const foldShown = 5

// foldFindings folds one rule's findings on a page into one when there are more than max:
// the first one's evidence, a message that counts them and quotes the first few, and
// Numbers["findings"] with the count. The findings are in rule order.
func foldFindings(fs []affwatch.Finding, max int) []affwatch.Finding {
	out := fs[:0]
	for i := 0; i < len(fs); {
		j := i + 1
		for j < len(fs) && fs[j].RuleID == fs[i].RuleID {
			j++
		}
		group := fs[i:j]
		i = j
		if len(group) <= max {
			out = append(out, group...)
			continue
		}
		f := group[0]
		var msgs []string
		for _, g := range group[:foldShown] {
			msgs = append(msgs, g.Message)
		}
		f.Message = fmt.Sprintf("%d findings of this rule on this page (more than %d are counted as one); the first %d: %s",
			len(group), max, foldShown, strings.Join(msgs, " | "))
		f.Evidence.Key = FoldedKey
		f.Evidence.Numbers = map[string]float64{"findings": float64(len(group))}
		for _, g := range group {
			if g.Suppressed == "" {
				f.Suppressed = ""
				break
			}
		}
		out = append(out, f)
	}
	return out
}
