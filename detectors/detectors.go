package detectors

import (
	"context"
	"time"

	"github.com/affwatch/affwatch"
)

// Flag is a detector's finding about one affiliate's traffic.
type Flag struct {
	AffiliateID string
	// Metric names what was measured ("conversions", "clicks/ip"); it stands where a page
	// URL stands in a policy violation's fingerprint.
	Metric  string
	Finding affwatch.Finding
}

// Run runs every detector over the window that ends at end and returns their flags as
// violations. affs resolves affiliate ids to their program; traffic of affiliates not in
// the configuration is still judged.
func Run(ctx context.Context, src EventSource, end time.Time, window time.Duration, affs []affwatch.Affiliate) ([]affwatch.Violation, error) {
	w := Window{Start: end.Add(-window), End: end}
	flags, err := Integrity(ctx, src, w)
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
