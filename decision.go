package affwatch

import (
	"context"
	"time"
)

// PageDecision is what one scan decided about one page: whether the page could be
// fetched, under which policy revision it was judged, by which rules, and which of them
// found something there. It answers "was this page checked under rule X as of night N?".
type PageDecision struct {
	ScanID      int64       `json:"scan_id"`
	ScanStarted time.Time   `json:"scan_started"`
	AffiliateID string      `json:"affiliate_id"`
	URL         string      `json:"url"`
	FetchStatus FetchStatus `json:"fetch_status"`
	FetchError  string      `json:"fetch_error,omitempty"`
	FetchedAt   time.Time   `json:"fetched_at"`
	// PolicyRevision is the revision of the policies that judged the page ("" when none
	// did, or the scan predates decision records).
	PolicyRevision string `json:"policy_revision,omitempty"`
	// Judged are the rules that were evaluated on the page; nil when no rule judged it
	// (not verified) or the scan predates decision records.
	Judged []string `json:"judged"`
	// Violated are the judged rules that found something on the page.
	Violated []string `json:"violated"`
	// EvalErrors says which rules failed on the page at run time, and why.
	EvalErrors string `json:"eval_errors,omitempty"`
	Findings   int    `json:"findings"`
}

// PageDecisions is the store role that keeps the decision records: every scan's decision
// about a page, newest first (a URL on more than one affiliate's site gives each).
type PageDecisions interface {
	PageDecisions(ctx context.Context, url string, limit int) ([]PageDecision, error)
}
