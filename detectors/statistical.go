package detectors

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/affwatch/affwatch"
)

// Statistical detector rule ids.
const (
	RuleClickSpam       = "FRAUD-SPAM-001"
	RuleClickInjection  = "FRAUD-INJ-001"
	RuleFakeConversions = "FRAUD-FAKE-001"
	RuleIPConcentration = "FRAUD-IP-001"
	RuleRepeatIP        = "FRAUD-IP-002"
	RuleBots            = "FRAUD-BOT-001"
	RuleTimeOfDay       = "FRAUD-TOD-001"
	RuleVolumeSpike     = "FRAUD-VOL-001"
	RuleReversals       = "FRAUD-REV-001"
)

// Tier says how strong a flag is: review (worth a look) or act (hold the commissions).
type Tier string

const (
	TierReview Tier = "review"
	TierAct    Tier = "act"
)

// Thresholds are the detectors' knobs. Every flag needs its minimum sample, its effect
// size and a Benjamini–Hochberg q-value below Alpha (ActAlpha for the act tier).
type Thresholds struct {
	// Alpha is the false discovery rate of the review tier; ActAlpha of the act tier.
	Alpha    float64 `yaml:"alpha"`
	ActAlpha float64 `yaml:"act_alpha"`
	// MinClicks and MinConversions are the smallest samples judged.
	MinClicks      int `yaml:"min_clicks"`
	MinConversions int `yaml:"min_conversions"`
	// SpamRatio: click spam needs a conversion rate at most this fraction of the program's,
	// and a share of conversions more than 24 h after the click at least SpamLongShare
	// above the program's.
	SpamRatio     float64 `yaml:"spam_ratio"`
	SpamLongShare float64 `yaml:"spam_long_share"`
	// InjectionSeconds is how soon after its click a conversion is suspiciously fast;
	// InjectionShare how much the fast share must exceed the program's.
	InjectionSeconds float64 `yaml:"injection_seconds"`
	InjectionShare   float64 `yaml:"injection_share"`
	// FakeRatio: fake conversions need a conversion rate at least this multiple of the
	// program's, and FakeHistoryRatio times the affiliate's own earlier weeks.
	FakeRatio        float64 `yaml:"fake_ratio"`
	FakeHistoryRatio float64 `yaml:"fake_history_ratio"`
	// IPShare and SubnetShare are the smallest shares of clicks from one address or one
	// /24 (/48) that count as concentrated; RepeatConversions the smallest number of
	// conversions from one address.
	IPShare           float64 `yaml:"ip_share"`
	SubnetShare       float64 `yaml:"subnet_share"`
	RepeatConversions int     `yaml:"repeat_conversions"`
	// BotShare is how much the share of automation user agents must exceed the program's.
	BotShare float64 `yaml:"bot_share"`
	// HourEffect is the smallest Cohen's w between the affiliate's and the program's
	// hour-of-day distributions (0.1 small, 0.3 medium, 0.5 large).
	HourEffect float64 `yaml:"hour_effect"`
	// SpikeRatio and SpikeZ: a day's clicks must be SpikeRatio times the affiliate's median
	// day and SpikeZ robust z-scores (median/MAD) above it, with MinBaselineDays behind it.
	SpikeRatio      float64 `yaml:"spike_ratio"`
	SpikeZ          float64 `yaml:"spike_z"`
	MinBaselineDays int     `yaml:"min_baseline_days"`
	// ReversalShare is how much the reversed share must exceed the program's.
	ReversalShare float64 `yaml:"reversal_share"`
}

// DefaultThresholds are the documented defaults.
func DefaultThresholds() Thresholds {
	return Thresholds{
		Alpha: 0.01, ActAlpha: 0.0001, MinClicks: 200, MinConversions: 10,
		SpamRatio: 0.5, SpamLongShare: 0.15,
		InjectionSeconds: 10, InjectionShare: 0.1,
		FakeRatio: 2, FakeHistoryRatio: 2,
		IPShare: 0.05, SubnetShare: 0.15, RepeatConversions: 4,
		BotShare: 0.1, HourEffect: 0.5,
		SpikeRatio: 3, SpikeZ: 6, MinBaselineDays: 14,
		ReversalShare: 0.15,
	}
}

// withDefaults fills zero fields with the defaults.
func (t Thresholds) withDefaults() Thresholds {
	d := DefaultThresholds()
	fill := func(v *float64, def float64) {
		if *v == 0 {
			*v = def
		}
	}
	fillInt := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	fill(&t.Alpha, d.Alpha)
	fill(&t.ActAlpha, d.ActAlpha)
	fillInt(&t.MinClicks, d.MinClicks)
	fillInt(&t.MinConversions, d.MinConversions)
	fill(&t.SpamRatio, d.SpamRatio)
	fill(&t.SpamLongShare, d.SpamLongShare)
	fill(&t.InjectionSeconds, d.InjectionSeconds)
	fill(&t.InjectionShare, d.InjectionShare)
	fill(&t.FakeRatio, d.FakeRatio)
	fill(&t.FakeHistoryRatio, d.FakeHistoryRatio)
	fill(&t.IPShare, d.IPShare)
	fill(&t.SubnetShare, d.SubnetShare)
	fillInt(&t.RepeatConversions, d.RepeatConversions)
	fill(&t.BotShare, d.BotShare)
	fill(&t.HourEffect, d.HourEffect)
	fill(&t.SpikeRatio, d.SpikeRatio)
	fill(&t.SpikeZ, d.SpikeZ)
	fillInt(&t.MinBaselineDays, d.MinBaselineDays)
	fill(&t.ReversalShare, d.ReversalShare)
	return t
}

// test is one affiliate's hypothesis test in one detector.
type test struct {
	s      *affStats
	metric string
	p      float64
	// pass is true when the effect size is large enough to matter; strong when the
	// supporting evidence for the act tier is there too.
	pass, strong                          bool
	value, baseline, effect, threshold, n float64
	extra                                 map[string]float64
	explain                               string
}

// detector describes one statistical detector for the catalogue and the report.
type detector struct {
	rule, title, remediation string
	tests                    func(a *aggregates, base map[string]*affStats, t Thresholds) []test
}

var statDetectors = []detector{
	{RuleClickSpam, "Click spam: clicks that do not convert, credited for later sales",
		"Compare the affiliate's click logs with its traffic sources; hold commissions on conversions long after the click.", clickSpam},
	{RuleClickInjection, "Click injection: conversions seconds after the click",
		"Ask the network for device-level attribution logs and hold the fast conversions.", clickInjection},
	{RuleFakeConversions, "Conversion rate far above the program and the affiliate's own history",
		"Check the orders behind the conversions (payment, delivery, refunds) before approving them.", fakeConversions},
	{RuleIPConcentration, "Clicks concentrated on one address or network",
		"Look at the addresses in the click log; block them or ask the partner where the traffic comes from.", ipConcentration},
	{RuleRepeatIP, "Repeat conversions from one address",
		"Check the orders from that address for the same buyer or a fraud ring.", repeatConversions},
	{RuleBots, "Clicks from automation user agents",
		"Ask the partner to filter bot traffic; do not pay for these clicks.", bots},
	{RuleTimeOfDay, "Clicks at hours unlike the program's",
		"Ask the partner where and when the traffic is bought; a click farm in another time zone looks like this.", timeOfDay},
	{RuleVolumeSpike, "Daily clicks far above the affiliate's usual volume",
		"Ask the partner what drove the spike; check the spike day's clicks for bots and repeated addresses.", volumeSpike},
	{RuleReversals, "Reversed or refunded conversions far above the program's",
		"Review the reversed orders and the partner's promotion; consider holding commissions until the return window ends.", reversals},
}

// programBase sums each program's affiliates, so that a baseline is "the program without
// this affiliate".
func programBase(a *aggregates) map[string]*affStats {
	base := map[string]*affStats{}
	for _, s := range a.affs {
		b := base[s.program]
		if b == nil {
			b = &affStats{program: s.program}
			base[s.program] = b
		}
		b.clicks += s.clicks
		b.botClicks += s.botClicks
		b.convs += s.convs
		b.reversed += s.reversed
		b.ctitKnown += s.ctitKnown
		b.ctitFast += s.ctitFast
		b.ctitLong += s.ctitLong
		for h := range s.hours {
			b.hours[h] += s.hours[h]
		}
	}
	return base
}

// others is the program's total less the affiliate's own share of one count.
func others(total, own float64) float64 { return math.Max(total-own, 0) }

// share is a/b, or 0 when b is 0.
func share(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func pct(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }

func clickSpam(a *aggregates, base map[string]*affStats, t Thresholds) []test {
	var out []test
	for _, s := range a.order {
		b := base[s.program]
		if s.clicks < float64(t.MinClicks) || s.ctitKnown < float64(t.MinConversions)/2 {
			continue
		}
		baseCR := share(others(b.convs, s.convs), others(b.clicks, s.clicks))
		cr := share(s.convs, s.clicks)
		baseLong := share(others(b.ctitLong, s.ctitLong), others(b.ctitKnown, s.ctitKnown))
		long := share(s.ctitLong, s.ctitKnown)
		if baseCR == 0 {
			continue
		}
		pLow := binomLower(s.convs, s.clicks, baseCR)
		pLong := binomUpper(s.ctitLong, s.ctitKnown, baseLong)
		ratio := cr / baseCR
		out = append(out, test{s: s, metric: "conversion_rate", p: math.Max(pLow, pLong),
			pass:   ratio <= t.SpamRatio && long >= baseLong+t.SpamLongShare,
			strong: true, value: cr, baseline: baseCR, effect: ratio, threshold: t.SpamRatio, n: s.clicks,
			extra: map[string]float64{"long_ctit_share": long, "long_ctit_baseline": baseLong, "p_rate": pLow, "p_long_ctit": pLong},
			explain: fmt.Sprintf("conversion rate %s (%.0f conversions from %.0f clicks) is %.2fx the program's %s, and %s of conversions came more than 24 h after the click (program: %s)",
				pct(cr), s.convs, s.clicks, ratio, pct(baseCR), pct(long), pct(baseLong))})
	}
	return out
}

func clickInjection(a *aggregates, base map[string]*affStats, t Thresholds) []test {
	var out []test
	for _, s := range a.order {
		if s.ctitKnown < float64(t.MinConversions) {
			continue
		}
		b := base[s.program]
		out = append(out, shareAbove(s, "ctit", shareCase{s.ctitFast, s.ctitKnown, b.ctitFast, b.ctitKnown, 1e-4, t.InjectionShare},
			func(sh, base float64) string {
				return fmt.Sprintf("%s of conversions (%.0f of %.0f) came within %.0f s of their click, against %s in the program",
					pct(sh), s.ctitFast, s.ctitKnown, t.InjectionSeconds, pct(base))
			}))
	}
	return out
}

func fakeConversions(a *aggregates, base map[string]*affStats, t Thresholds) []test {
	var out []test
	for _, s := range a.order {
		if s.clicks < float64(t.MinClicks) || s.convs < float64(t.MinConversions) {
			continue
		}
		b := base[s.program]
		baseCR := share(others(b.convs, s.convs), others(b.clicks, s.clicks))
		if baseCR == 0 {
			continue
		}
		cr := share(s.convs, s.clicks)
		p := binomUpper(s.convs, s.clicks, baseCR)
		ratio := cr / baseCR
		ex := map[string]float64{"p_program": p}
		explain := fmt.Sprintf("conversion rate %s (%.0f conversions from %.0f clicks) is %.1fx the program's %s", pct(cr), s.convs, s.clicks, ratio, pct(baseCR))
		pass := ratio >= t.FakeRatio
		strong := false
		if s.histClicks >= float64(t.MinClicks) {
			// Against its own past: a partner whose audience always converted well is not
			// flagged for it; one that jumped is.
			histCR := math.Max(share(s.histConvs, s.histClicks), 0.5/s.histClicks)
			pHist := binomUpper(s.convs, s.clicks, histCR)
			ex["history_rate"], ex["p_history"] = histCR, pHist
			p = math.Max(p, pHist)
			pass = pass && cr >= t.FakeHistoryRatio*histCR
			strong = true
			explain += fmt.Sprintf(" and %.1fx its own %s of the weeks before", cr/histCR, pct(histCR))
		} else {
			explain += " (no earlier weeks to compare with)"
		}
		out = append(out, test{s: s, metric: "conversion_rate_high", p: p, pass: pass, strong: strong,
			value: cr, baseline: baseCR, effect: ratio, threshold: t.FakeRatio, n: s.clicks, extra: ex, explain: explain})
	}
	return out
}

// topShareBaseline is the 95th percentile of the program's affiliates' top shares: what an
// honest affiliate's busiest address (or network) typically carries.
func topShareBaseline(a *aggregates, program string, top func(*affStats) (float64, float64), min float64) float64 {
	var xs []float64
	for _, s := range a.affs {
		if s.program != program {
			continue
		}
		if c, n := top(s); n >= min {
			xs = append(xs, c/n)
		}
	}
	if len(xs) < 5 {
		return 0.01
	}
	sort.Float64s(xs)
	return math.Max(xs[int(0.95*float64(len(xs)-1))], 0.001)
}

func ipConcentration(a *aggregates, _ map[string]*affStats, t Thresholds) []test {
	var out []test
	baseIP, baseNet := map[string]float64{}, map[string]float64{}
	for _, s := range a.order {
		if s.clicks < float64(t.MinClicks) {
			continue
		}
		if _, ok := baseIP[s.program]; !ok {
			baseIP[s.program] = topShareBaseline(a, s.program, func(x *affStats) (float64, float64) { return float64(x.ips.top), x.clicks }, float64(t.MinClicks))
			baseNet[s.program] = topShareBaseline(a, s.program, func(x *affStats) (float64, float64) { return float64(x.nets.top), x.clicks }, float64(t.MinClicks))
		}
		for _, k := range []struct {
			metric, what string
			c            *topCounter
			base, th     float64
		}{{"ip", "address", &s.ips, baseIP[s.program], t.IPShare}, {"subnet", "network", &s.nets, baseNet[s.program], t.SubnetShare}} {
			top := float64(k.c.top)
			sh := share(top, s.clicks)
			p := binomUpper(top, s.clicks, k.base)
			out = append(out, test{s: s, metric: k.metric, p: p, pass: sh >= k.th && sh >= 3*k.base, strong: true,
				value: sh, baseline: k.base, effect: sh / k.base, threshold: k.th, n: s.clicks,
				explain: fmt.Sprintf("%s of clicks (%.0f of %.0f) came from one %s, %s; the program's affiliates' busiest %s carries at most %s",
					pct(sh), top, s.clicks, k.what, k.c.topName, k.what, pct(k.base))})
		}
	}
	return out
}

func repeatConversions(a *aggregates, _ map[string]*affStats, t Thresholds) []test {
	var out []test
	baseline := map[string]float64{}
	for _, s := range a.order {
		if s.convs < float64(t.MinConversions) {
			continue
		}
		if _, ok := baseline[s.program]; !ok {
			// A conversion comes from an address at most as often as a click does: the
			// baseline is the busiest address's share of an honest affiliate's clicks.
			baseline[s.program] = topShareBaseline(a, s.program, func(x *affStats) (float64, float64) { return float64(x.ips.top), x.clicks }, float64(t.MinClicks))
		}
		base := baseline[s.program]
		top := float64(s.convIPs.top)
		sh := share(top, s.convs)
		// Bonferroni over the addresses the busiest one was picked from.
		p := math.Min(1, float64(len(s.convIPs.counts))*binomUpper(top, s.convs, base))
		out = append(out, test{s: s, metric: "conversion_ip", p: p, pass: top >= float64(t.RepeatConversions) && sh >= 3*base, strong: true,
			value: top, baseline: base * s.convs, effect: sh / base, threshold: float64(t.RepeatConversions), n: s.convs,
			extra: map[string]float64{"share": sh, "share_baseline": base},
			explain: fmt.Sprintf("%.0f of %.0f conversions (%s) came from clicks of one address, %s, where an honest affiliate's busiest address carries at most %s of clicks",
				top, s.convs, pct(sh), s.convIPs.topName, pct(base))})
	}
	return out
}

func bots(a *aggregates, base map[string]*affStats, t Thresholds) []test {
	var out []test
	for _, s := range a.order {
		if s.clicks < float64(t.MinClicks) {
			continue
		}
		b := base[s.program]
		out = append(out, shareAbove(s, "user_agent", shareCase{s.botClicks, s.clicks, b.botClicks, b.clicks, 1e-4, t.BotShare},
			func(sh, base float64) string {
				return fmt.Sprintf("%s of clicks (%.0f of %.0f) came from automation user agents or none, against %s in the program",
					pct(sh), s.botClicks, s.clicks, pct(base))
			}))
	}
	return out
}

func timeOfDay(a *aggregates, base map[string]*affStats, t Thresholds) []test {
	var out []test
	for _, s := range a.order {
		if s.clicks < float64(t.MinClicks) {
			continue
		}
		b := base[s.program]
		total := others(b.clicks, s.clicks)
		if total == 0 {
			continue
		}
		shares := make([]float64, 24)
		for h := range shares {
			shares[h] = others(b.hours[h], s.hours[h]) / total
		}
		chi2, p, w := chiSquareFit(s.hours[:], shares)
		peak, peakShare := 0, 0.0
		for h, c := range s.hours {
			if sh := c / s.clicks; sh > peakShare {
				peak, peakShare = h, sh
			}
		}
		out = append(out, test{s: s, metric: "hour_of_day", p: p, pass: w >= t.HourEffect, strong: true,
			value: w, baseline: 0, effect: w, threshold: t.HourEffect, n: s.clicks,
			extra: map[string]float64{"chi2": chi2, "peak_hour": float64(peak), "peak_share": peakShare, "program_peak_share": shares[peak]},
			explain: fmt.Sprintf("the hours of its %.0f clicks differ from the program's (Cohen's w %.2f bias-corrected, chi-square %.0f on 23 df); %s of its clicks fall at %02d:00 UTC against %s of the program's",
				s.clicks, w, chi2, pct(peakShare), peak, pct(shares[peak]))})
	}
	return out
}

func volumeSpike(a *aggregates, _ map[string]*affStats, t Thresholds) []test {
	var out []test
	winFrom := int(a.w.Start.Sub(a.histFrom) / (24 * 3600e9))
	for _, s := range a.order {
		if s.firstDay < 0 || winFrom-s.firstDay < t.MinBaselineDays {
			continue
		}
		med, mad := medianMAD(s.daily[s.firstDay:winFrom])
		if med <= 0 {
			continue
		}
		spread := math.Max(mad, math.Sqrt(med)) // never tighter than Poisson noise
		day, peak := -1, 0.0
		for d := winFrom; d < len(s.daily); d++ {
			if s.daily[d] > peak {
				day, peak = d, s.daily[d]
			}
		}
		if day < 0 {
			continue
		}
		z := (peak - med) / spread
		// The p-value of the busiest of the window's days: the normal tail of its robust
		// z-score, with the number of days looked at as a Bonferroni factor.
		days := float64(len(s.daily) - winFrom)
		p := math.Min(1, days*distuv.UnitNormal.Survival(z))
		date := a.histFrom.AddDate(0, 0, day).Format("2006-01-02")
		out = append(out, test{s: s, metric: "daily_clicks:" + date, p: p, pass: peak >= t.SpikeRatio*med && z >= t.SpikeZ, strong: true,
			value: peak, baseline: med, effect: peak / med, threshold: t.SpikeRatio, n: float64(winFrom - s.firstDay),
			extra: map[string]float64{"robust_z": z, "mad": mad},
			explain: fmt.Sprintf("%.0f clicks on %s, %.1fx its median day of %.0f over the %d days before (robust z %.1f)",
				peak, date, peak/med, med, winFrom-s.firstDay, z)})
	}
	return out
}

func reversals(a *aggregates, base map[string]*affStats, t Thresholds) []test {
	var out []test
	for _, s := range a.order {
		if s.convs < float64(t.MinConversions) {
			continue
		}
		b := base[s.program]
		out = append(out, shareAbove(s, "reversals", shareCase{s.reversed, s.convs, b.reversed, b.convs, 1e-3, t.ReversalShare},
			func(sh, base float64) string {
				return fmt.Sprintf("%s of conversions (%.0f of %.0f) were reversed or refunded, against %s in the program",
					pct(sh), s.reversed, s.convs, pct(base))
			}))
	}
	return out
}

// shareCase is an affiliate's k of n (fast conversions, bot clicks, reversals) beside the
// program's progK of progN, the affiliate's own included; floor keeps the baseline off zero
// and margin is how far above it a share must be.
type shareCase struct{ k, n, progK, progN, floor, margin float64 }

// shareAbove tests whether the affiliate's share is above the rest of the program's by the
// margin (binomial upper tail against the program's share).
func shareAbove(s *affStats, metric string, c shareCase, explain func(sh, base float64) string) test {
	base := math.Max(share(others(c.progK, c.k), others(c.progN, c.n)), c.floor)
	sh := share(c.k, c.n)
	return test{s: s, metric: metric, p: binomUpper(c.k, c.n, base), pass: sh >= base+c.margin, strong: true,
		value: sh, baseline: base, effect: sh - base, threshold: c.margin, n: c.n, explain: explain(sh, base)}
}

// judge runs one detector, corrects its p-values across the affiliates it tested and
// returns the flags.
func (d detector) judge(a *aggregates, base map[string]*affStats, t Thresholds) []Flag {
	tests := d.tests(a, base, t)
	ps := make([]float64, len(tests))
	for i, x := range tests {
		ps[i] = x.p
	}
	qs := benjaminiHochberg(ps)
	var out []Flag
	for i, x := range tests {
		if !x.pass || qs[i] >= t.Alpha {
			continue
		}
		tier, sev := TierReview, affwatch.SeverityMedium
		if qs[i] < t.ActAlpha && x.strong {
			tier, sev = TierAct, affwatch.SeverityHigh
		}
		nums := map[string]float64{"value": x.value, "baseline": x.baseline, "effect": x.effect, "threshold": x.threshold,
			"n": x.n, "p": x.p, "q": qs[i]}
		for k, v := range x.extra {
			nums[k] = v
		}
		msg := fmt.Sprintf("%s: %s (p%s, q%s across %d tests; tier %s)", d.title, x.explain, fmtP(x.p), fmtP(qs[i]), len(tests), tier)
		out = append(out, Flag{AffiliateID: x.s.id, Metric: x.metric, Finding: affwatch.Finding{
			RuleID: d.rule, Title: d.title, Severity: sev, Message: msg, Remediation: d.remediation,
			Evidence: affwatch.Evidence{Snippet: x.explain, Key: d.rule, Numbers: nums, Tier: string(tier)},
		}})
	}
	return out
}

// Validate checks that the thresholds make sense: probabilities in (0, 1), no negative
// counts or ratios.
func (t Thresholds) Validate() error {
	var errs []error
	for _, a := range []struct {
		name string
		v    float64
	}{{"alpha", t.Alpha}, {"act_alpha", t.ActAlpha}} {
		if a.v < 0 || a.v >= 1 {
			errs = append(errs, fmt.Errorf("%s must be between 0 and 1, not %g", a.name, a.v))
		}
	}
	if t.Alpha > 0 && t.ActAlpha > t.Alpha {
		errs = append(errs, fmt.Errorf("act_alpha (%g) must not exceed alpha (%g)", t.ActAlpha, t.Alpha))
	}
	for _, v := range []struct {
		name string
		v    float64
	}{{"min_clicks", float64(t.MinClicks)}, {"min_conversions", float64(t.MinConversions)}, {"spam_ratio", t.SpamRatio},
		{"spam_long_share", t.SpamLongShare}, {"injection_seconds", t.InjectionSeconds}, {"injection_share", t.InjectionShare},
		{"fake_ratio", t.FakeRatio}, {"fake_history_ratio", t.FakeHistoryRatio}, {"ip_share", t.IPShare},
		{"subnet_share", t.SubnetShare}, {"repeat_conversions", float64(t.RepeatConversions)}, {"bot_share", t.BotShare},
		{"hour_effect", t.HourEffect}, {"spike_ratio", t.SpikeRatio}, {"spike_z", t.SpikeZ},
		{"min_baseline_days", float64(t.MinBaselineDays)}, {"reversal_share", t.ReversalShare}} {
		if v.v < 0 {
			errs = append(errs, fmt.Errorf("%s cannot be negative", v.name))
		}
	}
	return errors.Join(errs...)
}

// fmtP writes a probability for a sentence: "=0.0031", or "<1e-15" below what a float's
// tail computation can tell apart from zero.
func fmtP(p float64) string {
	if p < 1e-15 {
		return "<1e-15"
	}
	return fmt.Sprintf("=%.2g", p)
}
