// Package scorecard builds each affiliate's scorecard: traffic per night and over a period
// against the period before (clicks, conversions, conversion rate, revenue, commission,
// EPC, reversal rate, commission at risk), open violations by severity, the median days
// to fix one, the pages the last scan could not verify, and a risk score with every reason
// behind it. The same pass builds the affiliate document the joined rules judge.
//
// Events are streamed from the store once each into per-affiliate sums (and per-night sums
// within the period), so memory grows with affiliates and days, not with events.
package scorecard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/internal/store"
	"github.com/affwatch/affwatch/internal/vet"
)

// Source is what a scorecard reads from the store.
type Source interface {
	EachClickSignal(ctx context.Context, since time.Time, fn func(affwatch.Click) error) error
	EachConversion(ctx context.Context, since time.Time, fn func(affwatch.Conversion) error) error
	Violations(ctx context.Context, f affwatch.ViolationFilter) ([]affwatch.Violation, error)
	Scans(ctx context.Context, limit int) ([]affwatch.Scan, error)
	Pages(ctx context.Context, scanID int64) ([]affwatch.Page, error)
}

// Vettings finds the last vetting of a site (scheme://host); a store has it.
type Vettings interface {
	LastVetting(ctx context.Context, site string) (store.Vetting, error)
}

// VerdictSource streams stored per-event verdicts (a store has it).
type VerdictSource interface {
	EachVerdict(ctx context.Context, f affwatch.VerdictFilter, fn func(affwatch.EventVerdict) error) error
}

// Verdict is what the per-event verdicts say of a conversion: "accept", "review" or
// "reject" ("" when there is none).
type Verdict func(affwatch.Conversion) string

// Options set a scorecard run.
type Options struct {
	// End is the end of the period (exclusive; default now); Period its length (default
	// 7 days). The previous period is as long and ends at the period's start.
	End    time.Time
	Period time.Duration
	// FastSeconds: a conversion this soon after its click is "fast" (default 30).
	FastSeconds float64
	// Verdict, when set, gives each conversion's verdict: commission at risk is the
	// commission on the conversions in review or rejected. Without it commission at risk
	// is unknown (null, "n/a").
	Verdict Verdict
	// Verdicts, when set and Verdict is not, are the stored verdicts (ingest and detect
	// judge every conversion): the conversions in review or rejected in the two periods
	// are read once, and a conversion without a stored verdict is not at risk.
	Verdicts VerdictSource
	// Programs are the programs (merchant IDs tell which affiliate links are the
	// affiliate's own program); Affiliates the configured affiliates. Affiliates seen only
	// in the traffic or the violations get a card too.
	Programs   []affwatch.Program
	Affiliates []affwatch.Affiliate
	// Vettings, when set, gives each affiliate's site its last vetting.
	Vettings Vettings
	Weights  Weights
	// Now is the clock (days since a vetting; default time.Now).
	Now func() time.Time
}

// Night is one day's traffic (UTC) within the period.
type Night struct {
	Date string `json:"date"`
	affwatch.DocTraffic
}

// Trend is the change of each number against the previous period, relative (0.25 is
// +25%); null where the previous period had none to compare with.
type Trend struct {
	Clicks         *float64 `json:"clicks"`
	Conversions    *float64 `json:"conversions"`
	ConversionRate *float64 `json:"conversion_rate"`
	Revenue        *float64 `json:"revenue"`
	Commission     *float64 `json:"commission"`
	EPC            *float64 `json:"epc"`
	ReversalRate   *float64 `json:"reversal_rate"`
}

// Card is one affiliate's scorecard: the affiliate document the joined rules judge, the
// nights of the period, the trend, and the risk score with its reasons.
type Card struct {
	affwatch.AffiliateDocument
	Nights []Night `json:"nights"`
	Trend  Trend   `json:"trend"`
	Risk   Risk    `json:"risk"`
	// Joined are the joined rules' findings on the document, when they were run.
	Joined []affwatch.Finding `json:"joined"`
}

// sums are the running totals of one affiliate's traffic in one period.
type sums struct {
	clicks, convs, reversed, timed, fast int
	revenue, commission, atRisk          float64
}

func (s sums) traffic() affwatch.DocTraffic {
	t := affwatch.DocTraffic{Clicks: s.clicks, Conversions: s.convs, Revenue: round2(s.revenue), Commission: round2(s.commission),
		Reversed: s.reversed, TimedConversions: s.timed, Fast: s.fast}
	if s.clicks > 0 {
		t.ConversionRate = float64(s.convs) / float64(s.clicks)
		t.EPC = s.commission / float64(s.clicks)
	}
	if s.convs > 0 {
		t.ReversalRate = float64(s.reversed) / float64(s.convs)
	}
	if s.timed > 0 {
		t.FastShare = float64(s.fast) / float64(s.timed)
	}
	return t
}

func (s *sums) add(o sums) {
	s.clicks += o.clicks
	s.convs += o.convs
	s.reversed += o.reversed
	s.timed += o.timed
	s.fast += o.fast
	s.revenue += o.revenue
	s.commission += o.commission
	s.atRisk += o.atRisk
}

// affSums is what the streams leave of one affiliate.
type affSums struct {
	cur, prev sums
	nights    []sums
}

// Build builds the scorecard of every affiliate, riskiest first.
func Build(ctx context.Context, src Source, opt Options) ([]Card, error) {
	if opt.End.IsZero() {
		opt.End = time.Now()
	}
	if opt.Period <= 0 {
		opt.Period = 7 * 24 * time.Hour
	}
	if opt.FastSeconds <= 0 {
		opt.FastSeconds = 30
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	w := opt.Weights.WithDefaults()
	end := opt.End.UTC()
	start := end.Add(-opt.Period)
	prevStart := start.Add(-opt.Period)
	// The nights are the UTC days the period touches.
	firstNight := start.Truncate(24 * time.Hour)
	days := int(end.Add(-time.Nanosecond).Truncate(24*time.Hour).Sub(firstNight)/(24*time.Hour)) + 1

	if opt.Verdict == nil && opt.Verdicts != nil {
		flagged := map[string]affwatch.Verdict{}
		err := opt.Verdicts.EachVerdict(ctx, affwatch.VerdictFilter{Since: prevStart,
			Verdicts: []affwatch.Verdict{affwatch.VerdictReview, affwatch.VerdictReject}},
			func(v affwatch.EventVerdict) error { flagged[v.ConversionID] = v.Verdict; return nil })
		if err != nil {
			return nil, fmt.Errorf("scorecard verdicts: %w", err)
		}
		opt.Verdict = func(c affwatch.Conversion) string { return string(flagged[c.ConversionID]) }
	}

	all := map[string]*affSums{}
	get := func(id string) *affSums {
		a := all[id]
		if a == nil {
			a = &affSums{nights: make([]sums, days)}
			all[id] = a
		}
		return a
	}
	bucket := func(a *affSums, ts time.Time) (*sums, *sums) {
		switch {
		case ts.Before(prevStart) || !ts.Before(end):
			return nil, nil
		case ts.Before(start):
			return &a.prev, nil
		}
		n := int(ts.Sub(firstNight) / (24 * time.Hour))
		if n < 0 || n >= len(a.nights) {
			return &a.cur, nil
		}
		return &a.cur, &a.nights[n]
	}
	err := src.EachClickSignal(ctx, prevStart, func(c affwatch.Click) error {
		p, n := bucket(get(c.AffiliateID), c.TS)
		if p == nil {
			return nil
		}
		p.clicks++
		if n != nil {
			n.clicks++
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scorecard clicks: %w", err)
	}
	err = src.EachConversion(ctx, prevStart, func(c affwatch.Conversion) error {
		p, n := bucket(get(c.AffiliateID), c.TS)
		if p == nil {
			return nil
		}
		var one sums
		one.convs = 1
		if affwatch.Reversed(c.Status) {
			one.reversed = 1
		} else {
			one.revenue, one.commission = c.Amount, c.Commission
		}
		if !c.ClickTS.IsZero() && !c.TS.Before(c.ClickTS) {
			one.timed = 1
			if c.TS.Sub(c.ClickTS).Seconds() <= opt.FastSeconds {
				one.fast = 1
			}
		}
		if opt.Verdict != nil {
			if v := opt.Verdict(c); v == "review" || v == "reject" {
				one.atRisk = c.Commission
			}
		}
		p.add(one)
		if n != nil {
			n.add(one)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scorecard conversions: %w", err)
	}

	vs, err := src.Violations(ctx, affwatch.ViolationFilter{})
	if err != nil {
		return nil, fmt.Errorf("scorecard violations: %w", err)
	}
	cur, prev, err := lastCrawls(ctx, src)
	if err != nil {
		return nil, err
	}

	// Every configured affiliate, and every other one the traffic or the store knows.
	affs := map[string]affwatch.Affiliate{}
	for _, a := range opt.Affiliates {
		affs[a.ID] = a
	}
	for id := range all {
		if _, ok := affs[id]; !ok {
			affs[id] = affwatch.Affiliate{ID: id}
		}
	}
	for _, v := range vs {
		if _, ok := affs[v.AffiliateID]; !ok {
			affs[v.AffiliateID] = affwatch.Affiliate{ID: v.AffiliateID, Program: v.ProgramID}
		}
	}
	programs := map[string]affwatch.Program{}
	for _, p := range opt.Programs {
		programs[p.ID] = p
	}

	cards := make([]Card, 0, len(affs))
	index := map[string]int{}
	for _, id := range slices.Sorted(maps.Keys(affs)) {
		a := affs[id]
		s := all[id]
		if s == nil {
			s = &affSums{nights: make([]sums, days)}
		}
		c := Card{AffiliateDocument: affwatch.AffiliateDocument{
			SchemaVersion: affwatch.AffiliateDocSchemaVersion,
			Affiliate:     affwatch.DocAffiliate{ID: a.ID, Name: a.Name, Program: a.Program, Manager: a.ManagerEmail, Sites: orEmpty(a.Sites)},
			Period:        affwatch.DocPeriod{Start: start, End: end, Days: opt.Period.Hours() / 24},
			Violations:    []affwatch.DocViolation{},
			Findings:      []affwatch.DocFinding{},
			Pages:         []affwatch.DocPage{},
			Promotions:    []affwatch.DocPromotion{},
		}}
		c.Scorecard.Current, c.Scorecard.Previous = s.cur.traffic(), s.prev.traffic()
		if opt.Verdict != nil {
			risk := round2(s.cur.atRisk)
			c.Scorecard.CommissionAtRisk = &risk
		}
		c.Scorecard.OpenViolations = map[string]int{}
		for _, sev := range affwatch.Severities() {
			c.Scorecard.OpenViolations[sev.String()] = 0
		}
		for i, n := range s.nights {
			day := firstNight.AddDate(0, 0, i)
			if !day.Before(end) {
				break
			}
			c.Nights = append(c.Nights, Night{Date: day.Format("2006-01-02"), DocTraffic: n.traffic()})
		}
		c.Trend = trend(c.Scorecard.Current, c.Scorecard.Previous)
		index[id] = len(cards)
		cards = append(cards, c)
	}

	// Violations: the open ones by severity, detector findings with their numbers, and
	// the days each resolved one took to fix.
	fixDays := map[string][]float64{}
	for _, v := range vs {
		c := &cards[index[v.AffiliateID]]
		if v.State == affwatch.StateResolved {
			if !v.ResolvedAt.IsZero() && !v.FirstSeen.IsZero() {
				fixDays[v.AffiliateID] = append(fixDays[v.AffiliateID], v.ResolvedAt.Sub(v.FirstSeen).Hours()/24)
			}
			continue
		}
		if v.State == affwatch.StateSuppressed || v.Advisory {
			continue
		}
		c.Scorecard.OpenViolations[v.Severity.String()]++
		c.Violations = append(c.Violations, affwatch.DocViolation{RuleID: v.RuleID, Source: string(v.Source), Severity: v.Severity.String(),
			State: string(v.State), URL: v.URL, Message: v.Message})
		if v.Source == affwatch.SourceDetector {
			nums := v.Evidence.Numbers
			if nums == nil {
				nums = map[string]float64{}
			}
			c.Findings = append(c.Findings, affwatch.DocFinding{RuleID: v.RuleID, Severity: v.Severity.String(), Tier: v.Evidence.Tier,
				Message: v.Message, Numbers: nums})
		}
	}
	for id, d := range fixDays {
		m := median(d)
		cards[index[id]].Scorecard.MedianDaysToFix = &m
	}

	// Pages of the last crawl scan, with what the scan before saw of each.
	before := map[string]affwatch.Page{}
	for _, p := range prev {
		before[p.Affiliate.ID+"\x00"+p.URL] = p
	}
	for _, p := range cur {
		i, ok := index[p.Affiliate.ID]
		if !ok {
			continue
		}
		c := &cards[i]
		dp := docPage(p, programs[c.Affiliate.Program])
		if b, ok := before[p.Affiliate.ID+"\x00"+p.URL]; ok {
			dp.Previous = &affwatch.DocPageBefore{FetchedAt: b.FetchedAt, Verified: b.FetchStatus.Verified(),
				Disclosures: visibleDisclosures(b), Coupons: len(b.Coupons)}
		}
		c.Scorecard.PagesChecked++
		if !dp.Verified {
			c.Scorecard.PagesNotVerified++
		}
		c.Pages = append(c.Pages, dp)
		if dp.Verified {
			c.Promotions = mergePromotions(c.Promotions, dp.Promotions)
		}
	}

	if opt.Vettings != nil {
		for i := range cards {
			c := &cards[i]
			dv, err := lastVetting(ctx, opt.Vettings, c.Affiliate.Sites, programs[c.Affiliate.Program], opt.Now())
			if err != nil {
				return nil, err
			}
			c.Vetting = dv
		}
	}

	// Program baselines: every affiliate of the program together.
	base := map[string]*sums{}
	for id, s := range all {
		p := affs[id].Program
		if base[p] == nil {
			base[p] = &sums{}
		}
		base[p].add(s.cur)
	}
	for i := range cards {
		c := &cards[i]
		if b := base[c.Affiliate.Program]; b != nil {
			c.Baseline = b.traffic()
		}
		c.Risk = Score(c, w)
	}
	Rank(cards)
	return cards, nil
}

// Rank sorts cards riskiest first (then by affiliate id).
func Rank(cards []Card) {
	sort.SliceStable(cards, func(i, j int) bool {
		if cards[i].Risk.Score != cards[j].Risk.Score {
			return cards[i].Risk.Score > cards[j].Risk.Score
		}
		return cards[i].Affiliate.ID < cards[j].Affiliate.ID
	})
}

// lastCrawls returns the pages of the last finished crawl scan and of the one before it.
func lastCrawls(ctx context.Context, src Source) (cur, prev []affwatch.Page, err error) {
	scans, err := src.Scans(ctx, 200)
	if err != nil {
		return nil, nil, fmt.Errorf("scorecard scans: %w", err)
	}
	var ids []int64
	for _, s := range scans {
		if s.Kind == affwatch.ScanKindCrawl && s.Status != affwatch.ScanRunning && s.Counts.Pages > 0 {
			ids = append(ids, s.ID)
		}
		if len(ids) == 2 {
			break
		}
	}
	if len(ids) > 0 {
		if cur, err = src.Pages(ctx, ids[0]); err != nil {
			return nil, nil, fmt.Errorf("scorecard pages of scan %d: %w", ids[0], err)
		}
	}
	if len(ids) > 1 {
		if prev, err = src.Pages(ctx, ids[1]); err != nil {
			return nil, nil, fmt.Errorf("scorecard pages of scan %d: %w", ids[1], err)
		}
	}
	return cur, prev, nil
}

// docPage is what the affiliate document keeps of a page.
func docPage(p affwatch.Page, prog affwatch.Program) affwatch.DocPage {
	dp := affwatch.DocPage{URL: p.URL, FetchStatus: string(p.FetchStatus), Verified: p.FetchStatus.Verified(), FetchedAt: p.FetchedAt,
		Title: p.Title, Disclosures: visibleDisclosures(p), Coupons: len(p.Coupons), Promotions: []affwatch.DocPromotion{}}
	for _, l := range p.Links {
		if l.Affiliate == nil {
			continue
		}
		dp.AffiliateLinks++
		dp.Promotions = mergePromotions(dp.Promotions, []affwatch.DocPromotion{{Network: l.Affiliate.Network,
			Merchant: l.Affiliate.Merchant, Links: 1, Ours: prog.Owns(*l.Affiliate)}})
	}
	return dp
}

func visibleDisclosures(p affwatch.Page) int {
	n := 0
	for _, d := range p.Disclosures {
		if !d.Hidden && !d.Vague {
			n++
		}
	}
	return n
}

// mergePromotions adds the promotions of more to list, one entry per network and merchant.
func mergePromotions(list, more []affwatch.DocPromotion) []affwatch.DocPromotion {
	for _, m := range more {
		i := slices.IndexFunc(list, func(p affwatch.DocPromotion) bool { return p.Network == m.Network && p.Merchant == m.Merchant })
		if i < 0 {
			list = append(list, m)
			continue
		}
		list[i].Links += m.Links
		list[i].Ours = list[i].Ours || m.Ours
	}
	return list
}

// lastVetting is the latest vetting of any of the affiliate's sites, as the document
// keeps it; nil when none was vetted.
func lastVetting(ctx context.Context, vs Vettings, sites []string, prog affwatch.Program, now time.Time) (*affwatch.DocVetting, error) {
	var best *store.Vetting
	for _, s := range sites {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			continue
		}
		v, err := vs.LastVetting(ctx, u.Scheme+"://"+strings.ToLower(u.Host))
		if errors.Is(err, affwatch.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("scorecard vetting of %s: %w", s, err)
		}
		if best == nil || v.VettedAt.After(best.VettedAt) {
			best = &v
		}
	}
	if best == nil {
		return nil, nil
	}
	var rep vet.Report
	if err := json.Unmarshal(best.Report, &rep); err != nil {
		return nil, fmt.Errorf("scorecard vetting %d of %s: %w", best.ID, best.Site, err)
	}
	dv := &affwatch.DocVetting{Site: best.Site, Verdict: best.Verdict, VettedAt: best.VettedAt.UTC(),
		DaysSince: now.Sub(best.VettedAt).Hours() / 24, Pages: len(rep.Pages), Promotions: []affwatch.DocPromotion{}, RuleIDs: []string{}}
	for _, p := range rep.Pages {
		if !p.FetchStatus.Verified() {
			continue
		}
		dv.Verified++
		dv.Disclosures += p.Disclosures
		for _, f := range p.Findings {
			if !f.Advisory && !slices.Contains(dv.RuleIDs, f.RuleID) {
				dv.RuleIDs = append(dv.RuleIDs, f.RuleID)
			}
		}
	}
	sort.Strings(dv.RuleIDs)
	for _, p := range rep.Promotions {
		ours := p.Ours || prog.Owns(affwatch.AffiliateLink{Network: p.Network, Merchant: p.Merchant})
		dv.Promotions = append(dv.Promotions, affwatch.DocPromotion{Network: p.Network, Merchant: p.Merchant, Links: p.Links, Ours: ours})
	}
	return dv, nil
}

func trend(cur, prev affwatch.DocTraffic) Trend {
	rel := func(c, p float64) *float64 {
		if p == 0 {
			return nil
		}
		r := (c - p) / p
		return &r
	}
	return Trend{
		Clicks:         rel(float64(cur.Clicks), float64(prev.Clicks)),
		Conversions:    rel(float64(cur.Conversions), float64(prev.Conversions)),
		ConversionRate: rel(cur.ConversionRate, prev.ConversionRate),
		Revenue:        rel(cur.Revenue, prev.Revenue),
		Commission:     rel(cur.Commission, prev.Commission),
		EPC:            rel(cur.EPC, prev.EPC),
		ReversalRate:   rel(cur.ReversalRate, prev.ReversalRate),
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func round2(x float64) float64 {
	if x < 0 {
		return -round2(-x)
	}
	return float64(int64(x*100+0.5)) / 100
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Judge runs the joined rules (an engine of kind affiliate) on every card's document,
// keeps each card's findings in Joined, and returns them as violations of the source
// joined, each under the fingerprint of its rule, affiliate and evidence key.
func Judge(ctx context.Context, eng interface {
	EvaluateAffiliate(ctx context.Context, doc *affwatch.AffiliateDocument) ([]affwatch.Finding, error)
	Revision() string
}, cards []Card) ([]affwatch.Violation, error) {
	var (
		out  []affwatch.Violation
		errs []error
	)
	for i := range cards {
		c := &cards[i]
		fs, err := eng.EvaluateAffiliate(ctx, &c.AffiliateDocument)
		if err != nil {
			errs = append(errs, err)
			if len(fs) == 0 {
				continue
			}
		}
		c.Joined = fs
		aff := affwatch.Affiliate{ID: c.Affiliate.ID, Program: c.Affiliate.Program}
		for _, f := range fs {
			v := affwatch.NewViolation(f, affwatch.SourceJoined, aff, affwatch.AffiliateWhere(c.Affiliate.ID))
			v.URL = f.Evidence.URL
			v.PolicyRevision = eng.Revision()
			out = append(out, v)
		}
	}
	return out, errors.Join(errs...)
}
