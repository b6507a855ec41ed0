package detectors

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/affwatch/affwatch"
)

// affStats is what the detectors know of one affiliate's traffic: the window being judged
// and, for the detectors that compare with the affiliate's own past, the weeks before it.
type affStats struct {
	id, program string

	clicks, botClicks float64
	hours             [24]float64
	ips               topCounter // clicks per address
	nets              topCounter // clicks per /24 (IPv4) or /48 (IPv6)

	convs, reversed               float64
	ctitKnown, ctitFast, ctitLong float64
	convIPs                       topCounter // conversions per address of their click

	// daily are the clicks per day from the start of the history to the window's end.
	daily                 []float64
	firstDay              int // index of the first day with a click
	histClicks, histConvs float64
}

// topCounter counts occurrences of keys and remembers the most frequent one. Keys are
// hashed, so memory stays at a few words per distinct address.
type topCounter struct {
	counts  map[uint64]uint32
	top     uint32
	topName string
	topHash uint64
}

func (c *topCounter) add(seed maphash.Seed, name string) {
	if name == "" {
		return
	}
	c.addKey(maphash.String(seed, name), func() string { return name })
}

// addKey counts a key whose name is only made when it becomes the most frequent.
func (c *topCounter) addKey(h uint64, name func() string) {
	if c.counts == nil {
		c.counts = map[uint64]uint32{}
	}
	n := c.counts[h] + 1
	c.counts[h] = n
	if n > c.top {
		c.top = n
		if c.topHash != h || c.topName == "" {
			c.topName, c.topHash = name(), h
		}
	}
}

// aggregates holds every affiliate's stats for one detector run.
type aggregates struct {
	w        Window
	histFrom time.Time
	days     int
	injectS  float64
	seed     maphash.Seed
	affs     map[string]*affStats
	program  map[string]string // affiliate -> program
	uaCache  uaCache
	// integrity checks the window's conversions in the same pass.
	integrity *integrityTally
	// order is the affiliates in id order, so runs are reproducible; set once the
	// events are summed.
	order []*affStats
}

// automationUA matches the user agents of scripts, crawlers and headless browsers.
var automationUA = regexp.MustCompile(`(?i)[a-z]bot/|\bbot\b|facebookexternalhit|crawl|spider|slurp|curl/|wget/|python-requests|python-urllib|aiohttp|go-http-client|java/|okhttp|apache-httpclient|libwww|headless|phantomjs|selenium|puppeteer|playwright|scrapy|axios/|node-fetch|httpclient|^mozilla/[45]\.0$`)

// uaCache remembers which user agents are automation: real traffic has few distinct user
// agents, and the regexp is the costly part. It stops growing at 100,000 entries.
type uaCache map[string]bool

// bot reports whether a user agent is automation (or missing).
func (c uaCache) bot(ua string) bool {
	ua = strings.TrimSpace(ua)
	if ua == "" {
		return true
	}
	if b, ok := c[ua]; ok {
		return b
	}
	b := automationUA.MatchString(ua)
	if len(c) < 100_000 {
		c[ua] = b
	}
	return b
}

// isBot reports whether a click's user agent is automation (or missing).
func (a *aggregates) isBot(ua string) bool { return a.uaCache.bot(ua) }

// addSubnet counts the /24 of an IPv4 address or the /48 of an IPv6 one, hashing the
// masked address bytes (no string is made for each click).
func (c *topCounter) addSubnet(seed maphash.Seed, ip string) {
	addr, err := netip.ParseAddr(strings.TrimSpace(ip))
	if err != nil {
		return
	}
	addr = addr.Unmap()
	bits := 48
	if addr.Is4() {
		bits = 24
	}
	p, _ := addr.Prefix(bits)
	b := p.Addr().As16()
	c.addKey(maphash.Bytes(seed, b[:]), func() string { return p.String() })
}

func (a *aggregates) stats(aff string) *affStats {
	s := a.affs[aff]
	if s == nil {
		s = &affStats{id: aff, program: a.program[aff], daily: make([]float64, a.days), firstDay: -1}
		a.affs[aff] = s
	}
	return s
}

// aggregate streams the clicks and conversions from the start of the history to the end
// of the window into per-affiliate stats: one pass each, side by side on two connections.
func aggregate(ctx context.Context, src EventSource, w Window, history time.Duration, injectionSeconds float64, affs []affwatch.Affiliate) (*aggregates, error) {
	a := &aggregates{w: w, histFrom: w.Start.Add(-history), injectS: injectionSeconds, seed: maphash.MakeSeed(),
		affs: map[string]*affStats{}, program: map[string]string{}, uaCache: uaCache{}}
	a.days = int(w.End.Sub(a.histFrom)/(24*time.Hour)) + 1
	for _, af := range affs {
		a.program[af.ID] = af.Program
	}
	conv := *a
	conv.affs = map[string]*affStats{}
	conv.integrity = newIntegrityTally()
	convErr := make(chan error, 1)
	go func() { convErr <- conv.conversions(ctx, src) }()
	err := errors.Join(a.clicks(ctx, src), <-convErr)
	if err != nil {
		return nil, err
	}
	for id, c := range conv.affs {
		s := a.stats(id)
		s.convs, s.reversed, s.histConvs = c.convs, c.reversed, c.histConvs
		s.ctitKnown, s.ctitFast, s.ctitLong = c.ctitKnown, c.ctitFast, c.ctitLong
		s.convIPs = c.convIPs
	}
	a.integrity = conv.integrity
	a.order = slices.SortedFunc(maps.Values(a.affs), func(x, y *affStats) int { return strings.Compare(x.id, y.id) })
	return a, nil
}

// ClickHourSource is an event source that keeps its clicks counted per affiliate and hour
// (the SQLite and PostgreSQL stores): detection then reads the history weeks before the
// window as these counts, and only the window's clicks one by one.
type ClickHourSource interface {
	// EachClickHour streams, for each affiliate and each hour starting at or after from
	// and before to (both on the hour), how many clicks it has in that hour.
	EachClickHour(ctx context.Context, from, to time.Time, fn func(affiliateID string, hour time.Time, clicks int) error) error
}

// onTheHour reports whether a time is a whole number of hours after the epoch.
func onTheHour(t time.Time) bool { return t.UnixMilli()%3_600_000 == 0 }

// historyFromHours adds the clicks before the window from the source's hourly counts, as
// clicks read one by one would add them: each hour lies within one day of the history
// when the history starts on the hour.
func (a *aggregates) historyFromHours(ctx context.Context, src ClickHourSource) error {
	err := src.EachClickHour(ctx, a.histFrom, a.w.Start, func(aff string, hour time.Time, n int) error {
		s := a.stats(aff)
		day := int(hour.Sub(a.histFrom) / (24 * time.Hour))
		if day >= 0 && day < a.days {
			s.daily[day] += float64(n)
			if s.firstDay < 0 || day < s.firstDay {
				s.firstDay = day
			}
		}
		s.histClicks += float64(n)
		return nil
	})
	if err != nil {
		return fmt.Errorf("aggregate click hours: %w", err)
	}
	return nil
}

func (a *aggregates) clicks(ctx context.Context, src EventSource) error {
	w := a.w
	since := a.histFrom
	if hs, ok := src.(ClickHourSource); ok && onTheHour(a.histFrom) && onTheHour(w.Start) && a.histFrom.Before(w.Start) {
		if err := a.historyFromHours(ctx, hs); err != nil {
			return err
		}
		since = w.Start
	}
	err := src.EachClickSignal(ctx, since, func(c affwatch.Click) error {
		if c.TS.After(w.End) {
			return nil
		}
		s := a.stats(c.AffiliateID)
		day := int(c.TS.Sub(a.histFrom) / (24 * time.Hour))
		if day >= 0 && day < a.days {
			s.daily[day]++
			if s.firstDay < 0 || day < s.firstDay {
				s.firstDay = day
			}
		}
		if c.TS.Before(w.Start) {
			s.histClicks++
			return nil
		}
		s.clicks++
		s.hours[c.TS.UTC().Hour()]++
		if a.isBot(c.UserAgent) {
			s.botClicks++
		}
		s.ips.add(a.seed, c.IP)
		s.nets.addSubnet(a.seed, c.IP)
		return nil
	})
	if err != nil {
		return fmt.Errorf("aggregate clicks: %w", err)
	}
	return nil
}

func (a *aggregates) conversions(ctx context.Context, src EventSource) error {
	w := a.w
	err := src.EachConversion(ctx, a.histFrom, func(c affwatch.Conversion) error {
		if c.TS.After(w.End) {
			return nil
		}
		s := a.stats(c.AffiliateID)
		if c.TS.Before(w.Start) {
			s.histConvs++
			return nil
		}
		a.integrity.add(c)
		s.convs++
		if affwatch.Reversed(c.Status) {
			s.reversed++
		}
		if !c.ClickTS.IsZero() && !c.TS.Before(c.ClickTS) {
			ctit := c.TS.Sub(c.ClickTS).Seconds()
			s.ctitKnown++
			if ctit <= a.injectS {
				s.ctitFast++
			}
			if ctit > 24*3600 {
				s.ctitLong++
			}
		}
		s.convIPs.add(a.seed, c.ClickIP)
		return nil
	})
	if err != nil {
		return fmt.Errorf("aggregate conversions: %w", err)
	}
	return nil
}
