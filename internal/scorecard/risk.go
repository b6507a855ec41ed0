package scorecard

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"

	"github.com/affwatch/affwatch"
)

// Weights say how much each reason adds to an affiliate's risk score (config
// scorecard.weights). A weight left at zero takes its default (a severity can be set to 0
// to ignore it); no weight may be negative.
type Weights struct {
	// Severity is added for each open violation (a policy's on a page, or a joined
	// rule's) by its severity name: critical, high, medium, low, info.
	Severity map[string]float64 `yaml:"severity" json:"severity"`
	// FindingAct and FindingReview are added for each open detector finding of tier act
	// (hold the commissions) and review (worth a look).
	FindingAct    float64 `yaml:"finding_act" json:"finding_act"`
	FindingReview float64 `yaml:"finding_review" json:"finding_review"`
	// PageNotVerified is added for each page the last scan could not verify (at most
	// five count): what cannot be seen cannot be trusted.
	PageNotVerified float64 `yaml:"page_not_verified" json:"page_not_verified"`
	// ReversalRate is added per 10 points of reversal rate above the program's, when at
	// least 10 points above it with 10 conversions or more.
	ReversalRate float64 `yaml:"reversal_rate" json:"reversal_rate"`
	// FastConversions is added per 10 points of fast conversions (within fast_seconds of
	// the click) above the program's share, when at least 10 points above it with 10
	// timed conversions or more.
	FastConversions float64 `yaml:"fast_conversions" json:"fast_conversions"`
	// ConversionRateJump is added once when the conversion rate at least doubled against
	// the previous period (10 conversions or more now).
	ConversionRateJump float64 `yaml:"conversion_rate_jump" json:"conversion_rate_jump"`
	// CommissionAtRisk is added per 100 (of the program's currency) of commission on
	// conversions in review or rejected (once per-event verdicts exist).
	CommissionAtRisk float64 `yaml:"commission_at_risk" json:"commission_at_risk"`
}

// DefaultWeights are the weights when the config sets none.
func DefaultWeights() Weights {
	return Weights{
		Severity:           map[string]float64{"critical": 40, "high": 20, "medium": 8, "low": 2, "info": 0},
		FindingAct:         35,
		FindingReview:      15,
		PageNotVerified:    3,
		ReversalRate:       5,
		FastConversions:    5,
		ConversionRateJump: 10,
		CommissionAtRisk:   1,
	}
}

// WithDefaults fills the weights left at zero (and the severities left out) with the
// defaults.
func (w Weights) WithDefaults() Weights {
	d := DefaultWeights()
	sev := map[string]float64{}
	for k, v := range d.Severity {
		sev[k] = v
	}
	for k, v := range w.Severity {
		sev[k] = v
	}
	w.Severity = sev
	for _, f := range []struct{ v, d *float64 }{{&w.FindingAct, &d.FindingAct}, {&w.FindingReview, &d.FindingReview},
		{&w.PageNotVerified, &d.PageNotVerified}, {&w.ReversalRate, &d.ReversalRate}, {&w.FastConversions, &d.FastConversions},
		{&w.ConversionRateJump, &d.ConversionRateJump}, {&w.CommissionAtRisk, &d.CommissionAtRisk}} {
		if *f.v == 0 {
			*f.v = *f.d
		}
	}
	return w
}

// WeightError is one weight that makes no sense; Key is its path under scorecard.weights
// (severity.critical, finding_act), so a config can name its line.
type WeightError struct {
	Key string
	Msg string
}

func (e WeightError) Error() string { return e.Key + ": " + e.Msg }

// Validate checks the weights: none negative, severities by their names.
func (w Weights) Validate() error {
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(w.Severity)) {
		if _, err := affwatch.ParseSeverity(k); err != nil {
			errs = append(errs, WeightError{"severity." + k, "not a severity (want info, low, medium, high or critical)"})
		} else if w.Severity[k] < 0 {
			errs = append(errs, WeightError{"severity." + k, "cannot be negative"})
		}
	}
	for _, f := range []struct {
		key string
		v   float64
	}{{"finding_act", w.FindingAct}, {"finding_review", w.FindingReview}, {"page_not_verified", w.PageNotVerified},
		{"reversal_rate", w.ReversalRate}, {"fast_conversions", w.FastConversions}, {"conversion_rate_jump", w.ConversionRateJump},
		{"commission_at_risk", w.CommissionAtRisk}} {
		if f.v < 0 {
			errs = append(errs, WeightError{f.key, fmt.Sprintf("cannot be negative (%g)", f.v)})
		}
	}
	return errors.Join(errs...)
}

// Risk is an affiliate's risk score and every reason behind it.
type Risk struct {
	Score float64    `json:"score"`
	Items []RiskItem `json:"items"`
}

// RiskItem is one reason: a violation (by rule), a fraud finding (by detector rule) or a
// traffic signal, with the weight it adds and what it rests on.
type RiskItem struct {
	Kind   string  `json:"kind"` // violation, finding or signal
	Name   string  `json:"name"` // a rule id, or the signal's name
	Weight float64 `json:"weight"`
	Detail string  `json:"detail"`
}

// The thresholds of the traffic signals (documented on Weights).
const (
	minSignalConversions = 10
	signalExcess         = 0.10
	maxUnverifiedPages   = 5
)

// Score scores a card with the weights (already WithDefaults).
func Score(c *Card, w Weights) Risk {
	r := Risk{Items: []RiskItem{}}
	add := func(kind, name string, weight float64, format string, a ...any) {
		if weight <= 0 {
			return
		}
		r.Items = append(r.Items, RiskItem{Kind: kind, Name: name, Weight: round2(weight), Detail: fmt.Sprintf(format, a...)})
	}
	for _, v := range c.Violations {
		if v.Source == string(affwatch.SourceDetector) {
			continue // counted as a finding below
		}
		where := v.URL
		if where == "" {
			where = "the affiliate"
		}
		add("violation", v.RuleID, w.Severity[v.Severity], "%s (%s) on %s", v.RuleID, v.Severity, where)
	}
	for _, f := range c.Findings {
		tier := f.Tier
		if tier == "" {
			tier = "review"
			if sev, _ := affwatch.ParseSeverity(f.Severity); sev >= affwatch.SeverityHigh {
				tier = "act"
			}
		}
		weight := w.FindingReview
		if tier == "act" {
			weight = w.FindingAct
		}
		detail := fmt.Sprintf("%s, tier %s", f.RuleID, tier)
		if v, ok := f.Numbers["value"]; ok {
			detail += fmt.Sprintf(": value %.3g against %.3g", v, f.Numbers["baseline"])
		}
		add("finding", f.RuleID, weight, "%s", detail)
	}
	sc, base := c.Scorecard, c.Baseline
	if n := sc.PagesNotVerified; n > 0 {
		add("signal", "pages_not_verified", w.PageNotVerified*float64(min(n, maxUnverifiedPages)),
			"%d of %d page(s) of the last scan could not be verified", n, sc.PagesChecked)
	}
	cur := sc.Current
	if cur.Conversions >= minSignalConversions && cur.ReversalRate >= base.ReversalRate+signalExcess {
		ex := cur.ReversalRate - base.ReversalRate
		add("signal", "reversal_rate", w.ReversalRate*ex*10, "reversal rate %.1f%% (%d of %d) against %.1f%% in the program",
			100*cur.ReversalRate, cur.Reversed, cur.Conversions, 100*base.ReversalRate)
	}
	if cur.TimedConversions >= minSignalConversions && cur.FastShare >= base.FastShare+signalExcess {
		ex := cur.FastShare - base.FastShare
		add("signal", "fast_conversions", w.FastConversions*ex*10, "%.1f%% of conversions (%d of %d) came seconds after the click, against %.1f%% in the program",
			100*cur.FastShare, cur.Fast, cur.TimedConversions, 100*base.FastShare)
	}
	prev := sc.Previous
	if cur.Conversions >= minSignalConversions && prev.ConversionRate > 0 && cur.ConversionRate >= 2*prev.ConversionRate {
		add("signal", "conversion_rate_jump", w.ConversionRateJump, "conversion rate %.2f%% against %.2f%% the period before",
			100*cur.ConversionRate, 100*prev.ConversionRate)
	}
	if sc.CommissionAtRisk != nil && *sc.CommissionAtRisk > 0 {
		add("signal", "commission_at_risk", w.CommissionAtRisk**sc.CommissionAtRisk/100, "%.2f of commission on conversions in review or rejected",
			*sc.CommissionAtRisk)
	}
	sort.SliceStable(r.Items, func(i, j int) bool { return r.Items[i].Weight > r.Items[j].Weight })
	for _, it := range r.Items {
		r.Score += it.Weight
	}
	r.Score = round2(r.Score)
	if math.IsNaN(r.Score) {
		r.Score = 0
	}
	return r
}
