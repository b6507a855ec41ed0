package detectors

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/affwatch/affwatch"
)

// Reason codes of the per-event verdicts. Each is earned by one event (a conversion, or a
// click) on its own facts; the aggregate detectors judge affiliates, these judge events.
const (
	// CodeFastConversion: the conversion came less than InjectionSeconds after its click
	// (click injection: a click fired while the install or order was under way).
	CodeFastConversion = "CTIT_FAST"
	// CodeAutomation: the click's user agent is a script, crawler or headless browser, or
	// missing.
	CodeAutomation = "BOT_UA"
	// CodeBeforeClick: the conversion is timed before its click.
	CodeBeforeClick = "CONV_BEFORE_CLICK"
	// CodeUnknownClick: the conversion names no click, or one the network never logged.
	CodeUnknownClick = "UNKNOWN_CLICK"
	// CodeDuplicateOrder: the order was credited before, to this or another conversion.
	CodeDuplicateOrder = "DUP_ORDER"
	// CodeRepeatAddress: the conversion's click address converted RepeatConversions times
	// or more within RepeatWindow.
	CodeRepeatAddress = "REPEAT_IP"
	// CodeClickFlood: the click is one of FloodClicks or more from one address and user
	// agent within FloodWindow.
	CodeClickFlood = "CLICK_FLOOD"
	// CodeDatacenter: the click address lies in a hosting or cloud provider's range.
	CodeDatacenter = "DATACENTER_IP"
	// CodeStuffedPage: the click came from (referrer) or landed on a page where affwatch
	// found cookie stuffing (STUFF-* violations) by the same affiliate.
	CodeStuffedPage = "STUFFED_PAGE"
)

// Codes lists every reason code with its default verdict and what it means, in the order
// verdicts list them.
var Codes = []CodeInfo{
	{CodeBeforeClick, affwatch.VerdictReject, "conversion timed before its click"},
	{CodeDuplicateOrder, affwatch.VerdictReject, "order id credited before"},
	{CodeFastConversion, affwatch.VerdictReject, "conversion under the click-to-conversion floor (click injection)"},
	{CodeAutomation, affwatch.VerdictReject, "click from an automation user agent (or none)"},
	{CodeStuffedPage, affwatch.VerdictReject, "click from a page affwatch found cookie stuffing on"},
	{CodeUnknownClick, affwatch.VerdictReview, "no click, or a click the network never logged"},
	{CodeRepeatAddress, affwatch.VerdictReview, "the same address converting repeatedly within the window"},
	{CodeClickFlood, affwatch.VerdictReview, "one of many clicks from one address and user agent within seconds"},
	{CodeDatacenter, affwatch.VerdictReview, "click address inside a hosting or cloud range"},
}

// CodeInfo describes one reason code.
type CodeInfo struct {
	Code    string
	Verdict affwatch.Verdict
	Meaning string
}

// VerdictRules are the per-event verdicts' thresholds and the verdict each code gives.
type VerdictRules struct {
	// InjectionSeconds is the click-to-conversion floor (default 10 s).
	InjectionSeconds float64
	// RepeatConversions conversions from one click address within RepeatWindow earn
	// REPEAT_IP, from that one on (defaults 3 and 24 h).
	RepeatConversions int
	RepeatWindow      time.Duration
	// FloodClicks clicks from one address and user agent within FloodWindow earn
	// CLICK_FLOOD, from that one on (defaults 20 and 10 s).
	FloodClicks int
	FloodWindow time.Duration
	// Codes overrides the verdict a code gives on its own (ok mutes it).
	Codes map[string]affwatch.Verdict
	// ReviewsToReject is how many different review codes together reject an event
	// (default 2; -1: never).
	ReviewsToReject int
}

// DefaultVerdictRules are the documented defaults.
func DefaultVerdictRules() VerdictRules {
	return VerdictRules{InjectionSeconds: 10, RepeatConversions: 3, RepeatWindow: 24 * time.Hour,
		FloodClicks: 20, FloodWindow: 10 * time.Second, ReviewsToReject: 2}
}

// WithDefaults fills zero fields with the defaults.
func (r VerdictRules) WithDefaults() VerdictRules {
	d := DefaultVerdictRules()
	if r.InjectionSeconds == 0 {
		r.InjectionSeconds = d.InjectionSeconds
	}
	if r.RepeatConversions == 0 {
		r.RepeatConversions = d.RepeatConversions
	}
	if r.RepeatWindow == 0 {
		r.RepeatWindow = d.RepeatWindow
	}
	if r.FloodClicks == 0 {
		r.FloodClicks = d.FloodClicks
	}
	if r.FloodWindow == 0 {
		r.FloodWindow = d.FloodWindow
	}
	if r.ReviewsToReject == 0 {
		r.ReviewsToReject = d.ReviewsToReject
	}
	return r
}

// CodeVerdict is the verdict a code gives on its own under these rules.
func (r VerdictRules) CodeVerdict(code string) affwatch.Verdict {
	if v, ok := r.Codes[code]; ok {
		return v
	}
	for _, c := range Codes {
		if c.Code == code {
			return c.Verdict
		}
	}
	return affwatch.VerdictReview
}

// Validate says what is wrong with the rules, one error per problem, each naming its key.
func (r VerdictRules) Validate() error {
	var errs []error
	if r.InjectionSeconds < 0 {
		errs = append(errs, errors.New("injection_seconds cannot be negative"))
	}
	if r.RepeatConversions < 0 || r.FloodClicks < 0 {
		errs = append(errs, errors.New("repeat_conversions and flood_clicks cannot be negative"))
	}
	if r.RepeatWindow < 0 || r.FloodWindow < 0 {
		errs = append(errs, errors.New("repeat_window and flood_window cannot be negative"))
	}
	if r.ReviewsToReject < -1 {
		errs = append(errs, errors.New("reviews_to_reject must be -1 (never), 0 (the default) or more"))
	}
	for _, code := range slices.Sorted(maps.Keys(r.Codes)) {
		if !slices.ContainsFunc(Codes, func(c CodeInfo) bool { return c.Code == code }) {
			errs = append(errs, fmt.Errorf("codes: %q is not a reason code (one of %s)", code, strings.Join(codeNames(), ", ")))
		}
		if r.Codes[code].Rank() < 0 {
			errs = append(errs, fmt.Errorf("codes: %s: %q is not a verdict (ok, review or reject)", code, r.Codes[code]))
		}
	}
	return errors.Join(errs...)
}

func codeNames() []string {
	out := make([]string, len(Codes))
	for i, c := range Codes {
		out[i] = c.Code
	}
	return out
}

// decide turns reasons into a verdict: the strictest code's, and reject when
// ReviewsToReject different codes each give review.
func (r VerdictRules) decide(reasons []affwatch.Reason) affwatch.Verdict {
	v, reviews := affwatch.VerdictOK, 0
	for _, x := range reasons {
		switch cv := r.CodeVerdict(x.Code); cv {
		case affwatch.VerdictReject:
			v = affwatch.VerdictReject
		case affwatch.VerdictReview:
			reviews++
			if v == affwatch.VerdictOK {
				v = affwatch.VerdictReview
			}
		}
	}
	if v == affwatch.VerdictReview && r.ReviewsToReject > 0 && reviews >= r.ReviewsToReject {
		v = affwatch.VerdictReject
	}
	return v
}

// StuffedPage is a page where affwatch found cookie stuffing, by one affiliate, from when
// it was first seen until it was resolved (zero: still there).
type StuffedPage struct {
	AffiliateID string
	URL         string
	RuleID      string
	Since       time.Time
	Until       time.Time
}

// Judge gives events their reason codes and verdicts. A Judge is used by one ingest or
// detect run at a time: its click flood state is not shared.
type Judge struct {
	Rules       VerdictRules
	Datacenters *Datacenters
	// Now is the clock of JudgedAt (default time.Now).
	Now func() time.Time

	stuffed map[string][]StuffedPage // affiliate + page key -> pages
	seed    maphash.Seed
	uaBot   uaCache
	flood   map[uint64]burst
	floodAt int64 // the latest click time seen, Unix ms
	// prune is the size of the flood map at which bursts that ended more than a flood
	// window ago are dropped: twice what was left the last time, so pruning costs one step
	// per click however many addresses are active.
	prune int
}

// burst is one address and user agent's current run of clicks.
type burst struct {
	start, last int64 // Unix ms
	n           int
}

// maxFloodKeys bounds the click-flood state: past it, bursts older than the flood window
// are dropped, and if that is not enough, all of them.
const maxFloodKeys = 500_000

// minFloodPrune is the smallest flood map that is pruned.
const minFloodPrune = 20_000

// NewJudge makes a judge with the rules (defaults filled in), the shipped datacenter
// ranges and the stuffing pages found by the crawler.
func NewJudge(rules VerdictRules, stuffed []StuffedPage) *Judge {
	j := &Judge{Rules: rules.WithDefaults(), Datacenters: DefaultDatacenters(), Now: time.Now,
		stuffed: map[string][]StuffedPage{}, seed: maphash.MakeSeed(), uaBot: uaCache{}, flood: map[uint64]burst{},
		prune: minFloodPrune}
	for _, p := range stuffed {
		k := p.AffiliateID + "\x00" + pageKey(p.URL)
		j.stuffed[k] = append(j.stuffed[k], p)
	}
	return j
}

// pageKey is a URL as pages are matched: host without www., path without a trailing
// slash, no scheme, query or fragment.
func pageKey(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return ""
	}
	return strings.TrimPrefix(strings.ToLower(u.Host), "www.") + strings.TrimRight(u.EscapedPath(), "/")
}

// bot says whether a user agent is automation (or missing).
func (j *Judge) bot(ua string) bool { return j.uaBot.bot(ua) }

// stuffedPage returns the stuffing page a click came from or landed on, if any.
func (j *Judge) stuffedPage(c *affwatch.Click) (StuffedPage, string, bool) {
	if len(j.stuffed) == 0 {
		return StuffedPage{}, "", false
	}
	for _, where := range []struct{ field, url string }{{"referrer", c.Referrer}, {"landing_url", c.LandingURL}} {
		k := pageKey(where.url)
		if k == "" {
			continue
		}
		for _, p := range j.stuffed[c.AffiliateID+"\x00"+k] {
			if (p.Until.IsZero() || !c.TS.After(p.Until)) && !c.TS.Before(p.Since.Add(-30*24*time.Hour)) {
				return p, where.field, true
			}
		}
	}
	return StuffedPage{}, "", false
}

// clickReasons are the reasons a click earns on its own fields (not the flood, which
// needs the clicks around it).
func (j *Judge) clickReasons(c *affwatch.Click, rs []affwatch.Reason) []affwatch.Reason {
	if j.bot(c.UserAgent) {
		ua := c.UserAgent
		if strings.TrimSpace(ua) == "" {
			ua = "(none)"
		}
		rs = append(rs, affwatch.Reason{Code: CodeAutomation, Detail: "user agent " + shorten(ua, 60)})
	}
	if p := j.Datacenters.Provider(c.IP); p != "" {
		rs = append(rs, affwatch.Reason{Code: CodeDatacenter, Detail: fmt.Sprintf("address %s is in %s's published ranges", c.IP, p)})
	}
	if p, field, ok := j.stuffedPage(c); ok {
		rs = append(rs, affwatch.Reason{Code: CodeStuffedPage, Detail: fmt.Sprintf("%s %s: %s found there since %s", field,
			shorten(p.URL, 80), p.RuleID, p.Since.UTC().Format(time.DateOnly))})
	}
	return rs
}

// Click judges one click of a stream in (roughly) time order, setting its Verdict and
// Codes. The click flood is counted from the first click of a burst: the clicks from the
// FloodClicks-th on within FloodWindow of it earn CLICK_FLOOD.
func (j *Judge) Click(c *affwatch.Click) {
	rs := j.clickReasons(c, nil)
	if j.flooded(c) {
		rs = append(rs, affwatch.Reason{Code: CodeClickFlood})
	}
	c.Codes = c.Codes[:0]
	for _, r := range rs {
		c.Codes = append(c.Codes, r.Code)
	}
	if len(c.Codes) == 0 {
		c.Codes = nil
	}
	c.Verdict = j.Rules.decide(rs)
}

// flooded counts the click in its address and user agent's burst and says whether the
// burst has reached FloodClicks.
func (j *Judge) flooded(c *affwatch.Click) bool {
	if c.IP == "" {
		return false
	}
	var h maphash.Hash
	h.SetSeed(j.seed)
	h.WriteString(c.IP)
	h.WriteByte(0)
	h.WriteString(c.UserAgent)
	k := h.Sum64()
	ts, win := c.TS.UnixMilli(), j.Rules.FloodWindow.Milliseconds()
	j.floodAt = max(j.floodAt, ts)
	b, ok := j.flood[k]
	if !ok {
		if len(j.flood) >= j.prune {
			for k, b := range j.flood {
				if j.floodAt-b.last > win {
					delete(j.flood, k)
				}
			}
			if len(j.flood) >= maxFloodKeys {
				clear(j.flood)
			}
			j.prune = max(2*len(j.flood), minFloodPrune)
		}
		b = burst{start: ts, last: ts}
	}
	if d := ts - b.start; d > win || d < -win {
		b.start, b.n = ts, 0
	}
	b.n++
	b.last = max(b.last, ts)
	j.flood[k] = b
	return b.n >= j.Rules.FloodClicks
}

// ConversionFacts is what judging a conversion needs beside the conversion: its click
// (nil when not stored), the conversion that first claimed its order (nil when it is the
// first) and how many conversions its click address made within the repeat window up to
// it, itself included.
type ConversionFacts struct {
	Click       *affwatch.Click
	FirstOrder  *OrderClaim
	RepeatCount int
}

// OrderClaim is a conversion that credited an order.
type OrderClaim struct {
	OrderID, ConversionID, AffiliateID string
	TS                                 time.Time
}

// earlier orders two claims: by time, then by conversion id.
func (o OrderClaim) earlier(than OrderClaim) bool {
	if !o.TS.Equal(than.TS) {
		return o.TS.Before(than.TS)
	}
	return o.ConversionID < than.ConversionID
}

// Conversion judges one conversion on its facts.
func (j *Judge) Conversion(c affwatch.Conversion, f ConversionFacts) affwatch.EventVerdict {
	v := affwatch.EventVerdict{ConversionID: c.ConversionID, OrderID: c.OrderID, ClickID: c.ClickID, AffiliateID: c.AffiliateID,
		TS: c.TS, Commission: c.Commission, Status: c.Status, Currency: c.Currency, JudgedAt: j.Now().UTC()}
	var rs []affwatch.Reason
	if ck := f.Click; ck != nil {
		v.ClickIP = ck.IP
		ctit := c.TS.Sub(ck.TS).Seconds()
		switch {
		case ctit < 0:
			rs = append(rs, affwatch.Reason{Code: CodeBeforeClick, Detail: fmt.Sprintf("converted %s before its click", fmtSeconds(-ctit)),
				Numbers: map[string]float64{"ctit_seconds": ctit}})
		case ctit < j.Rules.InjectionSeconds:
			rs = append(rs, affwatch.Reason{Code: CodeFastConversion,
				Detail:  fmt.Sprintf("converted %s after its click (floor %s)", fmtSeconds(ctit), fmtSeconds(j.Rules.InjectionSeconds)),
				Numbers: map[string]float64{"ctit_seconds": ctit, "floor_seconds": j.Rules.InjectionSeconds}})
		}
		rs = j.clickReasons(ck, rs)
		if slices.Contains(ck.Codes, CodeClickFlood) {
			rs = append(rs, affwatch.Reason{Code: CodeClickFlood, Detail: fmt.Sprintf("its click is one of %d or more from %s with one user agent within %s",
				j.Rules.FloodClicks, ck.IP, j.Rules.FloodWindow), Numbers: map[string]float64{"flood_clicks": float64(j.Rules.FloodClicks)}})
		}
	} else {
		detail := fmt.Sprintf("click %q is not in the click log", c.ClickID)
		if c.ClickID == "" {
			detail = "the conversion names no click"
		}
		rs = append(rs, affwatch.Reason{Code: CodeUnknownClick, Detail: detail})
	}
	if o := f.FirstOrder; o != nil {
		who := "this affiliate"
		if o.AffiliateID != c.AffiliateID {
			who = "another affiliate"
		}
		rs = append(rs, affwatch.Reason{Code: CodeDuplicateOrder, Detail: fmt.Sprintf("order %s was credited %s earlier to conversion %s of %s",
			c.OrderID, fmtSeconds(c.TS.Sub(o.TS).Seconds()), o.ConversionID, who)})
	}
	if f.RepeatCount >= j.Rules.RepeatConversions && v.ClickIP != "" {
		rs = append(rs, affwatch.Reason{Code: CodeRepeatAddress, Detail: fmt.Sprintf("conversion %d from %s within %s (threshold %d)",
			f.RepeatCount, v.ClickIP, fmtDuration(j.Rules.RepeatWindow), j.Rules.RepeatConversions),
			Numbers: map[string]float64{"conversions": float64(f.RepeatCount), "threshold": float64(j.Rules.RepeatConversions)}})
	}
	// Reasons in the order of Codes, so a verdict reads the same however it was reached.
	slices.SortStableFunc(rs, func(a, b affwatch.Reason) int { return codeIndex(a.Code) - codeIndex(b.Code) })
	v.Reasons = rs
	v.Verdict = j.Rules.decide(rs)
	return v
}

func codeIndex(code string) int {
	return slices.IndexFunc(Codes, func(c CodeInfo) bool { return c.Code == code })
}

// fmtSeconds writes a number of seconds for a sentence: 3.2 s, 4 min, 2.5 h, 3.0 d.
func fmtSeconds(s float64) string {
	switch {
	case s < 60:
		return fmt.Sprintf("%.3g s", s)
	case s < 3600:
		return fmt.Sprintf("%.3g min", s/60)
	case s < 2*86400:
		return fmt.Sprintf("%.3g h", s/3600)
	}
	return fmt.Sprintf("%.3g d", s/86400)
}

func fmtDuration(d time.Duration) string { return fmtSeconds(d.Seconds()) }

// repeatTracker counts conversions per click address over a trailing window, for a
// stream of conversions in time order; memory holds only the window's conversions.
type repeatTracker struct {
	window time.Duration
	times  map[string][]time.Time
	seen   int
}

func newRepeatTracker(window time.Duration) *repeatTracker {
	return &repeatTracker{window: window, times: map[string][]time.Time{}}
}

// add counts a conversion from ip at ts and returns how many there were from ip within
// the window up to it, itself included.
func (r *repeatTracker) add(ip string, ts time.Time) int {
	if ip == "" {
		return 0
	}
	ts0 := ts.Add(-r.window)
	xs := r.times[ip]
	i := 0
	for i < len(xs) && xs[i].Before(ts0) {
		i++
	}
	xs = append(xs[i:], ts)
	r.times[ip] = xs
	r.seen++
	if r.seen%100_000 == 0 { // drop addresses whose conversions all left the window
		for k, v := range r.times {
			if v[len(v)-1].Before(ts0) {
				delete(r.times, k)
			}
		}
	}
	return len(xs)
}

// StuffedPagesOf picks the cookie-stuffing findings (STUFF-* rules) out of stored
// violations: the pages whose clicks earn STUFFED_PAGE. Suppressed ones are left out.
func StuffedPagesOf(vs []affwatch.Violation) []StuffedPage {
	var out []StuffedPage
	for _, v := range vs {
		if !strings.HasPrefix(v.RuleID, "STUFF-") || v.URL == "" || v.State == affwatch.StateSuppressed {
			continue
		}
		p := StuffedPage{AffiliateID: v.AffiliateID, URL: v.URL, RuleID: v.RuleID, Since: v.FirstSeen}
		if v.State == affwatch.StateResolved {
			p.Until = v.ResolvedAt
		}
		out = append(out, p)
	}
	return out
}

// VerdictStore is what judging conversions reads and writes.
type VerdictStore interface {
	affwatch.VerdictStore
	ClicksByID(ctx context.Context, ids []string) ([]affwatch.Click, error)
}

// Conversions judges a batch of conversions already stored, against the store: their
// clicks, the orders' earlier claims and the stored conversions from the same click
// addresses (the batch's own included), and saves the verdicts. skip marks rows not to
// judge (conflicts: the stored row stands, not the batch's).
func (j *Judge) Conversions(ctx context.Context, st VerdictStore, batch []affwatch.Conversion, skip []bool) ([]affwatch.EventVerdict, error) {
	judged := func(i int) bool { return skip == nil || !skip[i] }
	var clickIDs, orderIDs []string
	inBatch := map[string]bool{}
	for i := range batch {
		if !judged(i) {
			continue
		}
		c := &batch[i]
		inBatch[c.ConversionID] = true
		if c.ClickID != "" {
			clickIDs = append(clickIDs, c.ClickID)
		}
		if c.OrderID != "" {
			orderIDs = append(orderIDs, c.OrderID)
		}
	}
	clicks, err := st.ClicksByID(ctx, dedupe(clickIDs))
	if err != nil {
		return nil, fmt.Errorf("judge conversions: %w", err)
	}
	clickOf := make(map[string]*affwatch.Click, len(clicks))
	for i := range clicks {
		clickOf[clicks[i].ClickID] = &clicks[i]
	}
	claims, err := st.ConversionsByOrder(ctx, dedupe(orderIDs))
	if err != nil {
		return nil, fmt.Errorf("judge conversions: %w", err)
	}
	first := map[string]OrderClaim{}
	for _, c := range claims {
		o := OrderClaim{OrderID: c.OrderID, ConversionID: c.ConversionID, AffiliateID: c.AffiliateID, TS: c.TS}
		if f, ok := first[c.OrderID]; !ok || o.earlier(f) {
			first[c.OrderID] = o
		}
	}
	// The conversions from each click address: the stored ones and the batch's.
	type hit struct {
		ts time.Time
		id string
	}
	byIP := map[string][]hit{}
	var from, to time.Time
	for i := range batch {
		c := &batch[i]
		ck := clickOf[c.ClickID]
		if !judged(i) || ck == nil || ck.IP == "" {
			continue
		}
		byIP[ck.IP] = append(byIP[ck.IP], hit{c.TS, c.ConversionID})
		if from.IsZero() || c.TS.Before(from) {
			from = c.TS
		}
		if c.TS.After(to) {
			to = c.TS
		}
	}
	if len(byIP) > 0 {
		stored, err := st.VerdictsByClickIP(ctx, slices.Sorted(maps.Keys(byIP)), from.Add(-j.Rules.RepeatWindow), to)
		if err != nil {
			return nil, fmt.Errorf("judge conversions: %w", err)
		}
		for _, v := range stored {
			if !inBatch[v.ConversionID] {
				byIP[v.ClickIP] = append(byIP[v.ClickIP], hit{v.TS, v.ConversionID})
			}
		}
	}
	out := make([]affwatch.EventVerdict, 0, len(batch))
	for i := range batch {
		if !judged(i) {
			continue
		}
		c := batch[i]
		f := ConversionFacts{Click: clickOf[c.ClickID]}
		if o, ok := first[c.OrderID]; ok && c.OrderID != "" && o.ConversionID != c.ConversionID {
			f.FirstOrder = &o
		}
		if f.Click != nil && f.Click.IP != "" {
			from := c.TS.Add(-j.Rules.RepeatWindow)
			for _, h := range byIP[f.Click.IP] {
				if !h.ts.Before(from) && (h.ts.Before(c.TS) || (h.ts.Equal(c.TS) && h.id <= c.ConversionID)) {
					f.RepeatCount++
				}
			}
		}
		out = append(out, j.Conversion(c, f))
	}
	if err := st.SaveVerdicts(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

func dedupe(xs []string) []string {
	slices.Sort(xs)
	return slices.Compact(xs)
}

// JudgeStored judges again every stored conversion from since to until (late clicks,
// orders claimed out of order, stuffing found after the clicks loaded), reading the
// conversions from history before since for the earlier claims of an order and the
// repeat-address window, and saves the verdicts. It returns how many it judged, by
// verdict.
func (j *Judge) JudgeStored(ctx context.Context, st VerdictStore, since, until time.Time, history time.Duration) (*JudgeSummary, error) {
	sum := newJudgeSummary()
	first := map[string]OrderClaim{}
	repeat := newRepeatTracker(j.Rules.RepeatWindow)
	var batch []affwatch.EventVerdict
	flush := func() error {
		err := st.SaveVerdicts(ctx, batch)
		batch = batch[:0]
		return err
	}
	err := st.EachConversionWithClick(ctx, since.Add(-history), func(c affwatch.Conversion, click *affwatch.Click) error {
		if c.TS.After(until) {
			return nil
		}
		var f ConversionFacts
		f.Click = click
		if c.OrderID != "" {
			o := OrderClaim{OrderID: c.OrderID, ConversionID: c.ConversionID, AffiliateID: c.AffiliateID, TS: c.TS}
			if prev, ok := first[c.OrderID]; ok {
				f.FirstOrder = &prev
			} else {
				first[c.OrderID] = o
			}
		}
		if click != nil {
			f.RepeatCount = repeat.add(click.IP, c.TS)
		}
		if c.TS.Before(since) {
			return nil
		}
		v := j.Conversion(c, f)
		sum.add(v)
		batch = append(batch, v)
		if len(batch) >= batchSize {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return sum, fmt.Errorf("judge conversions: %w", err)
	}
	return sum, nil
}

// JudgeSummary is what judging stored conversions found: how many got each verdict, and
// for each affiliate and reason code how many earned it and the first few of them.
type JudgeSummary struct {
	Counts map[affwatch.Verdict]int
	byCode map[[2]string]*codeEvents
}

type codeEvents struct {
	n      int
	events []affwatch.EventVerdict
}

// eventsPerFinding is how many events a detector finding lists as evidence.
const eventsPerFinding = 10

func newJudgeSummary() *JudgeSummary {
	return &JudgeSummary{Counts: map[affwatch.Verdict]int{}, byCode: map[[2]string]*codeEvents{}}
}

func (s *JudgeSummary) add(v affwatch.EventVerdict) {
	s.Counts[v.Verdict]++
	for _, r := range v.Reasons {
		k := [2]string{v.AffiliateID, r.Code}
		e := s.byCode[k]
		if e == nil {
			e = &codeEvents{}
			s.byCode[k] = e
		}
		e.n++
		if len(e.events) < eventsPerFinding {
			e.events = append(e.events, v)
		}
	}
}

// ruleCodes are the reason codes whose events a detector rule shows as its evidence.
var ruleCodes = map[string][]string{
	RuleClickInjection:   {CodeFastConversion},
	RuleBots:             {CodeAutomation},
	RuleRepeatIP:         {CodeRepeatAddress},
	RuleIPConcentration:  {CodeClickFlood, CodeDatacenter},
	RuleDuplicateOrder:   {CodeDuplicateOrder},
	RuleUnknownClick:     {CodeUnknownClick},
	RuleConversionBefore: {CodeBeforeClick},
}

// Attach gives each detector violation the events behind it: the affiliate's
// conversions that earned the codes its rule measures (Evidence.Events, the first
// few, and Evidence.Numbers["events"], how many).
func (s *JudgeSummary) Attach(vs []affwatch.Violation) {
	if s == nil {
		return
	}
	for i := range vs {
		v := &vs[i]
		n := 0
		for _, code := range ruleCodes[v.RuleID] {
			e := s.byCode[[2]string{v.AffiliateID, code}]
			if e == nil {
				continue
			}
			n += e.n
			for _, ev := range e.events {
				if len(v.Evidence.Events) < eventsPerFinding {
					v.Evidence.Events = append(v.Evidence.Events, ev)
				}
			}
		}
		if n > 0 {
			if v.Evidence.Numbers == nil {
				v.Evidence.Numbers = map[string]float64{}
			}
			v.Evidence.Numbers["events"] = float64(n)
		}
	}
}
