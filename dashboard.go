package affwatch

import (
	"context"
	"time"
)

// ViolationQuery selects one page of violations for the dashboard and the API: the
// filters, an order, and a keyset cursor (After) that continues where the last page ended,
// so a page costs the same at the millionth row as at the first.
type ViolationQuery struct {
	// Scoped limits the query to Scope's affiliates (a manager's): an empty Scope then
	// selects nothing. AffiliateIDs narrows further.
	Scoped       bool
	Scope        []string
	AffiliateIDs []string
	States       []State
	Severities   []Severity
	RuleID       string
	Source       Source
	// Text is looked for in the message, title, URL and rule id.
	Text string
	// Since and Until bound the last sighting.
	Since, Until time.Time
	// Sort is one of ViolationSorts; "" is SortSeverity.
	Sort string
	// After is the cursor of the previous page's last row (ViolationCursor); "" from the
	// start.
	After string
	// Limit is the page size (default 50); a negative limit selects everything.
	Limit int
}

// The orders of a violation list: most severe first, most recently seen first, most
// recently first seen first, by affiliate, by rule. Each ends with the fingerprint, so the
// order is total and a cursor is exact.
const (
	SortSeverity  = "severity"
	SortLastSeen  = "last_seen"
	SortFirstSeen = "first_seen"
	SortAffiliate = "affiliate"
	SortRule      = "rule"
)

// ViolationSorts are the orders a violation list can take.
func ViolationSorts() []string {
	return []string{SortSeverity, SortLastSeen, SortFirstSeen, SortAffiliate, SortRule}
}

// StateSeverityCount is how many violations have one state and severity.
type StateSeverityCount struct {
	State    State    `json:"state"`
	Severity Severity `json:"severity"`
	Count    int      `json:"count"`
}

// DayCount is a number per day (a night's open violations, a day's clicks).
type DayCount struct {
	Day   time.Time `json:"day"`
	Count int       `json:"count"`
}

// ScanChanges is what one scan changed: violations found new (or reopened) and resolved.
type ScanChanges struct {
	ScanID   int64     `json:"scan_id"`
	Started  time.Time `json:"started"`
	New      int       `json:"new"`
	Resolved int       `json:"resolved"`
}

// RuleCount is how often a rule fired: every violation it found, and those still active.
type RuleCount struct {
	RuleID string `json:"rule_id"`
	Total  int    `json:"total"`
	Active int    `json:"active"`
}

// PageSummary is one page a scan looked at, without its document.
type PageSummary struct {
	ScanID         int64       `json:"scan_id"`
	AffiliateID    string      `json:"affiliate_id"`
	URL            string      `json:"url"`
	FinalURL       string      `json:"final_url,omitempty"`
	Status         int         `json:"status"`
	FetchStatus    FetchStatus `json:"fetch_status"`
	FetchError     string      `json:"fetch_error,omitempty"`
	FetchedAt      time.Time   `json:"fetched_at"`
	ContentSHA256  string      `json:"content_sha256,omitempty"`
	PolicyRevision string      `json:"policy_revision,omitempty"`
	Findings       int         `json:"findings"`
}

// Traffic is an affiliate's clicks and conversions per day.
type Traffic struct {
	Day         time.Time `json:"day"`
	Clicks      int       `json:"clicks"`
	Conversions int       `json:"conversions"`
}

// Dashboard is the store role the dashboard and the API read: violation pages with a
// cursor, counts for the overview, the pages of a scan or an affiliate, traffic.
type Dashboard interface {
	// ViolationPage returns the violations the query selects, in its order, and the
	// cursor of the next page ("" when there is none).
	ViolationPage(ctx context.Context, q ViolationQuery) ([]Violation, string, error)
	// ViolationCounts counts violations by state and severity (within the scope, when
	// scoped).
	ViolationCounts(ctx context.Context, scoped bool, scope []string) ([]StateSeverityCount, error)
	// OpenByDay is how many violations were active at the end of each of the days.
	OpenByDay(ctx context.Context, scoped bool, scope []string, days []time.Time) ([]DayCount, error)
	// Changes is what the latest crawl scans found new and resolved.
	Changes(ctx context.Context, scoped bool, scope []string, scans int) ([]ScanChanges, error)
	RuleCounts(ctx context.Context, scoped bool, scope []string) ([]RuleCount, error)
	// PagesOf lists the pages of a scan (scanID > 0) or the latest scan of an affiliate
	// (affiliateID set); unverified only keeps those not verified.
	PagesOf(ctx context.Context, scanID int64, affiliateID string, unverified bool, limit int) ([]PageSummary, error)
	// PageAt is the stored look at an affiliate's page in the scan, or the latest before it.
	PageAt(ctx context.Context, affiliateID, url string, scanID int64) (PageSummary, error)
	// DailyTraffic is the clicks and conversions of the affiliates per day since a time.
	DailyTraffic(ctx context.Context, affiliateIDs []string, since time.Time) ([]Traffic, error)
	// ScanTotals counts the scans by kind and status (the metrics endpoint).
	ScanTotals(ctx context.Context) ([]ScanTotal, error)
}

// ScanTotal is how many scans of a kind ended (or stand) in a status.
type ScanTotal struct {
	Kind   string     `json:"kind"`
	Status ScanStatus `json:"status"`
	Count  int        `json:"count"`
}
