package crawler

import (
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/affwatch/affwatch"
)

// This file computes each block's Context: whether something is sold in or near it
// (the commerce signals), which of its words are quotations, and whether it is a media
// player's controls. Rules judge everyday words ("hurry", "in high demand", "limited
// time", "offer ends") as claims only in a commercial context: in a story, a quotation, a
// headline about the world or a video player they are not the page selling anything.

// Commerce signals, as they appear in BlockContext.Signals.
const (
	signalPrice         = "price"
	signalDiscount      = "discount"
	signalCoupon        = "coupon"
	signalCTA           = "cta"
	signalAffiliateLink = "affiliate_link"
	signalProductLink   = "product_link"
	signalBrand         = "brand"
	signalPromoBlock    = "promo_block"
)

const (
	// contextBlocks and contextChars are how far a signal reaches: blocks either side, and
	// characters between the two blocks' starts.
	contextBlocks = 2
	contextChars  = 400
	// priceTagChars is the longest block whose price is a price tag ("$49.99", "Now
	// $12 at Target"); a figure in a longer paragraph is prose ("oil rose to $100").
	priceTagChars = 200
	// maxQuoteChars is the longest passage between quotation marks taken as a quotation;
	// a quotation mark left open does not swallow the rest of the page.
	maxQuoteChars = 800
	// badgeChars is the longest block taken as a badge ("Selling fast!", "Limited Time!").
	badgeChars = 80
)

// nodeContext is what an element's ancestors say about the text inside it.
type nodeContext struct {
	promo, quote, media, headline bool
	nav                           bool // a menu or breadcrumb
	signup                        bool // a newsletter or sign-up form: "Don't miss out!" there sells nothing
}

// ctxOf returns the context an element gives the text inside it (memoised: every block
// asks about its ancestors).
func (x *extractor) ctxOf(n *html.Node) nodeContext {
	if n == nil || n.Type != html.ElementNode || n.DataAtom == atom.Body || n.DataAtom == atom.Html {
		return nodeContext{}
	}
	if c, ok := x.ctx[n]; ok {
		return c
	}
	c := x.ctxOf(n.Parent)
	switch n.DataAtom {
	case atom.Blockquote, atom.Q:
		c.quote = true
	case atom.Video, atom.Audio:
		c.media = true
	case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
		c.headline = true
	case atom.Nav:
		c.nav = true
	}
	if !c.promo || !c.quote || !c.media || !c.headline || !c.nav || !c.signup {
		class, _ := attr(n, "class")
		id, _ := attr(n, "id")
		for _, tok := range classTokens(class + " " + id) {
			c.promo = c.promo || promoToken(tok)
			c.quote = c.quote || tok == "quote" || tok == "pullquote" || tok == "blockquote"
			c.media = c.media || mediaToken(tok)
			c.headline = c.headline || tok == "headline" || tok == "heading" || tok == "hed" || tok == "title"
			c.nav = c.nav || tok == "nav" || tok == "navbar" || tok == "menu" || tok == "breadcrumb" || tok == "breadcrumbs"
			c.signup = c.signup || signupToken(tok)
		}
	}
	x.ctx[n] = c
	return c
}

// classTokens splits class names and ids into lower-case words: "product-card__price",
// "addToCart" and "deal_box" are product card price, add to cart, deal box.
func classTokens(s string) []string {
	var out []string
	var b strings.Builder
	emit := func() {
		if b.Len() > 0 {
			out = append(out, strings.ToLower(b.String()))
			b.Reset()
		}
	}
	prevLower := false
	for _, r := range s {
		switch {
		case unicode.IsLetter(r):
			if unicode.IsUpper(r) && prevLower {
				emit()
			}
			b.WriteRune(r)
			prevLower = unicode.IsLower(r)
		default:
			emit()
			prevLower = false
		}
	}
	emit()
	return out
}

// promoStems start the class and id words of promotional containers: product cards,
// price boxes, deal and coupon widgets, countdowns, stock badges, carts.
var promoStems = []string{"promo", "deal", "offer", "coupon", "discount", "countdown", "price", "pricing", "product",
	"scarcity", "urgency", "lowstock", "inventory", "checkout", "buybox", "addtocart", "shoppable"}

// promoWords are whole class and id words of promotional containers ("sale" but not
// "wholesale", "cart" but not "cartoon").
var promoWords = map[string]bool{"sale": true, "sales": true, "cart": true, "buy": true, "stock": true, "timer": true,
	"shop": true, "store": true, "merch": true, "sku": true}

func promoToken(tok string) bool {
	if promoWords[tok] {
		return true
	}
	for _, s := range promoStems {
		if strings.HasPrefix(tok, s) {
			return true
		}
	}
	return false
}

// mediaToken is a class or id word of a media player (video.js "vjs", JW Player "jw",
// YouTube "ytp", MediaElement "mejs", Plyr).
func mediaToken(tok string) bool {
	switch tok {
	case "vjs", "jw", "ytp", "mejs", "plyr", "player", "mediaplayer", "videoplayer", "audioplayer", "controlbar":
		return true
	}
	return false
}

// signupToken is a class or id word of a newsletter or sign-up form.
func signupToken(tok string) bool {
	switch tok {
	case "subscribe", "subscription", "newsletter", "signup", "optin", "mailchimp", "mc", "convertkit", "mailerlite", "klaviyo":
		return true
	}
	return false
}

// quoteSpans finds the passages of a block's text in quotation marks, as rune offsets.
// A straight double quote after a digit is an inch mark (a 9" pan), not a quotation.
func quoteSpans(text string) []affwatch.Span {
	if !hasQuoteMark(text) {
		return nil
	}
	var out []affwatch.Span
	runes := []rune(text)
	for i := 0; i < len(runes); i++ {
		var closers string
		switch runes[i] {
		case '“':
			closers = "”“" // English “…”, and German „…“ read from its closing mark
		case '„':
			closers = "“”"
		case '«':
			closers = "»"
		case '"':
			if i > 0 && unicode.IsDigit(runes[i-1]) {
				continue
			}
			closers = "\""
		default:
			continue
		}
		for j := i + 1; j < len(runes) && j-i <= maxQuoteChars; j++ {
			if !strings.ContainsRune(closers, runes[j]) {
				continue
			}
			if runes[j] == '"' && unicode.IsDigit(runes[j-1]) {
				continue
			}
			if j > i+1 {
				out = append(out, affwatch.Span{Start: i, End: j + 1})
			}
			i = j
			break
		}
	}
	return out
}

// hasQuoteMark reports whether text holds one of the quotation marks quoteSpans reads
// (", “, „, «): strings.ContainsAny with non-ASCII characters decodes every rune of the
// text and was most of quoteSpans' time on blocks without quotations. Block text is valid
// UTF-8, so the marks' bytes are found only where the marks are.
func hasQuoteMark(text string) bool {
	return strings.IndexByte(text, '"') >= 0 || strings.Contains(text, "“") || strings.Contains(text, "„") || strings.Contains(text, "«")
}

// titleLike reports whether italicised or cited text reads as the title of a work: three
// words or more, each word longer than three letters capitalised, not all capitals.
func titleLike(s string) bool {
	words := strings.Fields(s)
	if len(words) < 3 {
		return false
	}
	lower := false
	for _, w := range words {
		r, _ := utf8.DecodeRuneInString(w)
		if utf8.RuneCountInString(w) > 3 && unicode.IsLetter(r) && !unicode.IsUpper(r) {
			return false
		}
		lower = lower || strings.IndexFunc(w, unicode.IsLower) >= 0
	}
	return lower
}

// blockContext is the context of the block being flushed, from its element and text.
// spans are the block's <q>, <cite> and title passages; n is its length in runes.
func (x *extractor) blockContext(text string, n int, spans []affwatch.Span) affwatch.BlockContext {
	c := x.ctxOf(x.cur.node)
	var bc affwatch.BlockContext
	bc.Quote, bc.Media, bc.Headline = c.quote, c.media, c.headline
	if c.promo {
		bc.Signals = []string{signalPromoBlock}
	}
	kept := spans[:0]
	for _, s := range spans {
		s.End = min(s.End, n)
		if s.Start < s.End {
			kept = append(kept, s)
		}
	}
	spans = append(kept, quoteSpans(text)...)
	bc.Quotes = mergeSpans(spans)
	if !bc.Quote && len(bc.Quotes) == 1 {
		// the whole block in quotation marks: a quotation standing alone
		q := bc.Quotes[0]
		runes := []rune(text)
		outside := string(runes[:q.Start]) + string(runes[q.End:])
		bc.Quote = strings.IndexFunc(outside, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) < 0
	}
	bc.Badge = n <= badgeChars && !c.headline && !c.nav && !c.signup && !bc.Media && !bc.Quote
	return bc
}

func mergeSpans(spans []affwatch.Span) []affwatch.Span {
	if len(spans) < 2 {
		return spans
	}
	slices.SortFunc(spans, func(a, b affwatch.Span) int { return a.Start - b.Start })
	out := spans[:1]
	for _, s := range spans[1:] {
		last := &out[len(out)-1]
		if s.Start <= last.End {
			last.End = max(last.End, s.End)
			continue
		}
		out = append(out, s)
	}
	return out
}

// ctaText is a call to action: what a button or link says to make the reader buy. The
// words are those every match starts with (see startMatcher).
var ctaText = newStartMatcher(`(?i)\b(?:buy (?:it )?now|buy (?:it )?(?:at|on|from) (?-i:[A-Z])|shop (?:now|the (?:sale|deal|look))|shop (?:at|on) (?-i:[A-Z])|order (?:now|today|yours)|add(?:ed)? to (?:cart|bag|basket|trolley)|(?:proceed to |go to )?checkout|get (?:yours|it now|the deal|this deal|deal|the offer|\d+% off)|(?:see|view|get|grab|claim|unlock) (?:the |this |today'?s )?(?:deals?|offer|discount|price)|check (?:the )?(?:current |latest )?price|(?:see|view) (?:the )?price|see (?:it )?(?:at|on) (?-i:[A-Z])|claim (?:your|the|this) (?:offer|discount|deal|coupon)|redeem (?:now|(?:your|the|this) (?:code|offer|coupon|voucher))|book (?:now|today)|register (?:now|today)|reserve (?:now|yours|your (?:seat|spot))|pre-?order|complete your (?:order|purchase)|free shipping)\b`,
	[]string{"buy ", "shop ", "order ", "add", "proceed to ", "go to ", "checkout", "get ", "see ", "view ", "grab ", "claim ",
		"unlock ", "check ", "redeem ", "book ", "register ", "reserve ", "pre", "complete your ", "free shipping"}, false, true)

// discountText is a reduction: "30% off", "save 20%", "half price"; a match starts with
// one of the words or a digit.
var discountText = newStartMatcher(`(?i)\b\d{1,2}\s?%\s?off\b|\bsave (?:up to )?\d{1,2}\s?%|\b\d{1,2}\s?% discount\b|\bhalf price\b|\bbogo\b|\bbuy one,? get one\b|\bget (?:one|1|a second one) free\b`,
	[]string{"save ", "half price", "bogo", "buy one", "get "}, true, true)

// ctaHints are words every ctaText and discountText match contains: blocks without any
// are not searched.
var ctaHintSet = newWordSet([]string{"buy", "shop", "order", "cart", "bag", "basket", "trolley", "checkout", "get ", "deal",
	"offer", "discount", "price", "redeem", "book ", "register", "reserve", "shipping", "%", "bogo", "free", "claim", "coupon", "see "})

// productPath is a link to a product, a cart or a shop: Amazon's /dp/, /products/,
// /shop/, /cart, ?add-to-cart=.
var productPath = regexp.MustCompile(`(?i)/(?:dp|gp/product|products?|item|itm|shop|store|cart|checkout|buy)(?:/|$|\?)|[?&]add-to-cart=`)

// commerceContext sets each block's commerce signals and Commercial: its own signals and
// those of the visible blocks around it.
func (x *extractor) commerceContext(p *affwatch.Page) {
	var brands []string
	if x.opt.Program != nil {
		for _, t := range x.opt.Program.BrandTerms {
			if t = strings.TrimSpace(t); t != "" {
				brands = append(brands, t)
			}
		}
	}
	brandRe := wordsRegexp(brands)
	// own[i]: the signals found in block i itself
	own := make([][]string, len(p.Blocks))
	add := func(i int, s string) {
		if !slices.Contains(own[i], s) {
			own[i] = append(own[i], s)
		}
	}
	ends := make([]int, len(p.Blocks)) // where each visible block's text ends
	for i, b := range p.Blocks {
		own[i] = b.Context.Signals
		if b.Hidden {
			continue
		}
		n := utf8.RuneCountInString(b.Text)
		ends[i] = b.Offset + n
		low := x.lowText(i, b.Text)
		if ctaHintSet.in(low) {
			if ctaText.matchString(b.Text, low) {
				add(i, signalCTA)
			}
			if discountText.matchString(b.Text, low) {
				add(i, signalDiscount)
			}
		}
		if brandRe != nil && brandRe.MatchString(b.Text) {
			add(i, signalBrand)
		}
	}
	// blockAt finds the visible block whose text holds an offset (-1 when none).
	blockAt := func(off int) int {
		i, _ := slices.BinarySearchFunc(p.Blocks, off, func(b affwatch.Block, off int) int {
			if b.Offset <= off {
				return -1
			}
			return 1
		})
		for i--; i >= 0; i-- {
			if !p.Blocks[i].Hidden {
				if off <= ends[i] {
					return i
				}
				return -1
			}
		}
		return -1
	}
	for _, pr := range p.Prices {
		if i := blockAt(pr.Offset); i >= 0 && ends[i]-p.Blocks[i].Offset <= priceTagChars {
			add(i, signalPrice)
		}
	}
	for _, c := range p.Coupons {
		if i := blockAt(c.Offset); i >= 0 {
			add(i, signalCoupon)
		}
	}
	linkOnly := map[int]bool{} // blocks that are all one link's text
	for _, l := range p.Links {
		if l.Hidden {
			continue
		}
		i := blockAt(l.Offset)
		if i < 0 {
			continue
		}
		if l.Offset == p.Blocks[i].Offset && l.Text == p.Blocks[i].Text {
			linkOnly[i] = true
		}
		switch {
		case l.Affiliate != nil:
			add(i, signalAffiliateLink)
		case productPath.MatchString(linkPath(l.Href)):
			add(i, signalProductLink)
		}
	}
	for i := range linkOnly {
		if len(own[i]) == 0 {
			// a teaser: a link that sells nothing, whose text is the whole block
			p.Blocks[i].Context.Headline, p.Blocks[i].Context.Badge = true, false
		}
	}
	// spread: a block takes the signals of the visible blocks near it; a headline keeps its
	// own (a headline about the world is not selling what the next teaser prices)
	var visible []int
	for i, b := range p.Blocks {
		if !b.Hidden {
			visible = append(visible, i)
		}
	}
	for k, i := range visible {
		b := &p.Blocks[i]
		sig := slices.Clone(own[i])
		if !b.Context.Headline {
			for _, j := range visible[max(0, k-contextBlocks):min(len(visible), k+contextBlocks+1)] {
				if j == i || p.Blocks[j].Context.Headline || abs(p.Blocks[j].Offset-b.Offset) > contextChars {
					continue
				}
				for _, s := range own[j] {
					if s != signalPromoBlock && !slices.Contains(sig, s) {
						sig = append(sig, s)
					}
				}
			}
		}
		slices.Sort(sig)
		b.Context.Signals = sig
		b.Context.Commercial = len(sig) > 0
	}
	for i := range p.Blocks {
		if p.Blocks[i].Hidden {
			p.Blocks[i].Context.Commercial = len(own[i]) > 0
		}
	}
}

// lowText is block i's text lower-cased, as findInBlocks kept it.
func (x *extractor) lowText(i int, text string) string {
	if i < len(x.lows) {
		return x.lows[i]
	}
	return strings.ToLower(text)
}

// linkPath is a URL's path and query, without scheme and host.
func linkPath(href string) string {
	if i := strings.Index(href, "://"); i >= 0 {
		href = href[i+3:]
		if j := strings.IndexAny(href, "/?"); j >= 0 {
			return href[j:]
		}
		return ""
	}
	return href
}

// wordsRegexp matches any of the words as whole words, case-insensitively (nil for none).
func wordsRegexp(words []string) *regexp.Regexp {
	if len(words) == 0 {
		return nil
	}
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = regexp.QuoteMeta(w)
	}
	pattern := `(?i)\b(?:` + strings.Join(q, "|") + `)\b`
	if re, ok := wordRegexps.Load(pattern); ok {
		return re.(*regexp.Regexp)
	}
	re := regexp.MustCompile(pattern)
	wordRegexps.Store(pattern, re)
	return re
}

// wordRegexps are the programs' word lists (brand terms) compiled once, not once a page.
var wordRegexps sync.Map // pattern -> *regexp.Regexp

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
