package affwatch

import (
	"slices"
	"time"
)

// Click is one visit through an affiliate's tracking link, as the network logged it.
type Click struct {
	ClickID     string    `json:"click_id"`
	TS          time.Time `json:"ts"`
	AffiliateID string    `json:"affiliate_id"`
	SubID       string    `json:"sub_id,omitempty"`
	IP          string    `json:"ip,omitempty"`
	UserAgent   string    `json:"user_agent,omitempty"`
	Referrer    string    `json:"referrer,omitempty"`
	Country     string    `json:"country,omitempty"`
	LandingURL  string    `json:"landing_url,omitempty"`
	// Verdict and Codes are the click's own judgement (automation, a flood, a hosting
	// address, a stuffing page), made at ingest; empty on clicks stored before verdicts.
	Verdict Verdict  `json:"verdict,omitempty"`
	Codes   []string `json:"codes,omitempty"`
}

// Conversion is a sale or lead credited to an affiliate, ideally tied to the click that
// brought the customer.
type Conversion struct {
	ConversionID string    `json:"conversion_id"`
	ClickID      string    `json:"click_id,omitempty"`
	TS           time.Time `json:"ts"`
	AffiliateID  string    `json:"affiliate_id"`
	OrderID      string    `json:"order_id,omitempty"`
	Amount       float64   `json:"amount"`
	Currency     string    `json:"currency,omitempty"`
	Commission   float64   `json:"commission"`
	// Status is the network's word for it: approved, pending, reversed, refunded...
	Status string `json:"status,omitempty"`
	// ClickTS is the time of the referenced click when the store knows it (zero otherwise).
	ClickTS time.Time `json:"click_ts,omitzero"`
	// ClickIP is the address of the referenced click when the store knows it.
	ClickIP string `json:"click_ip,omitempty"`
}

// ReversedStatuses are the network words for a conversion taken back (its commission is
// not paid, so not at risk either).
var ReversedStatuses = []string{"reversed", "refunded", "rejected", "declined", "chargeback", "cancelled", "canceled", "void"}

// Reversed says whether a conversion status means the network took it back.
func Reversed(status string) bool { return slices.Contains(ReversedStatuses, status) }
