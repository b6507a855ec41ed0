package affwatch

import "time"

// PageSchemaVersion is the version of the Page document. Policies are type-checked against
// policies/schemas/page/page.schema.json, which carries the same number; bump both together.
const PageSchemaVersion = 2

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
	// FetchRenderFailed is a page that was to be rendered in a browser (crawl.render) whose
	// browser crashed or hung twice: what scripts build on it was not seen, so it resolves
	// nothing.
	FetchRenderFailed FetchStatus = "render_failed"
)

// RenderMode says when a page is loaded in a browser (Chromium) and judged as the reader
// sees it, scripts run, rather than as the server sent it.
type RenderMode string

// The render modes. RenderAuto renders a page whose static HTML has a <script> element and
// little to read (fewer than AutoRenderWords words, or fewer than AutoRenderLinks links):
// the signs of a page built by script.
const (
	RenderNever  RenderMode = "never"
	RenderAuto   RenderMode = "auto"
	RenderAlways RenderMode = "always"
)

// The thresholds of RenderAuto.
const (
	AutoRenderWords = 150
	AutoRenderLinks = 3
)

// Valid reports whether m is a render mode ("" is not: it means "not set").
func (m RenderMode) Valid() bool { return m == RenderNever || m == RenderAuto || m == RenderAlways }

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
	// Words is the blocks' word index: each lower-cased word (a run of letters) of the
	// blocks' text, with the indexes into Blocks of the blocks that hold it, ascending. Pattern
	// rules find the blocks their regular expressions can match by looking up the words
	// every match needs (lib/page.rego's own_blocks_with) instead of scanning all the text.
	// Absent on documents not made by the extractor; rules then read every block.
	Words map[string][]int `json:"words,omitempty"`
	Links []Link           `json:"links"`
	// LinksDropped counts the anchors past the extractor's cap on links (in reading
	// order): they are not judged. Zero on every ordinary page.
	LinksDropped int          `json:"links_dropped,omitempty"`
	Embeds       []Embed      `json:"embeds"`
	Disclosures  []Disclosure `json:"disclosures"`
	Coupons      []Coupon     `json:"coupons"`
	Prices       []Price      `json:"prices"`

	// Rendered is true when the content fields come from the DOM a browser built (scripts
	// run, crawl.render), false when they come from the HTML the server sent.
	Rendered bool `json:"rendered"`
	// Requests are the requests the page made while it was rendered, in the order it made
	// them (empty when it was not rendered); at most MaxPageRequests, the rest counted in
	// RequestsDropped. Cookie stuffing built by script is seen here, whatever its source.
	Requests        []PageRequest `json:"requests"`
	RequestsDropped int           `json:"requests_dropped,omitempty"`
	// ViewportHeight is the height in CSS pixels of the browser window a rendered page was
	// laid out in (one "screen"); nil on a static page. Links' and disclosures' Layout
	// boxes are in the same units.
	ViewportHeight *int `json:"viewport_height"`
	// Screenshot is the SHA-256 of the rendered page's screenshot (PNG, full page up to
	// MaxScreenshotHeight pixels), stored beside the HTML snapshot; "" on a static page.
	Screenshot string `json:"screenshot,omitempty"`
	// RenderedSHA256 is the SHA-256 of the rendered DOM (the HTML the browser built, which
	// a rendered page's content fields come from); "" on a static page. The stored
	// snapshot (ContentSHA256) is always the HTML the server sent: the rendered DOM itself
	// is not kept, its hash tells two renders of the same page apart.
	RenderedSHA256 string `json:"rendered_sha256,omitempty"`
	// Views are the page as the program's cloaking personas were shown it, rendered once
	// each (Program.CloakingPersonas); empty unless the program asks for them. CLOAK-001
	// compares each with what the crawler saw.
	Views []PageView `json:"views,omitempty"`
}

// PageView is what one persona was shown at the page's URL: the parts of the page a
// cloaking partner changes for readers (affiliate links, disclosures, claims in the text).
type PageView struct {
	Persona   string `json:"persona"`
	UserAgent string `json:"user_agent,omitempty"`
	Referrer  string `json:"referrer,omitempty"`
	Mobile    bool   `json:"mobile,omitempty"`
	FinalURL  string `json:"final_url"`
	// FetchStatus is ok, or render_failed when the view could not be had (FetchError says
	// why): such a view proves nothing either way.
	FetchStatus FetchStatus `json:"fetch_status"`
	FetchError  string      `json:"fetch_error,omitempty"`
	// Text is the visible text the persona read (at most MaxViewText characters).
	Text string `json:"text"`
	// AffiliateLinks are the visible affiliate links, Disclosures the visible clear
	// disclosures, each in reading order.
	AffiliateLinks []ViewLink `json:"affiliate_links"`
	Disclosures    []string   `json:"disclosures"`
}

// MaxViewText caps the text a PageView keeps.
const MaxViewText = 100_000

// ViewLink is an affiliate link as a persona saw it.
type ViewLink struct {
	Href        string `json:"href"`
	Network     string `json:"network"`
	AffiliateID string `json:"affiliate_id"`
}

// ViewOf summarises a page as a persona's view of it.
func ViewOf(p *Page, persona Persona) PageView {
	v := PageView{Persona: persona.Name, UserAgent: persona.Agent(), Referrer: persona.Referrer, Mobile: persona.Mobile,
		FinalURL: p.FinalURL, FetchStatus: p.FetchStatus, FetchError: p.FetchError, Text: p.Text,
		AffiliateLinks: []ViewLink{}, Disclosures: []string{}}
	if r := []rune(v.Text); len(r) > MaxViewText {
		v.Text = string(r[:MaxViewText])
	}
	for _, l := range p.Links {
		if l.Affiliate != nil && !l.Hidden && (l.Layout == nil || l.Layout.Visible || l.Layout.HiddenBy == "missing") {
			v.AffiliateLinks = append(v.AffiliateLinks, ViewLink{Href: l.Href, Network: l.Affiliate.Network, AffiliateID: l.Affiliate.AffiliateID})
		}
	}
	for _, d := range p.Disclosures {
		if !d.Vague && !d.Hidden && (d.Layout == nil || d.Layout.Visible || d.Layout.HiddenBy == "missing") {
			v.Disclosures = append(v.Disclosures, d.Text)
		}
	}
	return v
}

// MaxScreenshotHeight caps a rendered page's screenshot, in CSS pixels from the top.
const MaxScreenshotHeight = 8000

// Box is an element's place on a rendered page in CSS pixels, in document coordinates
// (from the top left of the page, not of the window).
type Box struct {
	X      float64 `json:"x"`
	Y      float64 `json:"y"`
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
}

// Layout is how a rendered page showed an element to its reader: where, whether it could
// be seen at all, and how legibly.
type Layout struct {
	// X, Y, Width and Height are the element's box (Box).
	X      float64 `json:"x"`
	Y      float64 `json:"y"`
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
	// Visible is false when the element is in the DOM but a reader cannot see it; HiddenBy
	// says why: "display" (not laid out: display:none, a closed <details>), "visibility",
	// "opacity" (0, or nearly, itself or an ancestor), "size" (zero or one-pixel box),
	// "offscreen" (outside the page), "clipped" (cut off by an ancestor's overflow, clip
	// or clip-path), or "missing" (the element was not found in the rendered DOM).
	Visible  bool   `json:"visible"`
	HiddenBy string `json:"hidden_by,omitempty"`
	// FontSize is the computed font size in CSS pixels, FontWeight the computed weight
	// (400 normal, 700 bold).
	FontSize   float64 `json:"font_size"`
	FontWeight int     `json:"font_weight"`
	// Color and Background are the computed text colour and the colour behind it (the
	// first non-transparent ancestor background, blended, white at the bottom), as
	// "rgb(r, g, b)"; Contrast is their WCAG 2.x contrast ratio (1 to 21), nil when the
	// background is an image or a gradient (Background is then "image": unknown).
	Color      string   `json:"color"`
	Background string   `json:"background"`
	Contrast   *float64 `json:"contrast"`
}

// Box is the element's box. (Layout does not embed Box: the Rego input is built from the
// Go value field by field, without encoding/json's flattening of embedded structs.)
func (l *Layout) Box() Box { return Box{X: l.X, Y: l.Y, Width: l.Width, Height: l.Height} }

// BoxOf returns the box of the link or disclosure a rule's evidence names by its CSS
// selector (nil on a static page, or when no laid-out element has that selector).
func (p *Page) BoxOf(selector string) *Box {
	if selector == "" {
		return nil
	}
	for _, d := range p.Disclosures {
		if d.Selector == selector && d.Layout != nil && d.Layout.HiddenBy != "missing" {
			b := d.Layout.Box()
			return &b
		}
	}
	for _, l := range p.Links {
		if l.Selector == selector && l.Layout != nil && l.Layout.HiddenBy != "missing" {
			b := l.Layout.Box()
			return &b
		}
	}
	return nil
}

// MaxPageRequests caps the requests one rendered page lists.
const MaxPageRequests = 500

// PageRequest is one request a rendered page made: what was asked for, how it was asked,
// and whether the browser was let through.
type PageRequest struct {
	URL string `json:"url"`
	// Type is the resource type as the browser names it, lower-cased: document, image,
	// script, stylesheet, xhr, fetch, ping, media, font, other...
	Type string `json:"type"`
	// Initiator is what made the request: "parser" (markup), "script", "redirect" (an
	// HTTP redirect of an earlier request) or "other" (navigations, prefetches, meta
	// refresh...).
	Initiator string `json:"initiator"`
	// Navigation is true for a request that loads the page the reader sees (the top-level
	// document), false for frames and sub-resources.
	Navigation bool `json:"navigation"`
	// Initial marks affwatch's own navigation to the page and its HTTP redirects: every
	// other navigation was made by the page, without a click.
	Initial bool `json:"initial"`
	// InPage is true when the URL is the source of an element of the rendered page
	// (embeds) or a redirect in its markup (redirects): the rules that judge those see it.
	InPage bool `json:"in_page"`
	// Blocked is true when the request was not let through; BlockedReason says why:
	// "address" (the address guard: private, loopback or metadata), "scheme" (not http or
	// https) or "navigation" (the page tried to leave; the page is judged as it was).
	Blocked       bool   `json:"blocked"`
	BlockedReason string `json:"blocked_reason,omitempty"`
	// Affiliate is set when the URL is an affiliate click URL.
	Affiliate *AffiliateLink `json:"affiliate"`
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
	// Context says what surrounds the block: whether something is sold in or near it, and
	// which of its words are quotations or a media player's controls.
	Context BlockContext `json:"context"`
}

// BlockContext says what surrounds a block of text, so that a rule can tell a shop's
// "only 3 left" or "limited time" from the same words in a story, a quotation, a headline
// or a video player. The extractor computes it; the default pack's claim and offer rules
// (CLAIM-001, CLAIM-002, OFFER-001) judge everyday wording only where Commercial is true.
type BlockContext struct {
	// Commercial is true when something is sold in or near the block: Signals says what.
	Commercial bool `json:"commercial,omitempty"`
	// Signals are the commerce signals in the block or in the blocks around it (two either
	// side, within 400 characters; a headline takes only its own): "price" (an amount in a
	// short block: a price tag, not a figure in prose), "discount" ("30% off"), "coupon",
	// "cta" (a call to action: "buy now", "add to cart", "check price"), "affiliate_link",
	// "product_link" (a link to a product, cart or shop page), "brand" (the program's brand
	// terms) and "promo_block" (inside an element whose class or id names a promotion, a
	// product, a price, a deal, a countdown or a cart).
	Signals []string `json:"signals,omitempty"`
	// Quote is true when the whole block is a quotation: inside <blockquote> or <q>, or its
	// text all in quotation marks. Its words are someone else's, not the page's claim.
	Quote bool `json:"quote,omitempty"`
	// Quotes are the quoted passages inside the block, as character offsets into its text:
	// text in quotation marks (“…”, "…", „…“, «…»), <q> and <cite>, and italicised titles
	// of works ("The Prevent and Reverse Heart Disease Cookbook").
	Quotes []Span `json:"quotes,omitempty"`
	// Media is true for the text of a media player (<video>, <audio>, or an element whose
	// class names a player: "Remaining Time -0:00" is not a countdown).
	Media bool `json:"media,omitempty"`
	// Headline is true for a headline or a teaser: h1-h6, an element whose class names a
	// headline or title, or a block that is all one link's text. A headline reports on the
	// world ("Nurses in high demand"); it takes no commerce signals from the blocks around it.
	Headline bool `json:"headline,omitempty"`
	// Badge is true for a short block of its own (at most 80 characters) that is not a
	// headline, a menu, a sign-up form, a quotation or a player: where a shop puts "Selling
	// fast!" or "Limited Time!", not a sentence of prose.
	Badge bool `json:"badge,omitempty"`
}

// Span is a stretch of a block's text: character (rune) offsets, End exclusive.
type Span struct {
	Start int `json:"start"`
	End   int `json:"end"`
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
	// Layout is how the rendered page showed the link (nil on a static page).
	Layout *Layout `json:"layout"`
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
	// Layout is how the rendered page showed the disclosure's words (nil on a static page).
	Layout *Layout `json:"layout"`
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
