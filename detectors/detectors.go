package detectors

import (
	"context"
	"time"

	"github.com/affwatch/affwatch"
)

// Flag is a detector's finding about one affiliate's traffic.
type Flag struct {
	AffiliateID string
	// Metric names what was measured ("conversion_rate", "ip"); it stands where a page
	// URL stands in a policy violation's fingerprint.
	Metric  string
	Finding affwatch.Finding
}

// Options set a detector run.
type Options struct {
	// End is the end of the window judged; Window its length (default 7 days).
	End    time.Time
	Window time.Duration
	// History is how far before the window the affiliate's own baseline reaches
	// (default 28 days).
	History    time.Duration
	Thresholds Thresholds
}

// Run runs every detector over the window and returns their flags as violations. affs
// resolves affiliate ids to their program (each program is its own baseline); traffic of
// affiliates not in the configuration is still judged, as one more program.
func Run(ctx context.Context, src EventSource, opt Options, affs []affwatch.Affiliate) ([]affwatch.Violation, error) {
	flags, err := Detect(ctx, src, opt, affs)
	if err != nil {
		return nil, err
	}
	byID := map[string]affwatch.Affiliate{}
	for _, a := range affs {
		byID[a.ID] = a
	}
	out := make([]affwatch.Violation, 0, len(flags))
	for _, f := range flags {
		aff, ok := byID[f.AffiliateID]
		if !ok {
			aff = affwatch.Affiliate{ID: f.AffiliateID}
		}
		v := affwatch.NewViolation(f.Finding, affwatch.SourceDetector, aff, "metric:"+f.Metric)
		v.URL = ""
		out = append(out, v)
	}
	return out, nil
}

// Detect runs the integrity checks and the statistical detectors and returns their flags.
func Detect(ctx context.Context, src EventSource, opt Options, affs []affwatch.Affiliate) ([]Flag, error) {
	if opt.Window <= 0 {
		opt.Window = 7 * 24 * time.Hour
	}
	if opt.History <= 0 {
		opt.History = 28 * 24 * time.Hour
	}
	t := opt.Thresholds.withDefaults()
	w := Window{Start: opt.End.Add(-opt.Window), End: opt.End}
	a, err := aggregate(ctx, src, w, opt.History, t.InjectionSeconds, affs)
	if err != nil {
		return nil, err
	}
	flags := a.integrity.flags(w)
	base := programBase(a)
	for _, d := range statDetectors {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		flags = append(flags, d.judge(a, base, t)...)
	}
	return flags, nil
}

// Rule describes a detector rule for the catalogue and the reports.
type Rule struct {
	ID, Title, Remediation string
}

// Rules lists every detector rule.
func Rules() []Rule {
	out := []Rule{
		{RuleDuplicateOrder, integrityTitles[RuleDuplicateOrder], integrityRemediation},
		{RuleUnknownClick, integrityTitles[RuleUnknownClick], integrityRemediation},
		{RuleConversionBefore, integrityTitles[RuleConversionBefore], integrityRemediation},
	}
	for _, d := range statDetectors {
		out = append(out, Rule{d.rule, d.title, d.remediation})
	}
	return out
}
