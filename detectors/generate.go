package detectors

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/affwatch/affwatch"
)

// Fraud patterns the generator injects, each caught by its own detector(s).
const (
	PatternClickSpam       = "click_spam"
	PatternClickInjection  = "click_injection"
	PatternFakeConversions = "fake_conversions"
	PatternIP              = "ip_concentration"
	PatternBots            = "bots"
	PatternTimeOfDay       = "time_of_day"
	PatternVolumeSpike     = "volume_spike"
	PatternReversals       = "reversals"
	PatternIntegrity       = "integrity"
)

// Patterns lists them in a fixed order.
var Patterns = []string{PatternClickSpam, PatternClickInjection, PatternFakeConversions, PatternIP, PatternBots,
	PatternTimeOfDay, PatternVolumeSpike, PatternReversals, PatternIntegrity}

// PatternOf is the pattern a detector rule is meant to catch.
func PatternOf(rule string) string {
	switch rule {
	case RuleClickSpam:
		return PatternClickSpam
	case RuleClickInjection:
		return PatternClickInjection
	case RuleFakeConversions:
		return PatternFakeConversions
	case RuleIPConcentration, RuleRepeatIP:
		return PatternIP
	case RuleBots:
		return PatternBots
	case RuleTimeOfDay:
		return PatternTimeOfDay
	case RuleVolumeSpike:
		return PatternVolumeSpike
	case RuleReversals:
		return PatternReversals
	case RuleDuplicateOrder, RuleUnknownClick, RuleConversionBefore:
		return PatternIntegrity
	}
	return ""
}

// GenOptions describe a synthetic program.
type GenOptions struct {
	// Seed makes the data: the same seed writes the same data, and the ids of clicks,
	// conversions and orders carry it, so sets of different seeds never share an id.
	Seed int64
	// Affiliates in the program, of which FraudPerPattern per pattern are fraudulent.
	Affiliates      int
	FraudPerPattern int
	// Days of traffic ending at End; the last WindowDays are the window the fraud that
	// starts late (fake conversions, spikes) is in.
	Days, WindowDays int
	End              time.Time
	// ClicksPerDay is the median affiliate's daily clicks (affiliates spread around it).
	ClicksPerDay float64
	// ConversionRate is the program's typical conversion rate.
	ConversionRate float64
	// Program is the program id written in the labels.
	Program string
	// Scenario is one of Scenarios ("" is the standard program the detectors were built
	// on; the others are harder, and were not used to set any threshold).
	Scenario string
	// Event, when set, is called with every fraudulent event the generator writes, for
	// scoring per-event verdicts (events not named are honest).
	Event func(EventLabel) error
}

// Scenarios the generator can write besides the standard program.
const (
	// ScenarioSpread: each pattern's fraud spread over twice as many affiliates, each a
	// fifth of the median affiliate's volume.
	ScenarioSpread = "spread"
	// ScenarioMixed: every fraudulent affiliate runs two patterns at once.
	ScenarioMixed = "mixed"
	// ScenarioRamp: the fraud grows from nothing on the first day to full strength on the
	// last, so the affiliate's own history is part fraud too.
	ScenarioRamp = "ramp"
	// ScenarioOddClean: the standard fraud, plus clean affiliates with legitimately odd
	// audiences: a night-shift app (clicks in the small hours) and a newsletter blast day
	// (a day of six times the clicks, sent in one morning).
	ScenarioOddClean = "odd_clean"
)

// Scenarios lists them; "" is the standard program.
var Scenarios = []string{"", ScenarioSpread, ScenarioMixed, ScenarioRamp, ScenarioOddClean}

// Audiences of the odd-clean scenario's honest affiliates (Label.Audience).
const (
	AudienceNightShift = "night_shift"
	AudienceNewsletter = "newsletter_blast"
)

// EventLabel names one fraudulent event and its pattern.
type EventLabel struct {
	Kind        string // "click" or "conversion"
	ID          string
	AffiliateID string
	Pattern     string
}

func (o *GenOptions) defaults() {
	if o.Affiliates == 0 {
		o.Affiliates = 300
	}
	if o.FraudPerPattern == 0 {
		o.FraudPerPattern = 10
	}
	if o.Days == 0 {
		o.Days = 35
	}
	if o.WindowDays == 0 {
		o.WindowDays = 7
	}
	if o.End.IsZero() {
		o.End = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	}
	if o.ClicksPerDay == 0 {
		o.ClicksPerDay = 120
	}
	if o.ConversionRate == 0 {
		o.ConversionRate = 0.04
	}
	if o.Program == "" {
		o.Program = "synthetic"
	}
}

// Label is the ground truth of one affiliate: its fraud pattern, or "" when clean (in the
// mixed scenario two patterns joined by "+"; Patterns splits them). Audience names a clean
// affiliate's odd but honest audience, if it has one.
type Label struct {
	AffiliateID string
	Pattern     string
	Audience    string
}

// Patterns returns the label's patterns (none when clean).
func (l Label) Patterns() []string {
	if l.Pattern == "" {
		return nil
	}
	return strings.Split(l.Pattern, "+")
}

// mixedPairs are the second patterns of the mixed scenario, by first pattern.
var mixedPairs = map[string]string{
	PatternClickSpam: PatternIP, PatternClickInjection: PatternBots, PatternFakeConversions: PatternReversals,
	PatternIP: PatternTimeOfDay, PatternBots: PatternVolumeSpike, PatternTimeOfDay: PatternClickInjection,
	PatternVolumeSpike: PatternIntegrity, PatternReversals: PatternClickSpam, PatternIntegrity: PatternFakeConversions,
}

// hourProfile is the program's share of clicks by hour of day (UTC): low at night, a
// lunch bump and an evening peak.
var hourProfile = func() [24]float64 {
	var p [24]float64
	sum := 0.0
	for h := range p {
		x := 0.25 + 0.6*math.Exp(-math.Pow(float64(h)-12.5, 2)/8) + math.Exp(-math.Pow(float64(h)-20, 2)/10)
		p[h] = x
		sum += x
	}
	for h := range p {
		p[h] /= sum
	}
	return p
}()

// weekday factors: busier at the weekend, as shopping traffic is.
var weekdayFactor = [7]float64{1.15, 0.95, 0.95, 0.97, 1.0, 1.05, 1.2} // Sunday first

var browserUAs = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
	"Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
}

var botUAs = []string{"", "python-requests/2.32.3", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
	"curl/8.5.0", "Go-http-client/1.1", "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)"}

// genAff is one synthetic affiliate's behaviour.
type genAff struct {
	id, pattern string
	patterns    map[string]bool
	audience    string
	blastDay    int
	daily, cr   float64
	hours       [24]float64
	revRate     float64
	spikeDay    int
	ip          string // the concentrated address or /24 prefix
	subnetOnly  bool
	lastOrder   string
}

// Generate writes a synthetic program's clicks and conversions through the callbacks, in
// one pass with constant memory, and returns the ground truth. The same seed gives the
// same data.
func Generate(opt GenOptions, click func(affwatch.Click) error, conv func(affwatch.Conversion) error) ([]Label, error) {
	opt.defaults()
	rng := rand.New(rand.NewPCG(uint64(opt.Seed), 0x5eed))
	start := opt.End.AddDate(0, 0, -opt.Days)
	winDay := opt.Days - opt.WindowDays

	affs := make([]*genAff, opt.Affiliates)
	var labels []Label
	perm := rng.Perm(opt.Affiliates)
	for i := range affs {
		a := &genAff{id: fmt.Sprintf("aff-%04d", i)}
		// Volume spreads over an order of magnitude; conversion rate and reversals vary
		// between honest partners too.
		a.daily = math.Max(opt.ClicksPerDay*math.Exp(0.6*rng.NormFloat64()), opt.ClicksPerDay*0.6)
		a.cr = opt.ConversionRate * math.Exp(0.25*rng.NormFloat64())
		a.revRate = 0.05 * math.Exp(0.3*rng.NormFloat64())
		for h := range a.hours {
			a.hours[h] = hourProfile[h] * math.Exp(0.08*rng.NormFloat64())
		}
		affs[i] = a
	}
	perPattern := opt.FraudPerPattern
	if opt.Scenario == ScenarioSpread {
		perPattern *= 2
	}
	for k, idx := range perm {
		if k >= perPattern*len(Patterns) {
			break
		}
		a := affs[idx]
		first := Patterns[k/perPattern]
		a.patterns = map[string]bool{first: true}
		if opt.Scenario == ScenarioMixed {
			a.patterns[mixedPairs[first]] = true
		}
		if opt.Scenario == ScenarioSpread {
			a.daily *= 0.2
		}
		for _, p := range Patterns {
			if !a.patterns[p] {
				continue
			}
			switch p {
			case PatternTimeOfDay:
				// a click farm on another continent: most clicks in the small hours UTC
				for h := 0; h < 6; h++ {
					a.hours[h] *= 8
				}
			case PatternVolumeSpike:
				a.spikeDay = winDay + rng.IntN(opt.WindowDays)
			case PatternIP:
				a.subnetOnly = k%2 == 1
				a.ip = fmt.Sprintf("203.0.%d.", rng.IntN(250))
			case PatternReversals:
				a.revRate = 0.45 + 0.15*rng.Float64()
			}
		}
		var ps []string
		for _, p := range Patterns {
			if a.patterns[p] {
				ps = append(ps, p)
			}
		}
		a.pattern = strings.Join(ps, "+")
	}
	if opt.Scenario == ScenarioOddClean {
		// The next twenty honest affiliates in the shuffled order get odd audiences; no
		// random number is drawn for them, so the rest of the program is the standard one.
		fraud := perPattern * len(Patterns)
		for k := fraud; k < min(fraud+20, len(perm)); k++ {
			a := affs[perm[k]]
			if k-fraud < 10 {
				// a night-shift app: its people are up from midnight to six, UTC
				a.audience = AudienceNightShift
				for h := range a.hours {
					a.hours[h] = hourProfile[(h+14)%24]
				}
			} else {
				a.audience = AudienceNewsletter
				a.blastDay = winDay + (k-fraud)%opt.WindowDays
			}
		}
	}
	for _, a := range affs {
		labels = append(labels, Label{AffiliateID: a.id, Pattern: a.pattern, Audience: a.audience})
	}
	label := func(kind, id string, a *genAff, pattern string) error {
		if opt.Event == nil {
			return nil
		}
		return opt.Event(EventLabel{Kind: kind, ID: id, AffiliateID: a.id, Pattern: pattern})
	}

	nClick, nConv, nOrder := 0, 0, 0
	// eventID names the n-th click (c), conversion (v) or order (o) of this seed's data:
	// two sets generated with different seeds can be loaded into one store side by side.
	eventID := func(kind string, n int) string { return fmt.Sprintf("%s%d-%09d", kind, opt.Seed, n) }
	// ramp is how strong the fraud is on a day: full, or in the ramp scenario growing
	// from nothing on the first day to full on the last.
	ramp := func(day int) float64 {
		if opt.Scenario != ScenarioRamp {
			return 1
		}
		return float64(day) / float64(max(opt.Days-1, 1))
	}
	dupShare := 0.3
	emitConv := func(a *genAff, c affwatch.Click, ctit time.Duration, fraud string) error {
		ts := c.TS.Add(ctit)
		if ts.After(opt.End) {
			return nil // not yet happened
		}
		nConv++
		nOrder++
		v := affwatch.Conversion{ConversionID: eventID("v", nConv), ClickID: c.ClickID, TS: ts, AffiliateID: a.id,
			OrderID: eventID("o", nOrder), Currency: "EUR", Status: "approved"}
		v.Amount = math.Round(100*20*math.Exp(0.7*rng.NormFloat64())) / 100
		v.Commission = math.Round(v.Amount*8) / 100
		if rng.Float64() < a.revRate {
			v.Status = "reversed"
		} else if ts.After(opt.End.AddDate(0, 0, -3)) {
			v.Status = "pending"
		}
		if a.patterns[PatternIntegrity] && a.lastOrder != "" && rng.Float64() < dupShare {
			v.OrderID = a.lastOrder // the same order claimed again
			fraud = PatternIntegrity
		}
		a.lastOrder = v.OrderID
		if fraud != "" {
			if err := label("conversion", v.ConversionID, a, fraud); err != nil {
				return err
			}
		}
		return conv(v)
	}
	for day := 0; day < opt.Days; day++ {
		date := start.AddDate(0, 0, day)
		f := ramp(day)
		dupShare = 0.3 * f
		for _, a := range affs {
			mean := a.daily * weekdayFactor[date.Weekday()] * math.Exp(0.1*rng.NormFloat64())
			if a.patterns[PatternVolumeSpike] && day == a.spikeDay {
				mean *= 6
			}
			spray := 1 + 7*f // sprayed clicks per honest one
			if a.patterns[PatternClickSpam] {
				mean *= spray // sprayed clicks, most never seen by a person
			}
			if a.audience == AudienceNewsletter && day == a.blastDay {
				mean *= 6 // the newsletter went out this morning
			}
			n := poisson(rng, mean)
			hours := a.hours
			if opt.Scenario == ScenarioRamp && a.patterns[PatternTimeOfDay] {
				for h := 0; h < 6; h++ {
					hours[h] = a.hours[h] / 8 * (1 + 7*f)
				}
			}
			if opt.Scenario == ScenarioRamp && a.patterns[PatternReversals] {
				a.revRate = 0.05 + 0.45*f
			}
			hsum := 0.0
			for _, w := range hours {
				hsum += w
			}
			for range n {
				nClick++
				h := pickHour(rng, hours[:], hsum)
				if a.audience == AudienceNewsletter && day == a.blastDay && rng.Float64() < 0.8 {
					h = 7 + rng.IntN(2) // most of the day's clicks in the two hours after the send
				}
				c := affwatch.Click{ClickID: eventID("c", nClick), AffiliateID: a.id,
					TS:        date.Add(time.Duration(h)*time.Hour + time.Duration(rng.Int64N(int64(time.Hour)))),
					IP:        fmt.Sprintf("%d.%d.%d.%d", 11+rng.IntN(180), rng.IntN(256), rng.IntN(256), 1+rng.IntN(254)),
					UserAgent: browserUAs[rng.IntN(len(browserUAs))], Country: "DE", SubID: "s" + fmt.Sprint(rng.IntN(5)),
					LandingURL: "https://shop.example/"}
				if rng.Float64() < 0.01 {
					c.UserAgent = botUAs[rng.IntN(len(botUAs))] // stray crawlers follow links everywhere
				}
				c.IP = avoidHosting(c.IP)
				converts := true
				fraudClick := ""
				if a.patterns[PatternBots] {
					if rng.Float64() < 0.3*f {
						c.UserAgent, converts = botUAs[rng.IntN(len(botUAs))], false
						fraudClick = PatternBots
					}
				}
				if a.patterns[PatternIP] {
					if rng.Float64() < 0.2*f {
						c.IP = a.ip + "7"
						if a.subnetOnly {
							c.IP = a.ip + fmt.Sprint(1+rng.IntN(254))
						}
						fraudClick = PatternIP
					}
				}
				if a.patterns[PatternClickSpam] {
					converts = rng.Float64() < 1.0/spray
					if !converts {
						fraudClick = PatternClickSpam
					}
				}
				if fraudClick != "" {
					if err := label("click", c.ClickID, a, fraudClick); err != nil {
						return nil, err
					}
				}
				if err := click(c); err != nil {
					return nil, err
				}
				if a.patterns[PatternClickSpam] && rng.Float64() < a.cr*0.6/8*f {
					// an organic sale days later, credited to a sprayed click
					if err := emitConv(a, c, time.Duration(24+rng.IntN(6*24))*time.Hour+time.Duration(rng.IntN(3600))*time.Second, PatternClickSpam); err != nil {
						return nil, err
					}
				}
				if !converts {
					continue
				}
				cr, fakeFrom := a.cr, 2.0 // a draw at or above fakeFrom is never an invented order
				if a.patterns[PatternFakeConversions] && (day >= winDay || opt.Scenario == ScenarioRamp) {
					fakeFrom = a.cr
					cr *= 1 + 4*f // invented orders, from the window on (in the ramp, growing all along)
				}
				if u := rng.Float64(); u < cr {
					fraud := ""
					if u >= fakeFrom {
						fraud = PatternFakeConversions
					}
					if err := emitConv(a, c, ctit(rng), fraud); err != nil {
						return nil, err
					}
				}
				if a.patterns[PatternClickInjection] {
					// a click fired seconds before an install or order that would have
					// happened anyway
					if rng.Float64() < a.cr*f {
						if err := emitConv(a, c, time.Duration(1+rng.IntN(9))*time.Second, PatternClickInjection); err != nil {
							return nil, err
						}
					}
				}
			}
		}
	}
	// Integrity fraud also reports conversions for clicks that were never logged.
	for _, a := range affs {
		if !a.patterns[PatternIntegrity] {
			continue
		}
		for i := range 3 {
			nConv++
			id := eventID("v", nConv)
			if err := label("conversion", id, a, PatternIntegrity); err != nil {
				return nil, err
			}
			if err := conv(affwatch.Conversion{ConversionID: id, ClickID: fmt.Sprintf("ghost%d-%s-%d", opt.Seed, a.id, i),
				TS: opt.End.Add(-time.Duration(1+i) * time.Hour), AffiliateID: a.id, OrderID: fmt.Sprintf("g%d-%s-%d", opt.Seed, a.id, i),
				Amount: 50, Commission: 4, Currency: "EUR", Status: "pending"}); err != nil {
				return nil, err
			}
		}
	}
	return labels, nil
}

// avoidHosting moves a shopper's address out of the shipped hosting ranges (a random
// address can fall in a cloud's block; a person's device does not sit there), by changing
// its first number, with no random draw.
func avoidHosting(ip string) string {
	d := DefaultDatacenters()
	for range 180 {
		if d.Provider(ip) == "" {
			return ip
		}
		first, rest, _ := strings.Cut(ip, ".")
		n, _ := strconv.Atoi(first)
		ip = strconv.Itoa(11+(n-11+37)%180) + "." + rest
	}
	return ip
}

// ctit draws an honest click-to-conversion time: log-normal with a median of 40 minutes,
// a few percent past a day.
func ctit(rng *rand.Rand) time.Duration {
	return time.Duration(40 * 60 * math.Exp(1.5*rng.NormFloat64()) * float64(time.Second))
}

func pickHour(rng *rand.Rand, w []float64, sum float64) int {
	x := rng.Float64() * sum
	for h, v := range w {
		x -= v
		if x < 0 {
			return h
		}
	}
	return len(w) - 1
}

// poisson draws a Poisson count (normal approximation above 50).
func poisson(rng *rand.Rand, mean float64) int {
	if mean > 50 {
		return max(0, int(math.Round(mean+math.Sqrt(mean)*rng.NormFloat64())))
	}
	l, k, p := math.Exp(-mean), 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// CSVWriter writes events in the canonical CSV form that ingest reads.
type CSVWriter struct {
	w   *csv.Writer
	row []string
}

// NewClickCSV and NewConversionCSV start a file with its header.
func NewClickCSV(w io.Writer) *CSVWriter      { return newCSV(w, ClickColumns) }
func NewConversionCSV(w io.Writer) *CSVWriter { return newCSV(w, ConversionColumns) }

func newCSV(w io.Writer, header []string) *CSVWriter {
	cw := &CSVWriter{w: csv.NewWriter(w), row: make([]string, len(header))}
	cw.w.Write(header)
	return cw
}

// Click writes one click.
func (c *CSVWriter) Click(v affwatch.Click) error {
	c.row = append(c.row[:0], v.ClickID, v.TS.Format(time.RFC3339Nano), v.AffiliateID, v.SubID, v.IP, v.UserAgent, v.Referrer, v.Country, v.LandingURL)
	return c.w.Write(c.row)
}

// Conversion writes one conversion.
func (c *CSVWriter) Conversion(v affwatch.Conversion) error {
	c.row = append(c.row[:0], v.ConversionID, v.ClickID, v.TS.Format(time.RFC3339Nano), v.AffiliateID, v.OrderID,
		strconv.FormatFloat(v.Amount, 'f', 2, 64), v.Currency, strconv.FormatFloat(v.Commission, 'f', 2, 64), v.Status)
	return c.w.Write(c.row)
}

// Flush writes what is buffered and reports any write error.
func (c *CSVWriter) Flush() error {
	c.w.Flush()
	return c.w.Error()
}
