package affwatch

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Verdict is the judgement of one event (a conversion, or a click): ok, review (hold and
// look) or reject (reverse the commission). It comes from the event's reason codes.
type Verdict string

const (
	VerdictOK     Verdict = "ok"
	VerdictReview Verdict = "review"
	VerdictReject Verdict = "reject"
)

// Verdicts lists them, mildest first.
var Verdicts = []Verdict{VerdictOK, VerdictReview, VerdictReject}

// ParseVerdict reads a verdict's name.
func ParseVerdict(s string) (Verdict, error) {
	switch v := Verdict(strings.ToLower(strings.TrimSpace(s))); v {
	case VerdictOK, VerdictReview, VerdictReject:
		return v, nil
	}
	return "", fmt.Errorf("%q is not a verdict (ok, review or reject)", s)
}

// Rank orders verdicts: ok 0, review 1, reject 2 (an unknown one is -1).
func (v Verdict) Rank() int {
	switch v {
	case VerdictOK:
		return 0
	case VerdictReview:
		return 1
	case VerdictReject:
		return 2
	}
	return -1
}

// Reason is one reason code an event earned, with the numbers behind it and a sentence
// that says them.
type Reason struct {
	Code    string             `json:"code"`
	Detail  string             `json:"detail"`
	Numbers map[string]float64 `json:"numbers,omitempty"`
}

// EventVerdict is one conversion's judgement as stored: its verdict, its reasons, and
// what the reversal upload and the commission-at-risk sums need of the conversion.
type EventVerdict struct {
	ConversionID string    `json:"conversion_id"`
	OrderID      string    `json:"order_id,omitempty"`
	ClickID      string    `json:"click_id,omitempty"`
	AffiliateID  string    `json:"affiliate_id"`
	TS           time.Time `json:"ts"`
	Commission   float64   `json:"commission"`
	// ClickIP is the address of the conversion's click ("" when the click is unknown): the
	// repeat-address code counts conversions by it.
	ClickIP  string    `json:"click_ip,omitempty"`
	Verdict  Verdict   `json:"verdict"`
	Reasons  []Reason  `json:"reasons,omitempty"`
	JudgedAt time.Time `json:"judged_at"`
	// Status and Currency are the conversion's, when read back with it.
	Status   string `json:"status,omitempty"`
	Currency string `json:"currency,omitempty"`
}

// Codes lists the reason codes, comma-separated.
func (v EventVerdict) Codes() string {
	codes := make([]string, len(v.Reasons))
	for i, r := range v.Reasons {
		codes[i] = r.Code
	}
	return strings.Join(codes, ",")
}

// ReasonText is the reasons as one line for a reversal upload: "CODE: detail; CODE: ...".
func (v EventVerdict) ReasonText() string {
	parts := make([]string, len(v.Reasons))
	for i, r := range v.Reasons {
		parts[i] = r.Code + ": " + r.Detail
	}
	return strings.Join(parts, "; ")
}

// VerdictFilter chooses stored conversion verdicts.
type VerdictFilter struct {
	// Verdicts keeps these (none: all).
	Verdicts []Verdict
	// Affiliates keeps these affiliates' conversions (none: all).
	Affiliates []string
	// Since keeps conversions at or after it.
	Since time.Time
	// Limit caps the rows (0: all).
	Limit int
}

// VerdictStore is the store's role for per-event verdicts: ingest, detect and the score
// endpoint write them, the events list and the reports read them.
type VerdictStore interface {
	// SaveVerdicts stores conversion verdicts, replacing earlier ones of the same
	// conversions.
	SaveVerdicts(ctx context.Context, vs []EventVerdict) error
	// EachVerdict streams the stored verdicts the filter keeps, oldest conversion first.
	EachVerdict(ctx context.Context, f VerdictFilter, fn func(EventVerdict) error) error
	// CommissionAtRisk sums, per affiliate, the commission of conversions at or after
	// since whose verdict is review or reject.
	CommissionAtRisk(ctx context.Context, since time.Time) (map[string]float64, error)

	// What judging a conversion reads: the conversions crediting these orders, the
	// stored verdicts of conversions from these click addresses timed from from to to
	// (ConversionID, TS and ClickIP set), and every conversion at or after since with its
	// stored click (nil when not stored), oldest first.
	ConversionsByOrder(ctx context.Context, orderIDs []string) ([]Conversion, error)
	VerdictsByClickIP(ctx context.Context, ips []string, from, to time.Time) ([]EventVerdict, error)
	EachConversionWithClick(ctx context.Context, since time.Time, fn func(Conversion, *Click) error) error
}
