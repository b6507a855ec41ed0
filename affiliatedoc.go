package affwatch

import "time"

// AffiliateDocSchemaVersion is the version of the affiliate document. The joined rules are
// type-checked against policies/schemas/affiliate/affiliate.schema.json, which carries the
// same number; bump both together.
const AffiliateDocSchemaVersion = 1

// AffiliateWhere is what stands for a page URL in the fingerprint of a joined violation:
// the affiliate as a whole ("affiliate:<id>").
func AffiliateWhere(id string) string { return "affiliate:" + id }

// AffiliateDocument is everything affwatch knows about one affiliate at once: the input of
// the joined rules (package affwatch.affiliate_rules.*), which see signals no single stage
// sees (a coupon site whose conversions arrive seconds after the click; a disclosure that
// vanished the week the conversion rate jumped). It is built from the scorecard, the
// stored violations, the pages of the last crawl scans and the vetting record.
type AffiliateDocument struct {
	SchemaVersion int            `json:"schema_version"`
	Affiliate     DocAffiliate   `json:"affiliate"`
	Period        DocPeriod      `json:"period"`
	Scorecard     DocScorecard   `json:"scorecard"`
	Baseline      DocTraffic     `json:"baseline"`
	Violations    []DocViolation `json:"violations"`
	Findings      []DocFinding   `json:"findings"`
	Pages         []DocPage      `json:"pages"`
	Vetting       *DocVetting    `json:"vetting"`
	// Promotions are the programs the affiliate's verified pages link to, all pages together.
	Promotions []DocPromotion `json:"promotions"`
}

// DocAffiliate names the affiliate.
type DocAffiliate struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Program string   `json:"program"`
	Manager string   `json:"manager"`
	Sites   []string `json:"sites"`
}

// DocPeriod is the stretch of traffic the scorecard covers, and its length in days; the
// previous period is as long and ends where this one starts.
type DocPeriod struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Days  float64   `json:"days"`
}

// DocTraffic are one period's traffic numbers (the scorecard's, or the program's baseline).
type DocTraffic struct {
	Clicks         int     `json:"clicks"`
	Conversions    int     `json:"conversions"`
	ConversionRate float64 `json:"conversion_rate"`
	Revenue        float64 `json:"revenue"`
	Commission     float64 `json:"commission"`
	EPC            float64 `json:"epc"`
	Reversed       int     `json:"reversed"`
	ReversalRate   float64 `json:"reversal_rate"`
	// TimedConversions are the conversions whose click is known; Fast those that came
	// within the scorecard's fast_seconds of it, FastShare = Fast / TimedConversions.
	TimedConversions int     `json:"timed_conversions"`
	Fast             int     `json:"fast_conversions"`
	FastShare        float64 `json:"fast_share"`
}

// DocScorecard is the affiliate's scorecard: this period and the previous one, and what
// the store says about its violations and pages.
type DocScorecard struct {
	Current  DocTraffic `json:"current"`
	Previous DocTraffic `json:"previous"`
	// CommissionAtRisk is the commission on conversions whose verdict is review or reject;
	// null until per-event verdicts exist.
	CommissionAtRisk *float64 `json:"commission_at_risk"`
	// OpenViolations counts the active violations (not resolved, not suppressed, not
	// advisories) by severity name.
	OpenViolations map[string]int `json:"open_violations"`
	// MedianDaysToFix is the median of resolved_at - first_seen over the affiliate's
	// resolved violations; null when none was resolved.
	MedianDaysToFix *float64 `json:"median_days_to_fix"`
	PagesChecked    int      `json:"pages_checked"`
	// PagesNotVerified are the pages of the last crawl scan that could not be verified.
	PagesNotVerified int `json:"pages_not_verified"`
}

// DocViolation is one active violation of the affiliate (policy, detector or joined).
type DocViolation struct {
	RuleID   string `json:"rule_id"`
	Source   string `json:"source"`
	Severity string `json:"severity"`
	State    string `json:"state"`
	URL      string `json:"url"`
	Message  string `json:"message"`
}

// DocFinding is one active detector finding with the numbers behind it.
type DocFinding struct {
	RuleID   string             `json:"rule_id"`
	Severity string             `json:"severity"`
	Tier     string             `json:"tier"`
	Message  string             `json:"message"`
	Numbers  map[string]float64 `json:"numbers"`
}

// DocPage is one page of the last crawl scan, with what the scan before saw of it.
type DocPage struct {
	URL            string         `json:"url"`
	FetchStatus    string         `json:"fetch_status"`
	Verified       bool           `json:"verified"`
	FetchedAt      time.Time      `json:"fetched_at"`
	Title          string         `json:"title"`
	AffiliateLinks int            `json:"affiliate_links"`
	Disclosures    int            `json:"disclosures"`
	Coupons        int            `json:"coupons"`
	Promotions     []DocPromotion `json:"promotions"`
	// Previous is the same page in the crawl scan before, when it was seen then.
	Previous *DocPageBefore `json:"previous"`
}

// DocPageBefore is what an earlier scan saw of a page.
type DocPageBefore struct {
	FetchedAt   time.Time `json:"fetched_at"`
	Verified    bool      `json:"verified"`
	Disclosures int       `json:"disclosures"`
	Coupons     int       `json:"coupons"`
}

// DocPromotion is an affiliate program a page links to: the network, the advertiser's
// ID in it when the link carries one, and whether it is the affiliate's own program.
type DocPromotion struct {
	Network  string `json:"network"`
	Merchant string `json:"merchant"`
	Links    int    `json:"links"`
	Ours     bool   `json:"ours"`
}

// DocVetting is the last vetting of the affiliate's site (affwatch vet) before it joined:
// what was seen then, to compare with what the scans see now.
type DocVetting struct {
	Site      string    `json:"site"`
	Verdict   string    `json:"verdict"`
	VettedAt  time.Time `json:"vetted_at"`
	DaysSince float64   `json:"days_since"`
	Pages     int       `json:"pages"`
	Verified  int       `json:"verified"`
	// Disclosures counts the disclosures on the vetted pages that were verified.
	Disclosures int            `json:"disclosures"`
	Promotions  []DocPromotion `json:"promotions"`
	// RuleIDs are the rules that found something when the site was vetted.
	RuleIDs []string `json:"rule_ids"`
}
