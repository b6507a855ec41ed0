package crawler

import (
	"bytes"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/PuerkitoBio/goquery"
	"github.com/andybalholm/cascadia"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/affwatch/affwatch"
)

// DefaultFoldChars is how many characters of visible text a reader sees on the first
// screen before scrolling; Page.FoldOffset is set from it.
const DefaultFoldChars = 1200

// ExtractOptions are what the extractor needs beyond the HTML.
type ExtractOptions struct {
	// Program, when set, adds its landing domains (generic ?ref= links) and its own
	// disclosure phrases.
	Program *affwatch.Program
	// FoldChars overrides DefaultFoldChars.
	FoldChars int
	// MaxLinks caps the links a page lists (default DefaultMaxLinks; the first ones in
	// reading order are kept, the rest counted in Page.LinksDropped).
	MaxLinks int
}

// DefaultMaxLinks is how many links of one page are judged. Real pages have hundreds; a
// page of tens of thousands of affiliate links is judged on its first ones and says how
// many it left out, so one page cannot hold the scan for minutes.
const DefaultMaxLinks = 5000

// Extract reads an HTML document into the content fields of a Page document (title,
// text, blocks, links, embeds, disclosures, coupons, prices, in-page redirects). pageURL
// resolves relative links. Malformed HTML is read the way a browser would; Extract never
// panics on hostile input.
func Extract(body []byte, pageURL string, opt ExtractOptions) (page affwatch.Page, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("extract %s: panic: %v", pageURL, r)
		}
	}()
	base, err := url.Parse(pageURL)
	if err != nil {
		return page, fmt.Errorf("extract: page url %q: %w", pageURL, err)
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
	if err != nil && strings.Contains(err.Error(), "open stack of elements") {
		// Nested deeper than the parser takes: read it again flattened past maxDepth.
		doc, err = goquery.NewDocumentFromReader(bytes.NewReader(flatten(body, maxDepth)))
	}
	if err != nil {
		return page, fmt.Errorf("extract %s: parse html: %w", pageURL, err)
	}
	x := &extractor{
		base:   base,
		opt:    opt,
		hidden: hiddenByStylesheet(doc),
		sel:    map[*html.Node]string{},
		nth:    map[*html.Node]nthOfType{},
		ctx:    map[*html.Node]nodeContext{},
	}
	if opt.FoldChars <= 0 {
		x.opt.FoldChars = DefaultFoldChars
	}
	if opt.MaxLinks <= 0 {
		x.opt.MaxLinks = DefaultMaxLinks
	}
	page.SchemaVersion = affwatch.PageSchemaVersion
	page.Title = normSpace(doc.FindMatcher(selTitle).First().Text())
	page.Lang, _ = doc.FindMatcher(selHTML).Attr("lang")
	if b, ok := doc.FindMatcher(selBaseHref).First().Attr("href"); ok {
		if bu, err := base.Parse(strings.TrimSpace(b)); err == nil {
			x.base = bu
		}
	}
	for _, n := range doc.Nodes {
		x.walk(n, false)
	}
	x.flush()
	page.Text = x.text.String()
	page.Blocks, page.Links, page.Embeds, page.Redirects = x.blocks, x.links, x.embeds, x.redirects
	page.LinksDropped = x.linksDropped
	page.FoldOffset = min(x.opt.FoldChars, x.runes)
	x.findInBlocks(&page)
	x.commerceContext(&page)
	page.Words = wordIndex(page.Blocks)
	nonNil(&page)
	return page, nil
}

// nonNil makes the page's lists empty rather than null, so policies can count them.
func nonNil(p *affwatch.Page) {
	if p.Blocks == nil {
		p.Blocks = []affwatch.Block{}
	}
	if p.Links == nil {
		p.Links = []affwatch.Link{}
	}
	if p.Embeds == nil {
		p.Embeds = []affwatch.Embed{}
	}
	if p.Redirects == nil {
		p.Redirects = []affwatch.Redirect{}
	}
	if p.Disclosures == nil {
		p.Disclosures = []affwatch.Disclosure{}
	}
	if p.Coupons == nil {
		p.Coupons = []affwatch.Coupon{}
	}
	if p.Prices == nil {
		p.Prices = []affwatch.Price{}
	}
	if p.Requests == nil {
		p.Requests = []affwatch.PageRequest{}
	}
	if p.Affiliate.NetworkIDs == nil {
		p.Affiliate.NetworkIDs = map[string]string{}
	}
	for i := range p.Links {
		if p.Links[i].Rel == nil {
			p.Links[i].Rel = []string{}
		}
	}
}

// extractor walks the document once, in reading order, building the visible text and
// recording where each link, embed and block sits in it.
type extractor struct {
	base   *url.URL
	opt    ExtractOptions
	hidden map[*html.Node]bool // hidden by a <style> rule
	sel    map[*html.Node]string
	ctx    map[*html.Node]nodeContext
	// linksDropped counts the links past ExtractOptions.MaxLinks.
	linksDropped int
	// nth is each element's place among its same-tag siblings, filled for all the
	// children of a parent at once: a page of 70,000 sibling links is counted once, not
	// once per link.
	nth map[*html.Node]nthOfType

	text  strings.Builder // visible text so far
	runes int             // rune count of text

	// the block being filled
	cur struct {
		node   *html.Node
		hidden bool
		buf    []byte // UTF-8 text of the block so far, white space folded
		n      int    // runes in buf
		spans  []affwatch.Span
	}
	flushes   int // blocks ended so far (an inline quotation spans no block end)
	blocks    []affwatch.Block
	links     []affwatch.Link
	embeds    []affwatch.Embed
	redirects []affwatch.Redirect
	lows      []string // each block's text lower-cased, set by findInBlocks
}

// skipped elements carry no reader-visible text.
var skipped = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Noscript: true, atom.Template: true, atom.Head: true,
	atom.Svg: true, atom.Math: true, atom.Select: true, atom.Textarea: true, atom.Object: true,
}

// blockTags start a new block of text.
var blockTags = map[atom.Atom]bool{
	atom.P: true, atom.Div: true, atom.Section: true, atom.Article: true, atom.Aside: true, atom.Header: true,
	atom.Footer: true, atom.Nav: true, atom.Main: true, atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true,
	atom.H5: true, atom.H6: true, atom.Li: true, atom.Ul: true, atom.Ol: true, atom.Dl: true, atom.Dt: true, atom.Dd: true,
	atom.Table: true, atom.Tr: true, atom.Td: true, atom.Th: true, atom.Caption: true, atom.Blockquote: true,
	atom.Pre: true, atom.Figure: true, atom.Figcaption: true, atom.Form: true, atom.Fieldset: true, atom.Br: true,
	atom.Hr: true, atom.Body: true, atom.Html: true, atom.Details: true, atom.Summary: true, atom.Address: true,
	atom.Button: true, atom.Label: true,
}

func (x *extractor) walk(n *html.Node, hidden bool) {
	switch n.Type {
	case html.TextNode:
		x.addText(n.Data)
		return
	case html.DocumentNode:
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			x.walk(c, hidden)
		}
		return
	case html.ElementNode:
	default:
		return
	}
	if n.DataAtom == atom.Head {
		x.scanHead(n)
		return
	}
	if n.DataAtom == atom.Script {
		x.scanScript(n, hidden)
		return
	}
	if skipped[n.DataAtom] {
		return
	}
	h := hidden || x.isHidden(n)
	block := blockTags[n.DataAtom] || h != hidden
	if block {
		x.flush()
		x.cur.node, x.cur.hidden = n, h
	}
	switch n.DataAtom {
	case atom.A, atom.Area:
		x.link(n, h)
	case atom.Iframe, atom.Frame, atom.Img, atom.Embed, atom.Video, atom.Audio, atom.Source:
		x.embed(n, h)
	case atom.Link:
		x.linkTag(n, h)
	case atom.Meta:
		x.meta(n)
	}
	quoteAt, bufAt, flushes := -1, 0, x.flushes
	if !block && inlineQuote(n.DataAtom) {
		quoteAt, bufAt = x.cur.n, len(x.cur.buf)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		x.walk(c, h)
	}
	if quoteAt >= 0 && x.flushes == flushes && x.cur.n > quoteAt &&
		(n.DataAtom == atom.Q || n.DataAtom == atom.Cite || titleLike(string(x.cur.buf[bufAt:]))) {
		x.cur.spans = append(x.cur.spans, affwatch.Span{Start: quoteAt, End: x.cur.n})
	}
	if block {
		x.flush()
		// text after this element belongs to its parent's block
		x.cur.node, x.cur.hidden = n.Parent, hidden
	}
}

// inlineQuote elements mark quotations and titles inside a block: <q> and <cite> always,
// <em> and <i> when their text reads as a title of a work.
func inlineQuote(a atom.Atom) bool {
	return a == atom.Q || a == atom.Cite || a == atom.Em || a == atom.I
}

// addText appends text to the current block, folding white space.
func (x *extractor) addText(s string) {
	buf, n := x.cur.buf, x.cur.n
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf { // ASCII: most text
			i++
			switch {
			case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
				if len(buf) > 0 && buf[len(buf)-1] != ' ' {
					buf = append(buf, ' ')
					n++
				}
			case c < 0x20 || c == 0x7f: // control characters
			default:
				buf = append(buf, c)
				n++
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if unicode.IsSpace(r) || r == '\u00a0' {
			if len(buf) > 0 && buf[len(buf)-1] != ' ' {
				buf = append(buf, ' ')
				n++
			}
			continue
		}
		if r == utf8.RuneError || unicode.IsControl(r) {
			continue
		}
		buf = utf8.AppendRune(buf, r)
		n++
	}
	x.cur.buf, x.cur.n = buf, n
}

// offset is where the next visible character will sit in the page text.
func (x *extractor) offset() int {
	if x.cur.hidden {
		return x.blockStart()
	}
	return x.blockStart() + x.cur.n
}

// blockStart is where the current block starts (or would start) in the page text.
func (x *extractor) blockStart() int {
	if x.runes == 0 {
		return 0
	}
	return x.runes + 1 // after the "\n" that separates blocks
}

// flush ends the current block.
func (x *extractor) flush() {
	buf, n := x.cur.buf, x.cur.n
	for len(buf) > 0 && buf[len(buf)-1] == ' ' {
		buf = buf[:len(buf)-1]
		n--
	}
	x.cur.buf, x.cur.n = x.cur.buf[:0], 0
	spans := x.cur.spans
	x.cur.spans = nil
	x.flushes++
	if len(buf) == 0 {
		return
	}
	b := affwatch.Block{Offset: x.blockStart(), Tag: "", Text: string(buf), Hidden: x.cur.hidden}
	b.Context = x.blockContext(b.Text, n, spans)
	if x.cur.node != nil {
		b.Tag, b.Selector = x.cur.node.Data, x.selector(x.cur.node)
	}
	if !x.cur.hidden {
		if x.runes > 0 {
			x.text.WriteByte('\n')
			x.runes++
		}
		x.text.WriteString(b.Text)
		x.runes += n
	}
	x.blocks = append(x.blocks, b)
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Namespace == "" && strings.EqualFold(a.Key, key) {
			return a.Val, true
		}
	}
	return "", false
}

// resolveURL makes an href absolute, with its parsed form; it returns "" (and nil) for
// non-web links (mailto:, javascript:).
func (x *extractor) resolveURL(href string) (*url.URL, string) {
	href = strings.TrimSpace(href)
	if href == "" || strings.HasPrefix(href, "#") {
		return nil, ""
	}
	u, err := x.base.Parse(href)
	if err != nil {
		return nil, ""
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, ""
	}
	u.Fragment = ""
	return u, u.String()
}

func (x *extractor) classify(u *url.URL, abs string) *affwatch.AffiliateLink {
	return classifyForProgram(u, abs, x.opt.Program)
}

func (x *extractor) link(n *html.Node, hidden bool) {
	if len(x.links) >= x.opt.MaxLinks {
		x.linksDropped++
		return
	}
	raw, _ := attr(n, "href")
	u, abs := x.resolveURL(raw)
	if abs == "" {
		return
	}
	rel, _ := attr(n, "rel")
	l := affwatch.Link{
		Href:      abs,
		Text:      normSpace(nodeText(n)),
		Rel:       strings.Fields(strings.ToLower(rel)),
		Offset:    x.offset(),
		Selector:  x.selector(n),
		Hidden:    hidden,
		Affiliate: x.classify(u, abs),
	}
	if l.Text == "" {
		if alt := imgAlt(n); alt != "" {
			l.Text = alt
		}
	}
	x.links = append(x.links, l)
}

func (x *extractor) embed(n *html.Node, hidden bool) {
	src, _ := attr(n, "src")
	u, abs := x.resolveURL(src)
	if abs == "" {
		return
	}
	w, h := dimension(n, "width"), dimension(n, "height")
	tiny := (w >= 0 && w <= 1) || (h >= 0 && h <= 1)
	e := affwatch.Embed{
		Kind:      embedKind(n.DataAtom),
		Src:       abs,
		Width:     w,
		Height:    h,
		Offset:    x.offset(),
		Selector:  x.selector(n),
		Hidden:    hidden || tiny,
		Affiliate: x.classify(u, abs),
	}
	x.embeds = append(x.embeds, e)
}

func embedKind(a atom.Atom) string {
	switch a {
	case atom.Iframe, atom.Frame:
		return "iframe"
	case atom.Img:
		return "image"
	default:
		return a.String()
	}
}

// linkTag records <link rel=prefetch|preload|prerender>: the browser fetches them unasked.
func (x *extractor) linkTag(n *html.Node, hidden bool) {
	rel, _ := attr(n, "rel")
	for _, r := range strings.Fields(strings.ToLower(rel)) {
		if r == "prefetch" || r == "preload" || r == "prerender" {
			href, _ := attr(n, "href")
			if u, abs := x.resolveURL(href); abs != "" {
				x.embeds = append(x.embeds, affwatch.Embed{Kind: r, Src: abs, Width: -1, Height: -1, Offset: x.offset(),
					Selector: x.selector(n), Hidden: true, Affiliate: x.classify(u, abs)})
			}
			return
		}
	}
}

var refreshURL = regexp.MustCompile(`(?i)^\s*(\d+(?:\.\d+)?)?\s*[;,]?\s*(?:url\s*=\s*)?['"]?([^'"]*)['"]?\s*$`)

// meta records a <meta http-equiv="refresh"> that sends the reader elsewhere.
func (x *extractor) meta(n *html.Node) {
	eq, _ := attr(n, "http-equiv")
	if !strings.EqualFold(strings.TrimSpace(eq), "refresh") {
		return
	}
	content, _ := attr(n, "content")
	m := refreshURL.FindStringSubmatch(content)
	if m == nil || strings.TrimSpace(m[2]) == "" {
		return
	}
	if u, abs := x.resolveURL(m[2]); abs != "" {
		x.redirects = append(x.redirects, affwatch.Redirect{From: x.base.String(), To: abs, Kind: "meta", Affiliate: x.classify(u, abs)})
	}
}

func (x *extractor) scanHead(n *html.Node) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type != html.ElementNode {
			continue
		}
		switch c.DataAtom {
		case atom.Meta:
			x.meta(c)
		case atom.Link:
			x.linkTag(c, true)
		case atom.Script:
			x.scanScript(c, true)
		}
	}
}

// jsLocation finds simple script redirects: location = "...", location.href = "...",
// location.replace("...") and location.assign("...").
var jsLocation = regexp.MustCompile(`(?:window\.|document\.|top\.|self\.)?location(?:\.href)?\s*(?:=\s*|\.(?:replace|assign)\(\s*)["']([^"']+)["']`)

// scanScript records script embeds (src) and simple location redirects in inline scripts.
func (x *extractor) scanScript(n *html.Node, hidden bool) {
	if src, ok := attr(n, "src"); ok {
		if u, abs := x.resolveURL(src); abs != "" {
			x.embeds = append(x.embeds, affwatch.Embed{Kind: "script", Src: abs, Width: -1, Height: -1, Offset: x.offset(),
				Selector: x.selector(n), Hidden: true, Affiliate: x.classify(u, abs)})
		}
		return
	}
	body := nodeText(n)
	if len(body) > 1<<20 {
		body = body[:1<<20]
	}
	for _, m := range jsLocation.FindAllStringSubmatch(body, 8) {
		if u, abs := x.resolveURL(m[1]); abs != "" {
			x.redirects = append(x.redirects, affwatch.Redirect{From: x.base.String(), To: abs, Kind: "js", Affiliate: x.classify(u, abs)})
		}
	}
}

func nodeText(n *html.Node) string {
	if c := n.FirstChild; n.Type != html.TextNode && c != nil && c == n.LastChild && c.Type == html.TextNode && c.FirstChild == nil {
		return c.Data // one text node, as most links and inline scripts have
	}
	var b strings.Builder
	var f func(*html.Node)
	f = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			f(c)
		}
	}
	f(n)
	return b.String()
}

func imgAlt(n *html.Node) string {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && c.DataAtom == atom.Img {
			if alt, ok := attr(c, "alt"); ok {
				return normSpace(alt)
			}
		}
		if s := imgAlt(c); s != "" {
			return s
		}
	}
	return ""
}

// normSpace folds white space: words joined by single spaces, none at either end. Text
// that is so already (most link texts and titles) is returned as it is.
func normSpace(s string) string {
	space := true // the byte before is a space, or there is none
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= utf8.RuneSelf || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' || c == ' ' && space:
			return strings.Join(strings.Fields(s), " ")
		default:
			space = c == ' '
		}
	}
	if space && s != "" {
		return strings.Join(strings.Fields(s), " ")
	}
	return s
}

// selector builds a CSS path that finds the element again: an id where there is one,
// otherwise tag names with :nth-of-type up to the nearest ancestor with an id.
func (x *extractor) selector(n *html.Node) string {
	if s, ok := x.sel[n]; ok {
		return s
	}
	var s string
	switch {
	case n == nil || n.Type != html.ElementNode:
		s = ""
	case idOf(n) != "":
		s = n.Data + "#" + cssIdent(idOf(n))
	case n.DataAtom == atom.Html || n.DataAtom == atom.Body:
		s = n.Data
	default:
		at := x.nthOf(n)
		s = n.Data
		if at.k > 1 || at.more {
			s += ":nth-of-type(" + strconv.Itoa(at.k) + ")"
		}
		if parent := x.selector(n.Parent); parent != "" {
			s = parent + " > " + s
		}
	}
	x.sel[n] = s
	return s
}

// nthOfType is an element's place among its siblings of the same tag (from 1), and
// whether a later sibling has that tag too.
type nthOfType struct {
	k    int
	more bool
}

// nthOf returns n's place among its same-tag siblings, counting all its siblings' places
// in one pass the first time one of them is asked for.
func (x *extractor) nthOf(n *html.Node) nthOfType {
	if at, ok := x.nth[n]; ok {
		return at
	}
	if n.Parent == nil {
		return nthOfType{k: 1}
	}
	first := n.Parent.FirstChild
	count := map[string]int{}
	for c := first; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode {
			count[c.Data]++
			x.nth[c] = nthOfType{k: count[c.Data]}
		}
	}
	last := make(map[string]*html.Node, len(count))
	for c := first; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode {
			if prev := last[c.Data]; prev != nil {
				at := x.nth[prev]
				at.more = true
				x.nth[prev] = at
			}
			last[c.Data] = c
		}
	}
	return x.nth[n]
}

func idOf(n *html.Node) string {
	id, _ := attr(n, "id")
	return strings.TrimSpace(id)
}

var cssIdentOK = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

func cssIdent(s string) string {
	if cssIdentOK.MatchString(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_') {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, "\\%x ", r)
		}
	}
	return b.String()
}

// hiddenByStylesheet finds elements that <style> rules with simple selectors hide.
func hiddenByStylesheet(doc *goquery.Document) map[*html.Node]bool {
	hidden := map[*html.Node]bool{}
	doc.FindMatcher(selStyle).Each(func(_ int, s *goquery.Selection) {
		css := s.Text()
		if len(css) > 1<<20 {
			css = css[:1<<20]
		}
		for _, rule := range cssRules(css) {
			if !hidingDecls(rule.decls) {
				continue
			}
			for _, sel := range strings.Split(rule.selectors, ",") {
				sel = strings.TrimSpace(sel)
				if sel == "" || strings.ContainsAny(sel, ":[") {
					continue // pseudo-classes and attribute selectors are beyond a simple reading
				}
				m := stylesheetSelector(sel)
				if m == nil {
					continue
				}
				for _, n := range doc.FindMatcher(m).Nodes {
					hidden[n] = true
				}
			}
		}
	})
	return hidden
}

// The selectors Extract looks for, compiled once (goquery's Find compiles its selector
// on every call).
var (
	selTitle    = cascadia.MustCompile("title")
	selHTML     = cascadia.MustCompile("html")
	selBaseHref = cascadia.MustCompile("base[href]")
	selStyle    = cascadia.MustCompile("style")
)

// stylesheetSelectors are the <style> rules' selectors compiled so far (nil: not a
// selector cascadia reads): a site's pages share their stylesheet, so each page asked
// for the same few. At most maxStylesheetSelectors are kept, so hostile pages of ever new
// selectors cannot grow it without bound.
var (
	stylesheetSelectors    sync.Map // selector text -> cascadia.Selector (nil when it does not compile)
	stylesheetSelectorsLen atomic.Int64
)

const maxStylesheetSelectors = 10000

// stylesheetSelector compiles a selector of a <style> rule (nil when it does not compile).
func stylesheetSelector(sel string) cascadia.Selector {
	if m, ok := stylesheetSelectors.Load(sel); ok {
		m, _ := m.(cascadia.Selector)
		return m
	}
	m, err := cascadia.Compile(sel)
	if err != nil {
		m = nil
	}
	if stylesheetSelectorsLen.Load() < maxStylesheetSelectors {
		if _, loaded := stylesheetSelectors.LoadOrStore(sel, m); !loaded {
			stylesheetSelectorsLen.Add(1)
		}
	}
	return m
}

type cssRule struct{ selectors, decls string }

var cssComment = regexp.MustCompile(`(?s)/\*.*?\*/`)

// cssRules splits a stylesheet into top-level rules; at-rules' bodies (media queries) are
// skipped, since whether they apply depends on the reader's screen.
func cssRules(css string) []cssRule {
	css = cssComment.ReplaceAllString(css, "")
	var out []cssRule
	for len(css) > 0 {
		open := strings.IndexByte(css, '{')
		if open < 0 {
			break
		}
		head := strings.TrimSpace(css[:open])
		depth, end := 0, -1
		for i := open; i < len(css); i++ {
			if css[i] == '{' {
				depth++
			} else if css[i] == '}' {
				depth--
				if depth == 0 {
					end = i
					break
				}
			}
		}
		if end < 0 {
			break
		}
		if !strings.HasPrefix(head, "@") {
			out = append(out, cssRule{selectors: head, decls: css[open+1 : end]})
		}
		css = css[end+1:]
	}
	return out
}

// isHidden reports whether the element itself is hidden from a reader.
func (x *extractor) isHidden(n *html.Node) bool {
	if x.hidden[n] {
		return true
	}
	if _, ok := attr(n, "hidden"); ok {
		return true
	}
	if t, _ := attr(n, "type"); n.DataAtom == atom.Input && strings.EqualFold(t, "hidden") {
		return true
	}
	style, _ := attr(n, "style")
	return style != "" && hidingDecls(style)
}

// hidingDecls reports whether CSS declarations hide an element from a reader:
// display:none, visibility:hidden, opacity:0, zero or one-pixel size, or positioning
// far off-screen.
func hidingDecls(decls string) bool {
	var w, h = -1.0, -1.0
	offscreen := false
	for _, d := range strings.Split(decls, ";") {
		prop, val, ok := strings.Cut(d, ":")
		if !ok {
			continue
		}
		prop = strings.ToLower(strings.TrimSpace(prop))
		val = strings.ToLower(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(val), "!important")))
		switch prop {
		case "display":
			if val == "none" {
				return true
			}
		case "visibility":
			if val == "hidden" || val == "collapse" {
				return true
			}
		case "opacity":
			if f, err := strconv.ParseFloat(val, 64); err == nil && f <= 0.01 {
				return true
			}
		case "width", "max-width":
			if px, ok := cssPx(val); ok && px <= 1 {
				w = px
			}
		case "height", "max-height":
			if px, ok := cssPx(val); ok && px <= 1 {
				h = px
			}
		case "left", "top", "right", "text-indent", "margin-left", "margin-top":
			if px, ok := cssPx(val); ok && px <= -500 {
				offscreen = true
			}
		case "clip":
			if strings.HasPrefix(strings.ReplaceAll(val, " ", ""), "rect(0") {
				offscreen = true
			}
		case "transform":
			if strings.Contains(val, "scale(0)") {
				return true
			}
		}
	}
	return offscreen || (w >= 0 && w <= 1) || (h >= 0 && h <= 1)
}

// cssPx reads a length in px (or a bare number, or 0 in any unit).
func cssPx(v string) (float64, bool) {
	v = strings.TrimSpace(v)
	num := strings.TrimSuffix(v, "px")
	if num == v && v != "0" && strings.TrimLeft(v, "-0123456789.") != "" {
		if strings.TrimRight(v, "abcdefghijklmnopqrstuvwxyz%") == "0" {
			return 0, true
		}
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	return f, err == nil
}

// dimension reads an element's width or height in pixels from its attribute or inline
// style; -1 means not stated.
func dimension(n *html.Node, prop string) int {
	if style, ok := attr(n, "style"); ok {
		for _, d := range strings.Split(style, ";") {
			p, val, ok := strings.Cut(d, ":")
			if ok && strings.EqualFold(strings.TrimSpace(p), prop) {
				if px, ok := cssPx(strings.ToLower(val)); ok {
					return int(px)
				}
			}
		}
	}
	if v, ok := attr(n, prop); ok {
		if px, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), "px")); err == nil {
			return px
		}
	}
	return -1
}

// maxDepth is how deep flatten lets elements nest (the parser refuses 512).
const maxDepth = 256

// flatten rewrites HTML so that no element nests much deeper than limit: container tags
// past the limit are dropped (their text kept); links, paragraphs, headings, images,
// frames and scripts are kept up to a little further, so a page's facts survive. Real
// pages never nest that deep; a page that does is trying to make itself unreadable, and
// is read anyway.
func flatten(body []byte, limit int) []byte {
	type open struct {
		name string
		kept bool
	}
	z := html.NewTokenizer(bytes.NewReader(body))
	var out bytes.Buffer
	var stack []open
	depth := 0 // kept elements open
	for {
		switch z.Next() {
		case html.ErrorToken:
			return out.Bytes()
		case html.StartTagToken:
			raw := z.Raw()
			name, _ := z.TagName()
			n := string(name)
			if voidElement(n) {
				out.Write(raw)
				continue
			}
			keep := depth < limit || (depth < limit+64 && factElement(n))
			stack = append(stack, open{n, keep})
			if keep {
				depth++
				out.Write(raw)
			}
		case html.EndTagToken:
			raw := z.Raw()
			name, _ := z.TagName()
			// close the nearest open element of that name, and what is open inside it (an
			// end tag that matches nothing near the top is ignored, as browsers do; looking
			// further would make a page of stray end tags quadratic)
			i := len(stack) - 1
			for i >= 0 && i >= len(stack)-1024 && stack[i].name != string(name) {
				i--
			}
			if i < 0 || stack[i].name != string(name) {
				continue
			}
			for _, o := range stack[i+1:] {
				if o.kept {
					depth--
				}
			}
			o := stack[i]
			stack = stack[:i]
			if o.kept {
				depth--
				out.Write(raw)
			}
		default:
			out.Write(z.Raw())
		}
	}
}

// factElement is an element that carries a page's facts: kept a little past the depth
// limit when flattening.
func factElement(name string) bool {
	switch name {
	case "a", "p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "iframe", "script", "style", "noscript", "title", "button", "td", "th":
		return true
	}
	return false
}

func voidElement(name string) bool {
	switch name {
	case "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr":
		return true
	}
	return false
}
