package detectors

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/affwatch/affwatch"
)

// EventSource is the part of the store that detectors read.
type EventSource interface {
	// EachClickSignal streams clicks with only TS, AffiliateID, IP and UserAgent set.
	EachClickSignal(ctx context.Context, since time.Time, fn func(affwatch.Click) error) error
	EachConversion(ctx context.Context, since time.Time, fn func(affwatch.Conversion) error) error
}

// Detector rule ids. Detector findings live in the same catalogue as policy rules.
const (
	RuleDuplicateOrder   = "FRAUD-INT-001"
	RuleUnknownClick     = "FRAUD-INT-002"
	RuleConversionBefore = "FRAUD-INT-003"
)

var integrityTitles = map[string]string{
	RuleDuplicateOrder:   "Order credited more than once",
	RuleUnknownClick:     "Conversion without a logged click",
	RuleConversionBefore: "Conversion before its click",
}

const integrityRemediation = "Hold the commission on these conversions and ask the network for the click records."

// Window is the stretch of time a detector run judges.
type Window struct {
	Start, End time.Time
}

// integrityTally checks conversions that cannot be right whatever the statistics: an
// order credited twice, a conversion whose click the network never logged, and a
// conversion that happened before its click. It is fed the window's conversions, oldest
// first, by the detectors' one pass over them.
type integrityTally struct {
	counts map[[2]string]*exampleTally // (affiliate, rule) -> tally
	totals map[string]int
	orders map[string][]affwatch.Conversion
}

// exampleTally counts one problem of one affiliate and keeps a few examples.
type exampleTally struct {
	n        int
	examples []string
}

func newIntegrityTally() *integrityTally {
	return &integrityTally{counts: map[[2]string]*exampleTally{}, totals: map[string]int{}, orders: map[string][]affwatch.Conversion{}}
}

func (it *integrityTally) note(aff, rule, example string) {
	k := [2]string{aff, rule}
	t := it.counts[k]
	if t == nil {
		t = &exampleTally{}
		it.counts[k] = t
	}
	t.n++
	if len(t.examples) < 5 {
		t.examples = append(t.examples, example)
	}
}

// add checks one conversion of the window.
func (it *integrityTally) add(c affwatch.Conversion) {
	it.totals[c.AffiliateID]++
	if c.OrderID != "" {
		it.orders[c.OrderID] = append(it.orders[c.OrderID], c)
	}
	switch {
	case c.ClickID == "" || c.ClickTS.IsZero():
		it.note(c.AffiliateID, RuleUnknownClick, c.ConversionID)
	case c.TS.Before(c.ClickTS):
		it.note(c.AffiliateID, RuleConversionBefore, fmt.Sprintf("%s (%s before its click)", c.ConversionID, c.ClickTS.Sub(c.TS).Round(time.Second)))
	}
}

// flags returns one finding per affiliate and problem, with the count and examples as
// evidence.
func (it *integrityTally) flags(w Window) []Flag {
	// Orders in id order, and claims of one order in time order (ties as they came), so
	// the examples a finding shows are the same on every run over the same data.
	orders := make([]string, 0, len(it.orders))
	for order, cs := range it.orders {
		if len(cs) >= 2 {
			orders = append(orders, order)
		}
	}
	sort.Strings(orders)
	for _, order := range orders {
		cs := it.orders[order]
		// every conversion after the first for the same order is a duplicate claim
		sort.SliceStable(cs, func(i, j int) bool { return cs[i].TS.Before(cs[j].TS) })
		for _, c := range cs[1:] {
			// Another affiliate is not named: each manager's report shows only their own.
			first := "the same affiliate"
			if cs[0].AffiliateID != c.AffiliateID {
				first = "another affiliate, conversion " + cs[0].ConversionID
			}
			it.note(c.AffiliateID, RuleDuplicateOrder, fmt.Sprintf("order %s (%s, first credited to %s)", order, c.ConversionID, first))
		}
	}
	var out []Flag
	keys := make([][2]string, 0, len(it.counts))
	for k := range it.counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	for _, k := range keys {
		t := it.counts[k]
		aff, rule := k[0], k[1]
		total := it.totals[aff]
		share := float64(t.n) / float64(max(total, 1))
		f := affwatch.Finding{
			RuleID:   rule,
			Title:    integrityTitles[rule],
			Severity: affwatch.SeverityHigh,
			Message: fmt.Sprintf("%d of %d conversions (%.1f%%) in %s – %s: %s", t.n, total, 100*share,
				w.Start.Format("2006-01-02"), w.End.Format("2006-01-02"), integrityTitles[rule]),
			Remediation: integrityRemediation,
			Evidence: affwatch.Evidence{
				Snippet: fmt.Sprint(t.examples),
				Key:     rule,
				Numbers: map[string]float64{"value": float64(t.n), "conversions": float64(total), "share": share, "threshold": 1},
			},
		}
		out = append(out, Flag{AffiliateID: aff, Metric: "conversions", Finding: f})
	}
	return out
}
