package affwatch

import "time"

// PageSchemaVersion is the version of the Page document. Policies are type-checked against
// policies/schemas/page/page.schema.json, which carries the same number; bump both together.
const PageSchemaVersion = 1

// FetchStatus says whether a page was seen well enough to judge it. Only FetchOK and
// FetchNotModified pages are verified: a page that could not be verified is never reported
// as compliant and resolves none of its violations.
type FetchStatus string

// The fetch outcomes a crawl records for a page.
const (
	FetchOK              FetchStatus = "ok"
	FetchNotModified     FetchStatus = "not_modified"
	FetchBlockedByRobots FetchStatus = "blocked_by_robots"
	FetchBotWall         FetchStatus = "bot_wall"
	FetchHTTPError       FetchStatus = "http_error"
	FetchTimeout         FetchStatus = "timeout"
	FetchTooLarge        FetchStatus = "too_large"
	FetchUnreachable     FetchStatus = "unreachable"
	FetchRefused         FetchStatus = "refused"
	FetchRedirectLoop    FetchStatus = "redirect_loop"
	FetchError           FetchStatus = "error"
)

// Verified reports whether the page content was actually seen, so that policies ran on
// what a reader sees and the absence of a violation means something.
func (s FetchStatus) Verified() bool { return s == FetchOK || s == FetchNotModified }

// Page is what affwatch saw on one partner page: the input document of every policy.
// Offsets are character (rune) offsets into Text, so "the disclosure comes before the first
// affiliate link" is a comparison of two numbers.
type Page struct {
	SchemaVersion int         `json:"schema_version"`
	URL           string      `json:"url"`
	FinalURL      string      `json:"final_url"`
	Status        int         `json:"status"`
	FetchedAt     time.Time   `json:"fetched_at"`
	ContentSHA256 string      `json:"content_sha256"`
	FetchStatus   FetchStatus `json:"fetch_status"`
	FetchError    string      `json:"fetch_error,omitempty"`
	Redirects     []Redirect  `json:"redirects"`

	Affiliate PageAffiliate `json:"affiliate"`
	Program   string        `json:"program"`

	Title      string `json:"title"`
	Lang       string `json:"lang"`
	Text       string `json:"text"`
	FoldOffset int    `json:"fold_offset"`

	Blocks []Block `json:"blocks"`
	Links  []Link  `json:"links"`
	// LinksDropped counts the anchors past the extractor's cap on links (in reading
	// order): they are not judged. Zero on every ordinary page.
	LinksDropped int          `json:"links_dropped,omitempty"`
	Embeds       []Embed      `json:"embeds"`
	Disclosures  []Disclosure `json:"disclosures"`
	Coupons      []Coupon     `json:"coupons"`
	Prices       []Price      `json:"prices"`
}

// Redirect is one hop between the URL asked for and the page finally shown.
type Redirect struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Status int    `json:"status"`
	// Kind is how the hop happened: "http" (3xx), "meta" (meta refresh) or "js"
	// (a script assigning location).
	Kind string `json:"kind"`
	// Affiliate is set when the target is an affiliate click URL: an automatic redirect
	// to one is cookie stuffing.
	Affiliate *AffiliateLink `json:"affiliate"`
}

// PageAffiliate names the partner whose page this is.
type PageAffiliate struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Site string `json:"site"`
	// NetworkIDs are the partner's own IDs per network: a link on their page that credits
	// another ID for the program is a hijack.
	NetworkIDs map[string]string `json:"network_ids"`
}

// Block is a run of visible text (a paragraph, heading, list item...) in reading order.
type Block struct {
	Offset   int    `json:"offset"`
	Tag      string `json:"tag"`
	Text     string `json:"text"`
	Selector string `json:"selector"`
	Hidden   bool   `json:"hidden"`
}

// Link is an anchor on the page. Affiliate is set when the href is an affiliate click URL.
type Link struct {
	Href      string         `json:"href"`
	Text      string         `json:"text"`
	Rel       []string       `json:"rel"`
	Offset    int            `json:"offset"`
	Selector  string         `json:"selector"`
	Hidden    bool           `json:"hidden"`
	Affiliate *AffiliateLink `json:"affiliate"`
}

// AffiliateLink is what an affiliate click URL says: which network, whose affiliate ID,
// and where it sends the reader.
type AffiliateLink struct {
	Network     string `json:"network"`
	AffiliateID string `json:"affiliate_id"`
	// Merchant is the advertiser's ID in the network (Awin awinmid, CJ advertiser,
	// ShareASale m, Rakuten mid), when the URL carries it: it says which program the link is for.
	Merchant    string `json:"merchant,omitempty"`
	Program     string `json:"program,omitempty"`
	Destination string `json:"destination,omitempty"`
	// Landing is where the click URL really leads, followed through its HTTP redirects
	// (crawl.resolve_clicks), and Hops how many redirects that took.
	Landing string `json:"landing,omitempty"`
	Hops    int    `json:"hops,omitempty"`
}

// Embed is something the page loads without a click: an iframe, image, script or
// prefetch. A hidden embed that loads an affiliate click URL is cookie stuffing.
type Embed struct {
	Kind      string         `json:"kind"`
	Src       string         `json:"src"`
	Width     int            `json:"width"`
	Height    int            `json:"height"`
	Offset    int            `json:"offset"`
	Selector  string         `json:"selector"`
	Hidden    bool           `json:"hidden"`
	Affiliate *AffiliateLink `json:"affiliate"`
}

// Disclosure is a sentence that tells the reader about a material connection
// ("we may earn a commission").
type Disclosure struct {
	Text     string `json:"text"`
	Phrase   string `json:"phrase"`
	Offset   int    `json:"offset"`
	Selector string `json:"selector"`
	Hidden   bool   `json:"hidden"`
	// Vague marks wording that hints at a connection without stating it ("partner",
	// "#sp", "thanks to our friends at"): not a clear disclosure under FTC guidance.
	Vague bool `json:"vague"`
}

// Coupon is a promotional code shown on the page.
type Coupon struct {
	Code    string `json:"code"`
	Offset  int    `json:"offset"`
	Context string `json:"context"`
}

// Price is an amount of money shown on the page.
type Price struct {
	Amount   float64 `json:"amount"`
	Currency string  `json:"currency"`
	Raw      string  `json:"raw"`
	Offset   int     `json:"offset"`
	Context  string  `json:"context"`
}

// AffiliateLinks returns the page's links that are affiliate links, in document order.
func (p *Page) AffiliateLinks() []Link {
	var out []Link
	for _, l := range p.Links {
		if l.Affiliate != nil {
			out = append(out, l)
		}
	}
	return out
}
