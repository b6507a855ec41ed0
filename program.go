package affwatch

import "time"

// Program is one advertiser's affiliate program and the guidelines its partners must keep.
// Its JSON form is what policies read as data.programs.<id>.
type Program struct {
	ID   string `json:"id" yaml:"id"`
	Name string `json:"name" yaml:"name"`
	// BrandTerms are the advertiser's trademarks (for trademark-misuse rules).
	BrandTerms []string `json:"brand_terms" yaml:"brand_terms"`
	// LandingDomains are the advertiser's own domains: affiliate links must land there.
	LandingDomains []string `json:"landing_domains" yaml:"landing_domains"`
	// DisclosurePhrases are phrases the program accepts as a clear disclosure, on top of
	// the ones the extractor recognises by itself.
	DisclosurePhrases []string `json:"disclosure_phrases" yaml:"disclosure_phrases"`
	// ProhibitedClaims are phrases partners must not use about the product.
	ProhibitedClaims []string `json:"prohibited_claims" yaml:"prohibited_claims"`
	// AffiliateIDs are the IDs the program itself owns per network (e.g. its Amazon tag),
	// so a link carrying another ID to the program's product is a hijack.
	AffiliateIDs map[string][]string `json:"affiliate_ids" yaml:"affiliate_ids"`
	// MerchantIDs are the program's advertiser IDs per network (awin -> "1001"): a link
	// carrying one of them is a link to this program.
	MerchantIDs map[string]string `json:"merchant_ids" yaml:"merchant_ids"`
	// Coupons are the codes the program has issued, with their validity.
	Coupons []ProgramCoupon `json:"coupons" yaml:"coupons"`
	// SeverityOverrides change a rule's severity for this program (rule id -> severity).
	SeverityOverrides map[string]Severity `json:"severity_overrides" yaml:"severity_overrides"`
	// DisabledRules are rule ids that do not apply to this program.
	DisabledRules []string `json:"disabled_rules" yaml:"disabled_rules"`
	// Exceptions suppress findings the program has agreed to, until they expire.
	Exceptions []Exception `json:"exceptions" yaml:"exceptions"`
	// DisclosureMinFontPx, DisclosureMinContrast and DisclosureMaxScreens are what
	// DISC-005 asks of a disclosure on a rendered page for it to be clear and conspicuous:
	// a computed font size of at least this many CSS pixels (default 10), a WCAG contrast
	// ratio with its background of at least this (default 4.5, WCAG AA for normal text;
	// large text, 24 px or 18.66 px bold, needs at most 3), and a place at most this many
	// screens (viewport heights) below the first affiliate link (default 2). Zero means
	// the default.
	DisclosureMinFontPx   float64 `json:"disclosure_min_font_px,omitempty" yaml:"disclosure_min_font_px"`
	DisclosureMinContrast float64 `json:"disclosure_min_contrast,omitempty" yaml:"disclosure_min_contrast"`
	DisclosureMaxScreens  float64 `json:"disclosure_max_screens,omitempty" yaml:"disclosure_max_screens"`
	// Render overrides crawl.render for this program's affiliates ("" : not set).
	Render RenderMode `json:"-" yaml:"render"`
	// CloakingPersonas, when set, have each page of the program's affiliates rendered once
	// more per persona, as that reader would arrive; a view that differs from the
	// crawler's in what matters (affiliate links, disclosures, claims) is CLOAK-001.
	CloakingPersonas []Persona `json:"-" yaml:"cloaking_personas"`
}

// Persona is a reader the crawler poses as, to see a page as they would be shown it: a
// browser's user agent, the search engine they arrive from, a phone's screen.
type Persona struct {
	// Name names the persona in evidence ("google-mobile").
	Name string `json:"name" yaml:"name"`
	// UserAgent is the browser the persona uses (default: a desktop Chrome's).
	UserAgent string `json:"user_agent,omitempty" yaml:"user_agent"`
	// Referrer is the page the persona arrives from ("https://www.google.com/").
	Referrer string `json:"referrer,omitempty" yaml:"referrer"`
	// Mobile lays the page out on a phone's screen (390 x 844, touch).
	Mobile bool `json:"mobile,omitempty" yaml:"mobile"`
}

// The user agents of personas that name none: a current desktop and phone Chrome.
const (
	DesktopUserAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36"
	MobileUserAgent  = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Mobile Safari/537.36"
)

// Agent is the user agent the persona's browser sends.
func (p Persona) Agent() string {
	switch {
	case p.UserAgent != "":
		return p.UserAgent
	case p.Mobile:
		return MobileUserAgent
	}
	return DesktopUserAgent
}

// ProgramCoupon is a coupon code an advertiser issued, valid between two dates.
type ProgramCoupon struct {
	Code       string `json:"code" yaml:"code"`
	ValidFrom  string `json:"valid_from,omitempty" yaml:"valid_from"`
	ValidUntil string `json:"valid_until,omitempty" yaml:"valid_until"`
	// Affiliates, when set, are the only affiliates allowed to publish the code.
	Affiliates []string `json:"affiliates,omitempty" yaml:"affiliates"`
}

// Exception is an agreed deviation: findings of Rule for Affiliate on URLs matching URLGlob
// are kept but suppressed, with Reason, until Expires.
type Exception struct {
	Rule      string `json:"rule" yaml:"rule"`
	Affiliate string `json:"affiliate,omitempty" yaml:"affiliate"`
	URLGlob   string `json:"url_glob,omitempty" yaml:"url_glob"`
	Reason    string `json:"reason" yaml:"reason"`
	Expires   string `json:"expires,omitempty" yaml:"expires"`
}

// Affiliate is a partner who promotes a program on their own sites, and the manager at the
// advertiser who answers for them.
type Affiliate struct {
	ID           string `json:"id" yaml:"id"`
	Name         string `json:"name" yaml:"name"`
	Program      string `json:"program" yaml:"program"`
	ManagerEmail string `json:"manager_email" yaml:"manager"`
	// Sites are the seed URLs of the affiliate's pages.
	Sites []string `json:"sites" yaml:"sites"`
	// NetworkIDs are the affiliate's own IDs per network ("amazon" -> "mytag-20"): links
	// on the affiliate's pages that carry other IDs are suspect.
	NetworkIDs map[string]string `json:"network_ids" yaml:"network_ids"`
	// Render overrides the program's and crawl.render for this affiliate's pages.
	Render RenderMode `json:"-" yaml:"render"`
}

// ScanStatus is where a scan run stands.
type ScanStatus string

// The scan states. A scan left "running" by a crash is marked failed by the next run.
const (
	ScanRunning   ScanStatus = "running"
	ScanSucceeded ScanStatus = "succeeded"
	ScanPartial   ScanStatus = "partial" // finished, but some pages could not be verified
	ScanFailed    ScanStatus = "failed"
)

// Scan is one run over the configured affiliates' sites.
type Scan struct {
	ID       int64      `json:"id"`
	Kind     string     `json:"kind"` // "crawl" or "detect"
	Started  time.Time  `json:"started"`
	Finished time.Time  `json:"finished,omitzero"`
	Status   ScanStatus `json:"status"`
	Counts   ScanCounts `json:"counts"`
	Error    string     `json:"error,omitempty"`
}

// ScanCounts are what a scan saw and changed.
type ScanCounts struct {
	Pages      int `json:"pages"`
	Verified   int `json:"verified"`
	Failed     int `json:"failed"`
	Findings   int `json:"findings"`
	New        int `json:"new"`
	Reopened   int `json:"reopened"`
	Resolved   int `json:"resolved"`
	Suppressed int `json:"suppressed"`
}

// Normalized returns the program with empty lists and maps instead of nil ones, the form
// policies read (they can count and iterate without guarding against null).
func (p Program) Normalized() Program {
	orEmpty := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	p.BrandTerms, p.LandingDomains = orEmpty(p.BrandTerms), orEmpty(p.LandingDomains)
	p.DisclosurePhrases, p.ProhibitedClaims, p.DisabledRules = orEmpty(p.DisclosurePhrases), orEmpty(p.ProhibitedClaims), orEmpty(p.DisabledRules)
	if p.AffiliateIDs == nil {
		p.AffiliateIDs = map[string][]string{}
	}
	if p.MerchantIDs == nil {
		p.MerchantIDs = map[string]string{}
	}
	if p.SeverityOverrides == nil {
		p.SeverityOverrides = map[string]Severity{}
	}
	if p.Coupons == nil {
		p.Coupons = []ProgramCoupon{}
	}
	if p.Exceptions == nil {
		p.Exceptions = []Exception{}
	}
	return p
}

// Owns reports whether an affiliate link is for this program: the network classified it
// as the program's, or it carries the program's advertiser (merchant) ID in its network.
func (p Program) Owns(a AffiliateLink) bool {
	return (a.Program != "" && a.Program == p.ID) || (a.Merchant != "" && a.Merchant == p.MerchantIDs[a.Network])
}
