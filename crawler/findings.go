package crawler

import (
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/affwatch/affwatch"
)

// disclosurePatterns are the wordings that disclose a material connection to a reader:
// affiliate links, commissions, sponsorship, payment. Each match is a disclosure; the
// matched words are its phrase.
var disclosurePatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)\baffiliat(?:e|ed) (?:(?:product |shopping )?links?|commissions?|partners?(?:hips?)?|relationships?|advertising)\b|\bamazon affiliate(?:\s+links?)?\s*:`),
	// "affiliate program" alone is often a topic ("how to join an affiliate program"); taking
	// part in one is a disclosure
	regexp.MustCompile(`(?i)\b(?:participant in|member of|part of|participate in|participates in|enrolled in)\s+(?:the\s+|an?\s+|several\s+|various\s+|some\s+)?(?:[\w.&-]+\s+){0,4}affiliate (?:programs?|networks?)\b`),
	regexp.MustCompile(`(?i)[({\[]\s*(?:affiliate|aff|ad|ads|advert|sponsored|paid|commission)(?:\s+links?)?\s*[)}\]]`),
	regexp.MustCompile(`(?i)\b(?:i|we)(?:'m|’m| am| are|'re|’re) (?:an? |also an? )?(?:amazon |proud )?affiliates?\b|\bas an affiliate\b`),
	regexp.MustCompile(`(?i)\b(?:i|we|me|us|the channel|this channel|the site|this site|the author)\b[^.!?]{0,40}?\b(?:earn|get|receive|make)s?\s+(?:a\s+)?(?:small\s+|tiny\s+|little\s+)?(?:commissions?|kickbacks?)\b`),
	// channel support: "shopping through these links helps the channel", "support us by shopping"
	regexp.MustCompile(`(?i)\b(?:shopping|buying|purchasing|ordering)\b[^.!?]{0,40}?\b(?:links?|amazon)\b[^.!?]{0,30}?\b(?:helps?|supports?)\s+(?:out\s+)?(?:the|this|my|our|us|me)\b`),
	regexp.MustCompile(`(?i)\bsupport\s+(?:the|this|my|our|us|me)\s*(?:channel|show|blog|site|podcast|work)?\s+(?:by\s+(?:shopping|buying|purchasing|ordering|joining|using\s+(?:my|our|these|this)\s+(?:amazon\s+)?links?)|when\s+you\s+(?:shop|buy|order)|via|through)\b`),
	regexp.MustCompile(`(?i)\bsupport\s+(?:the|this|my|our)\s+(?:channel|show|blog|site|podcast)\s+by\s*$`),
	regexp.MustCompile(`(?i)\bsupport\b[^.!?]{0,20}?\bby\s+(?:using|shopping\s+(?:through|with|via)|buying\s+(?:through|with|via)|clicking)\s+(?:on\s+)?(?:these|this|my|our|the)\s+(?:amazon\s+)?links?\b`),
	regexp.MustCompile(`(?i)\buse\s+(?:this|my|our)\s+(?:amazon\s+)?link\b[^.!?]{0,40}?\bshop`),
	regexp.MustCompile(`(?i)\blinks?\s+(?:above\s+|below\s+|here\s+|on this page\s+|in this post\s+)?(?:may|might|could|are|is|will)\s+(?:be\s+)?(?:an?\s+)?affiliat(?:e|es|ed)\b`),
	regexp.MustCompile(`(?i)\bamazon\s+associates?\s+links?\b|\blinks?\s+are\s+from\s+amazon\s+associates\b|\bpartnerprogramm\b`),
	regexp.MustCompile(`(?i)\b(?:links?|shopping|purchases?)\b[^.!?]{0,40}?\b(?:helps?|supports?)\s+(?:out\s+)?(?:the|this|my|our|me|us)\b(?:\s+(?:channel|show|blog|site|podcast))?`),
	regexp.MustCompile(`(?i)\b(?:shop|buy|purchase|order|links?)\b[^.!?]{0,40}?\bto\s+support\s+(?:the|this|my|our)\s+(?:channel|show|blog|site|podcast)\b`),
	regexp.MustCompile(`(?i)\bsupport\b(?:[^.!?]|\.\S){0,50}?\b(?:by|while|when)\s+(?:doing\s+(?:your|all\s+your)\s+)?(?:amazon\s+)?(?:shopping|buying|purchasing|ordering|you\s+shop|you\s+buy|using\s+(?:this|these|my|our)\s+(?:amazon\s+)?links?)\b`),
	regexp.MustCompile(`(?i)\b(?:use|click)\s+(?:this|my|our)\s+(?:amazon\s+)?link\s+(?:before|when|whenever)\s+(?:shopping|you)\b|\bthis\s+link\s+before\s+shopping\b`),
	regexp.MustCompile(`(?i)\bshop(?:ping)?\s+(?:at|on|through|via)\s+amazon\b[^.!?]{0,30}?\bsupport\b`),
	regexp.MustCompile(`(?i)\b(?:contains?|includes?|uses?|has|may contain|may include)\s+(?:some\s+)?affiliate\b`),
	regexp.MustCompile(`(?i)\b(?:we|i|the site|this site|our site|the author|this blog)\s+(?:may\s+|might\s+|will\s+|could\s+)?(?:earn|receive|get|make)s?\s+(?:a\s+)?(?:small\s+)?(?:commissions?|compensation|a share|money|fees?|a fee|revenue|a portion)\b`),
	regexp.MustCompile(`(?i)\bearns? (?:a |an )?(?:small )?(?:commissions?|fees?) from\b`),
	// publishers' house wordings, whoever the subject: "G/O Media may get a commission",
	// "BuzzFeed may collect a share of sales", "may earn Vox Media a commission",
	// "Business Insider may earn an affiliate commission", "People may receive compensation"
	regexp.MustCompile(`(?i)\b(?:may|might|could|can|will|would)\s+(?:also\s+)?(?:get|receive|earn|collect|make)\s+(?:[\pL&/.'’-]+\s+){0,3}?(?:a\s+|an\s+)?(?:small\s+|tiny\s+)?(?:affiliate\s+)?(?:commissions?|compensation|(?:share|portion|percentage|cut)\s+of\s+(?:the\s+)?(?:sales?|revenue|proceeds|purchases?))\b`),
	// "... and earns revenue when you purchase products through links on this page" (CNN Underscored)
	regexp.MustCompile(`(?i)\b(?:earns?|receives?|gets?|makes?)\s+(?:revenue|money|commissions?|compensation)\b[^.!?]{0,40}?\b(?:when|if)\s+you\s+(?:buy|purchase|shop|click|make a purchase)`),
	regexp.MustCompile(`(?i)\b(?:as an amazon associate|amazon services? llc associates program|earn from qualifying purchases)\b`),
	regexp.MustCompile(`(?i)\b(?:at no (?:extra|additional) (?:cost|charge) to you)\b`),
	regexp.MustCompile(`(?i)\b(?:(?:is|was|are|were) )?(?:sponsored by|paid partnership|paid promotion|paid (?:post|endorsement|advertisement)|sponsored (?:post|content|article|review))\b`),
	regexp.MustCompile(`(?i)\b(?:we|i) (?:may )?(?:be|are|am|get|got|was|were) (?:compensated|paid)\b`),
	regexp.MustCompile(`(?i)\bmaterial connection\b`),
	regexp.MustCompile(`(?i)\bcommissions? (?:for|on|from) (?:purchases|sales|qualifying)\b`),
	regexp.MustCompile(`(?i)(?:^|\s)#(?:ad|ads|sponsored|affiliate|affiliatelinks?|afflinks?|affiliates|commissionlinks?|paidpartnership|werbung|anzeige)\b`),
	regexp.MustCompile(`(?i)\b(?:affiliate disclosure|advertising disclosure|ftc disclosure|ftc disclaimer|disclosure policy)\b`),
	regexp.MustCompile(`(?i)\b(?:provisionslinks?|affiliate-links?|werbelinks?)\b`),
}

// vaguePatterns hint at a connection without stating it. FTC guidance names such wording
// ("#sp", "#partner", "thanks to", "in partnership with") as not clear enough on its own.
var vaguePatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)(?:^|\s)#(?:sp|spon|collab|partner|ambassador|gifted|thanks)\b`),
	regexp.MustCompile(`(?i)\b(?:in partnership with|partnered with|in collaboration with|thanks to (?:our|my) (?:friends|partners?)|brought to you by|supported by|gifted by|partner links?)\b`),
}

// disclosuresIn adds the disclosing sentences of one block.
func (x *extractor) disclosuresIn(p *affwatch.Page, b affwatch.Block, extra []string) {
	for _, sent := range sentences(b.Text) {
		phrase, vague := disclosurePhrase(sent.text, extra)
		if phrase == "" {
			continue
		}
		off := b.Offset
		if !b.Hidden {
			off += sent.offset
		}
		p.Disclosures = append(p.Disclosures, affwatch.Disclosure{Text: sent.text, Phrase: phrase, Offset: off,
			Selector: b.Selector, Hidden: b.Hidden, Vague: vague})
	}
}

// wordSet finds any of a few words in a text in one pass: at each position only the
// words that start with that byte are compared (a strings.Contains per word made this a
// sixth of extraction on long pages), and only when some word starts with that byte and
// the next one (a bit table small enough to stay in the CPU's cache).
type wordSet struct {
	words [256][]string
	// pair[a] has bit b set when a word starts with bytes a, b; all bits when a word is
	// the one byte a.
	pair [256][4]uint64
}

func newWordSet(words []string) *wordSet {
	var ws wordSet
	for _, w := range words {
		if w == "" {
			continue
		}
		ws.words[w[0]] = append(ws.words[w[0]], w)
		if len(w) == 1 {
			ws.pair[w[0]] = [4]uint64{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}
		} else {
			ws.pair[w[0]][w[1]>>6] |= 1 << (w[1] & 63)
		}
	}
	return &ws
}

// in reports whether text contains one of the words.
func (ws *wordSet) in(text string) bool {
	for i := 0; i < len(text); i++ {
		var next byte // after the last byte: 0, which starts no word's second byte
		if i+1 < len(text) {
			next = text[i+1]
		}
		if ws.pair[text[i]][next>>6]&(1<<(next&63)) == 0 {
			continue
		}
		for _, w := range ws.words[text[i]] {
			if len(w) <= len(text)-i && text[i:i+len(w)] == w {
				return true
			}
		}
	}
	return false
}

var disclosureHintSet = newWordSet(disclosureHints)

// hasAny reports whether low contains one of the words.
func hasAny(low string, words []string) bool {
	for _, w := range words {
		if strings.Contains(low, w) {
			return true
		}
	}
	return false
}

// findInBlocks finds disclosures, coupon codes and prices in the page's blocks.
func (x *extractor) findInBlocks(p *affwatch.Page) {
	var extra []string
	if x.opt.Program != nil {
		for _, ph := range x.opt.Program.DisclosurePhrases {
			if ph = strings.TrimSpace(ph); ph != "" {
				extra = append(extra, strings.ToLower(ph))
			}
		}
	}
	x.lows = make([]string, len(p.Blocks))
	for i, b := range p.Blocks {
		low := strings.ToLower(b.Text)
		x.lows[i] = low
		// Most blocks carry no disclosure word at all: they are not split into sentences.
		if disclosureHintSet.in(low) || hasAny(low, extra) {
			x.disclosuresIn(p, b, extra)
		}
		if b.Hidden {
			continue
		}
		for _, m := range couponMatches(b.Text, low) {
			code := b.Text[m[2]:m[3]]
			if !looksLikeCode(code) {
				continue
			}
			p.Coupons = append(p.Coupons, affwatch.Coupon{Code: code, Offset: b.Offset + utf8.RuneCountInString(b.Text[:m[2]]),
				Context: around(b.Text, m[0], m[1])})
		}
		for _, m := range priceMatches(b.Text, low) {
			pr, ok := parsePrice(b.Text, m)
			if !ok {
				continue
			}
			pr.Offset = b.Offset + utf8.RuneCountInString(b.Text[:m[0]])
			pr.Context = around(b.Text, m[0], m[1])
			p.Prices = append(p.Prices, pr)
		}
	}
}

// couponKeywords are the words a code follows; couponCode is matched only right after one
// of them (a word of its own), not at every position of the text, which made coupon
// search most of the extraction time on long pages.
var couponKeywords = []string{"promo", "coupon", "discount", "voucher", "gutscheincode", "rabattcode", "code", "use"}

// couponMatches finds "code SAVE20"-style codes; low is text lower-cased.
func couponMatches(text, low string) [][]int {
	if len(low) != len(text) {
		// lower-casing changed byte lengths (rare scripts): fall back to the whole pattern
		return couponCode.FindAllStringSubmatchIndex(text, -1)
	}
	var out [][]int
	for _, kw := range couponKeywords {
		for from := 0; ; {
			i := strings.Index(low[from:], kw)
			if i < 0 {
				break
			}
			i += from
			from = i + len(kw)
			if i > 0 && isWordByte(low[i-1]) {
				continue
			}
			window := text[i:min(len(text), i+64)]
			m := couponCodeAt.FindStringSubmatchIndex(window)
			if m == nil {
				continue
			}
			for k := range m {
				if m[k] >= 0 {
					m[k] += i
				}
			}
			out = append(out, m)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a][0] < out[b][0] })
	// keep the first of overlapping matches ("coupon code SAVE20" is found from both words)
	kept := out[:0]
	end := -1
	for _, m := range out {
		if m[0] >= end {
			kept = append(kept, m)
			end = m[1]
		}
	}
	return kept
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c >= 0x80
}

// priceMatches runs the price pattern only over text with a digit and a currency sign or
// code; low is text lower-cased.
func priceMatches(text, low string) [][]int {
	if !strings.ContainsAny(text, "0123456789") {
		return nil
	}
	if !priceHintSet.in(low) {
		return nil
	}
	return priceStarts.findAllSubmatchIndex(text, low)
}

type sentence struct {
	text   string
	offset int // runes from the start of the block
}

func sentences(text string) []sentence {
	var out []sentence
	start, startRunes := 0, 0 // byte and rune offset of the current sentence
	add := func(end int) {
		seg := text[start:end]
		s := strings.TrimSpace(seg)
		if s != "" {
			lead := len(seg) - len(strings.TrimLeft(seg, " "))
			out = append(out, sentence{text: s, offset: startRunes + utf8.RuneCountInString(seg[:lead])})
		}
	}
	// A sentence ends at . ! ? or 。 followed by white space or the end of the text.
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		i += size
		if r != '.' && r != '!' && r != '?' && r != '。' {
			continue
		}
		end := i
		for end < len(text) && (text[end] == ' ' || text[end] == '\t' || text[end] == '\n' || text[end] == '\r' || text[end] == '\f') {
			end++
		}
		if end == i && i < len(text) {
			continue // "3.5", "example.com": no space after the stop
		}
		add(end)
		startRunes += utf8.RuneCountInString(text[start:end])
		start, i = end, end
	}
	if start < len(text) {
		add(len(text))
	}
	return out
}

// disclosureHints are words at least one of which every disclosure pattern contains; a
// sentence with none of them is not tried against the patterns (most sentences).
var disclosureHints = []string{"affiliat", "commission", "earn", "sponsor", "paid", "compensat", "associate", "material",
	"#", "cost to you", "charge to you", "disclosure", "provision", "werbe", "receive", "make money", "revenue", "fee", "share", "portion",
	"partner", "thank", "support", "brought", "collab", "gift", "(ad", "(aff", "( aff", "{aff", "[aff", "kickback", "shop", "aff link", "afflink", "help", "partnerprogramm"}

// negator finds a denial just before a disclosing phrase: "this video is not sponsored
// by them", "we never receive commissions", "no affiliate links".
var negator = regexp.MustCompile(`(?i)\b(?:not|no|never|isn't|isn’t|wasn't|wasn’t|aren't|aren’t|don't|don’t|doesn't|doesn’t|nor|without)\b[^,;:.!?]{0,12}$`)

// negated reports whether the phrase starting at i is denied by the words before it.
func negated(s string, i int) bool {
	return negator.MatchString(s[max(0, i-40):i])
}

// disclosurePhrase returns the disclosing words of a sentence ("" when none), and whether
// they are only vague.
func disclosurePhrase(s string, extra []string) (string, bool) {
	low := strings.ToLower(s)
	hinted := false
	for _, h := range disclosureHints {
		if strings.Contains(low, h) {
			hinted = true
			break
		}
	}
	for _, re := range disclosurePatterns {
		if !hinted {
			break
		}
		if loc := re.FindStringIndex(s); loc != nil && !negated(s, loc[0]) {
			return strings.TrimSpace(s[loc[0]:loc[1]]), false
		}
	}
	for _, ph := range extra {
		if strings.Contains(low, ph) {
			return ph, false
		}
	}
	for _, re := range vaguePatterns {
		if !hinted {
			break
		}
		if loc := re.FindStringIndex(s); loc != nil && !negated(s, loc[0]) {
			return strings.TrimSpace(s[loc[0]:loc[1]]), true
		}
	}
	return "", false
}

// couponCode finds codes introduced as such: "code SAVE20", "coupon: SAVE20", "use SAVE20 at checkout".
var couponCode = regexp.MustCompile(`(?i:promo(?:tional)?\s+code|coupon(?:\s+code)?|discount\s+code|voucher(?:\s+code)?|gutscheincode|rabattcode|code|use)\s*[:"“'‘]?\s*["“'‘]?([A-Z0-9][A-Z0-9_-]{3,24})\b`)

// currencySigns and currencyCodes are what a price has beside its digits; priceHintSet
// finds any of them in a block's lower-cased text in one pass (lower-casing leaves the
// signs as they are).
var (
	currencySigns = []string{"$", "€", "£", "¥", "₹", "円"}
	currencyCodes = []string{"usd", "eur", "gbp", "jpy", "cad", "aud", "chf"}
	priceHintSet  = newWordSet(append(slices.Clone(currencySigns), currencyCodes...))
)

// digitSeparators are removed from an amount's digits.
var digitSeparators = strings.NewReplacer(",", "", ".", "")

// couponCodeAt is couponCode anchored where a keyword starts.
var couponCodeAt = regexp.MustCompile(`^` + couponCode.String())

// looksLikeCode keeps codes that are written the way codes are (capitals and digits), not words.
func looksLikeCode(code string) bool {
	upper, digit := 0, 0
	for _, r := range code {
		switch {
		case r >= 'A' && r <= 'Z':
			upper++
		case r >= '0' && r <= '9':
			digit++
		case r >= 'a' && r <= 'z':
			return false
		}
	}
	return upper > 0 && (digit > 0 || upper >= 4) && !commonCaps[code]
}

var commonCaps = map[string]bool{"HERE": true, "THIS": true, "THAT": true, "NOW": true, "FREE": true, "SALE": true, "CODE": true, "THE": true}

// priceRe finds amounts with a currency symbol or code before or after them.
// The space between amount and currency may be a no-break space (as French and German
// typography write "12,90 €"); a symbol after the amount needs no word boundary, a code
// does.
var priceRe = regexp.MustCompile(`(?i)(?:(?P<sym>[$€£¥₹])[\s\x{a0}\x{202f}]?(?P<num>\d{1,3}(?:[,.]\d{3})*(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?))|(?:(?P<num2>\d{1,3}(?:[,.]\d{3})*(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?)[\s\x{a0}\x{202f}]?(?P<code>(?:USD|EUR|GBP|JPY|CAD|AUD|CHF)\b|€|円))`)

// priceStarts runs priceRe only from digits and currency signs, where its matches start.
var priceStarts = newStartMatcher(priceRe.String(), nil, true, false, "$", "€", "£", "¥", "₹")

var currencyOf = map[string]string{"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "円": "JPY"}

func parsePrice(text string, m []int) (affwatch.Price, bool) {
	group := func(name string) string {
		i := priceRe.SubexpIndex(name)
		if m[2*i] < 0 {
			return ""
		}
		return text[m[2*i]:m[2*i+1]]
	}
	num, cur := group("num"), group("sym")
	if num == "" {
		num, cur = group("num2"), group("code")
	}
	if c, ok := currencyOf[cur]; ok {
		cur = c
	}
	cur = strings.ToUpper(cur)
	// 1.234,56 (European) or 1,234.56 (English): the last separator followed by 1-2
	// digits is the decimal point.
	dec := ""
	if i := strings.LastIndexAny(num, ".,"); i >= 0 && len(num)-i-1 <= 2 {
		dec = num[i+1:]
		num = num[:i]
	}
	num = digitSeparators.Replace(num)
	if dec != "" {
		num += "." + dec
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return affwatch.Price{}, false
	}
	return affwatch.Price{Amount: f, Currency: cur, Raw: text[m[0]:m[1]]}, true
}

// around returns the text around a match, for evidence.
func around(text string, start, end int) string {
	const span = 60
	a, b := max(0, start-span), min(len(text), end+span)
	for a > 0 && !utf8.RuneStart(text[a]) {
		a--
	}
	for b < len(text) && !utf8.RuneStart(text[b]) {
		b++
	}
	return strings.TrimSpace(text[a:b])
}
