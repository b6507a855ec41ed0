// Package crawler fetches partner pages politely with colly and extracts, with goquery,
// the Page documents that affwatch's policies judge.
package crawler

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gocolly/colly/v2"

	"github.com/affwatch/affwatch"
)

// DefaultUserAgent names affwatch to the sites it visits, with where to learn about it.
const DefaultUserAgent = "affwatch/0.1 (+https://github.com/affwatch/affwatch; affiliate compliance checker)"

// Config is how politely and how far the crawler goes.
type Config struct {
	UserAgent string
	// Delay is the pause between two requests to one host; Parallelism is how many
	// requests one host gets at once.
	Delay       time.Duration
	Parallelism int
	// MaxDepth is how many links deep the crawler follows a site from its seed
	// (0: the seed pages only); MaxPages caps the pages of one affiliate in one scan.
	MaxDepth int
	MaxPages int
	// RequestTimeout bounds one request; MaxBodyBytes bounds one page's body (a larger
	// page is recorded as too_large); MaxRedirects bounds one redirect chain.
	RequestTimeout time.Duration
	MaxBodyBytes   int
	MaxRedirects   int
	// AllowPrivate lets the crawler reach loopback and private addresses (tests, intranet
	// staging sites). Off by default: partner-supplied URLs must not reach inside.
	AllowPrivate bool
	// IgnoreRobots disables robots.txt. Off by default.
	IgnoreRobots bool
	// FoldChars is passed to the extractor.
	FoldChars int
}

func (c *Config) defaults() {
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	if c.Parallelism <= 0 {
		c.Parallelism = 2
	}
	if c.MaxPages <= 0 {
		c.MaxPages = 100
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 30 * time.Second
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 5 << 20
	}
	if c.MaxRedirects <= 0 {
		c.MaxRedirects = 10
	}
}

// Crawler is the colly-based affwatch.Crawler.
type Crawler struct {
	cfg      Config
	programs map[string]*affwatch.Program
	client   *http.Transport
	// Logger receives one line per failed page.
	Logger *slog.Logger
	// Now is the clock stamped on pages.
	Now func() time.Time
}

var _ affwatch.Crawler = (*Crawler)(nil)

// New returns a crawler; programs gives the extractor each program's landing domains and
// disclosure phrases.
func New(cfg Config, programs []affwatch.Program) *Crawler {
	cfg.defaults()
	progs := make(map[string]*affwatch.Program, len(programs))
	for i := range programs {
		progs[programs[i].ID] = &programs[i]
	}
	dialer := guardedDialer(cfg.AllowPrivate)
	dialer.Timeout = cfg.RequestTimeout
	tr := &http.Transport{
		DialContext:           dialer.DialContext,
		Proxy:                 nil, // a proxy would defeat the address guard
		MaxIdleConnsPerHost:   cfg.Parallelism,
		IdleConnTimeout:       30 * time.Second,
		TLSHandshakeTimeout:   cfg.RequestTimeout,
		ResponseHeaderTimeout: cfg.RequestTimeout,
		ForceAttemptHTTP2:     true,
	}
	return &Crawler{cfg: cfg, programs: progs, client: tr, Logger: slog.Default().With("component", "crawler"), Now: time.Now}
}

// Close releases idle connections.
func (c *Crawler) Close() { c.client.CloseIdleConnections() }

// fetchState is what the crawler knows about one request while it is under way.
type fetchState struct {
	url    string // as asked for, normalised
	depth  int
	seed   bool
	chain  []affwatch.Redirect
	reqURL *url.URL // the pointer colly and net/http share for this request
	err    error    // set by the redirect policy
}

// siteCrawl is one affiliate site being crawled.
type siteCrawl struct {
	c      *Crawler
	ctx    context.Context
	aff    affwatch.Affiliate
	prog   *affwatch.Program
	host   string
	col    *colly.Collector
	visit  func(affwatch.Snapshot) error
	mu     sync.Mutex
	seen   map[string]bool
	pages  int
	chains map[*url.URL]*fetchState
	err    error
}

// Crawl fetches each of the affiliate's sites, following same-site links up to the
// configured depth and page budget, and calls visit with every page, fetched or not.
func (c *Crawler) Crawl(ctx context.Context, aff affwatch.Affiliate, visit func(affwatch.Snapshot) error) error {
	budget := &pageBudget{left: c.cfg.MaxPages}
	var errs []error
	for _, seed := range aff.Sites {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := c.crawlSite(ctx, aff, seed, budget, visit); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

type pageBudget struct {
	mu   sync.Mutex
	left int
}

func (b *pageBudget) take() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.left <= 0 {
		return false
	}
	b.left--
	return true
}

func (c *Crawler) crawlSite(ctx context.Context, aff affwatch.Affiliate, seed string, budget *pageBudget, visit func(affwatch.Snapshot) error) error {
	su, err := url.Parse(strings.TrimSpace(seed))
	if err != nil || (su.Scheme != "http" && su.Scheme != "https") || su.Host == "" {
		return visit(c.failed(aff, seed, affwatch.FetchError, fmt.Errorf("bad seed url %q", seed), nil))
	}
	opts := []colly.CollectorOption{
		colly.UserAgent(c.cfg.UserAgent),
		colly.Async(true),
		colly.AllowURLRevisit(), // affwatch de-duplicates itself, so redirects to seen pages are still recorded
		colly.MaxBodySize(c.cfg.MaxBodyBytes + 1),
		colly.ParseHTTPErrorResponse(),
		colly.StdlibContext(ctx),
		colly.DetectCharset(),
	}
	if c.cfg.IgnoreRobots {
		opts = append(opts, colly.IgnoreRobotsTxt())
	}
	col := colly.NewCollector(opts...)
	// colly ignores robots.txt unless told otherwise; affwatch obeys it unless configured not to.
	col.IgnoreRobotsTxt = c.cfg.IgnoreRobots
	col.WithTransport(c.client)
	col.SetRequestTimeout(c.cfg.RequestTimeout)
	if err := col.Limit(&colly.LimitRule{DomainGlob: "*", Parallelism: c.cfg.Parallelism, Delay: c.cfg.Delay}); err != nil {
		return err
	}
	s := &siteCrawl{c: c, ctx: ctx, aff: aff, prog: c.programs[aff.Program], host: strings.ToLower(su.Host), col: col,
		visit: visit, seen: map[string]bool{}, chains: map[*url.URL]*fetchState{}}
	col.SetRedirectHandler(s.onRedirect)
	col.OnRequest(func(r *colly.Request) {
		st := stateOf(r.Ctx)
		if st == nil {
			r.Abort()
			return
		}
		st.reqURL = r.URL
		s.mu.Lock()
		s.chains[r.URL] = st
		s.mu.Unlock()
	})
	col.OnResponse(func(r *colly.Response) { s.onResponse(r, budget) })
	col.OnError(func(r *colly.Response, err error) { s.onError(r, err, budget) })
	s.enqueue(su.String(), 0, true, budget)
	col.Wait()
	return s.err
}

func stateOf(ctx *colly.Context) *fetchState {
	st, _ := ctx.GetAny("affwatch").(*fetchState)
	return st
}

// normalize gives the key under which a URL is visited once: no fragment, lower-case host,
// default port dropped.
func normalize(u *url.URL) string {
	n := *u
	n.Fragment = ""
	n.Host = strings.ToLower(n.Host)
	if (n.Scheme == "http" && n.Port() == "80") || (n.Scheme == "https" && n.Port() == "443") {
		n.Host = n.Hostname()
	}
	if n.Path == "" {
		n.Path = "/"
	}
	return n.String()
}

// enqueue schedules a page unless it was seen, is off-site or is over budget.
func (s *siteCrawl) enqueue(raw string, depth int, seed bool, budget *pageBudget) {
	u, err := url.Parse(raw)
	if err != nil {
		return
	}
	key := normalize(u)
	s.mu.Lock()
	if s.seen[key] || s.err != nil || s.ctx.Err() != nil {
		s.mu.Unlock()
		return
	}
	s.seen[key] = true
	s.mu.Unlock()
	if !budget.take() {
		return
	}
	ctx := colly.NewContext()
	ctx.Put("affwatch", &fetchState{url: key, depth: depth, seed: seed})
	err = s.col.Request(http.MethodGet, key, nil, ctx, nil)
	switch {
	case err == nil:
	case errors.Is(err, colly.ErrRobotsTxtBlocked):
		s.emit(s.c.failed(s.aff, key, affwatch.FetchBlockedByRobots, err, nil))
	case errors.Is(err, colly.ErrForbiddenDomain), errors.Is(err, colly.ErrForbiddenURL), errors.Is(err, colly.ErrMaxDepth):
	default:
		s.emit(s.c.failed(s.aff, key, classifyErr(err), err, nil))
	}
}

// onRedirect records each HTTP redirect hop and ends loops and over-long chains.
func (s *siteCrawl) onRedirect(req *http.Request, via []*http.Request) error {
	s.mu.Lock()
	st := s.chains[via[0].URL]
	s.mu.Unlock()
	if st == nil {
		return nil
	}
	status := 0
	if req.Response != nil {
		status = req.Response.StatusCode
	}
	from := via[len(via)-1].URL.String()
	st.chain = append(st.chain, affwatch.Redirect{From: from, To: req.URL.String(), Status: status, Kind: "http",
		Affiliate: ClassifyForProgram(req.URL.String(), s.prog)})
	for _, v := range via {
		if normalize(v.URL) == normalize(req.URL) {
			st.err = fmt.Errorf("redirect loop: %s", req.URL)
			return st.err
		}
	}
	if len(via) >= s.c.cfg.MaxRedirects {
		st.err = fmt.Errorf("more than %d redirects", s.c.cfg.MaxRedirects)
		return st.err
	}
	return nil
}

func (s *siteCrawl) done(st *fetchState) {
	s.mu.Lock()
	delete(s.chains, st.reqURL)
	s.mu.Unlock()
}

func (s *siteCrawl) onResponse(r *colly.Response, budget *pageBudget) {
	st := stateOf(r.Ctx)
	if st == nil {
		return
	}
	defer s.done(st)
	snap := s.c.snapshot(s.aff, st, r)
	p := &snap.Page
	ctype := r.Headers.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ctype)
	isHTML := ctype == "" || mt == "text/html" || mt == "application/xhtml+xml"
	switch {
	case len(r.Body) > s.c.cfg.MaxBodyBytes:
		p.FetchStatus, p.FetchError = affwatch.FetchTooLarge, fmt.Sprintf("body larger than %d bytes", s.c.cfg.MaxBodyBytes)
		snap.HTML = nil
	case r.StatusCode == http.StatusNotModified:
		p.FetchStatus = affwatch.FetchNotModified
	case isBotWall(r.StatusCode, r.Body):
		p.FetchStatus, p.FetchError = affwatch.FetchBotWall, fmt.Sprintf("challenge page (HTTP %d)", r.StatusCode)
	case r.StatusCode >= 400:
		p.FetchStatus, p.FetchError = affwatch.FetchHTTPError, fmt.Sprintf("HTTP %d", r.StatusCode)
	case !isHTML:
		if !st.seed {
			return // a linked PDF or image is not a page of the site
		}
		p.FetchStatus, p.FetchError = affwatch.FetchError, "not an HTML page: "+ctype
		snap.HTML = nil
	default:
		page, err := Extract(r.Body, p.FinalURL, ExtractOptions{Program: s.prog, FoldChars: s.c.cfg.FoldChars})
		if err != nil {
			p.FetchStatus, p.FetchError = affwatch.FetchError, err.Error()
			break
		}
		fillContent(p, &page)
	}
	s.emit(snap)
	if p.FetchStatus != affwatch.FetchOK || st.depth >= s.c.cfg.MaxDepth {
		return
	}
	for _, l := range p.Links {
		if l.Affiliate != nil {
			continue
		}
		lu, err := url.Parse(l.Href)
		if err != nil || !strings.EqualFold(lu.Host, s.host) {
			continue
		}
		s.enqueue(l.Href, st.depth+1, false, budget)
	}
}

// fillContent copies the extracted content fields into a page that has its fetch fields.
func fillContent(p, content *affwatch.Page) {
	chain := p.Redirects
	fetch := *p
	*p = *content
	p.URL, p.FinalURL, p.Status, p.FetchedAt = fetch.URL, fetch.FinalURL, fetch.Status, fetch.FetchedAt
	p.ContentSHA256, p.FetchStatus, p.Affiliate, p.Program = fetch.ContentSHA256, affwatch.FetchOK, fetch.Affiliate, fetch.Program
	p.Redirects = append(chain, content.Redirects...)
}

func (s *siteCrawl) onError(r *colly.Response, err error, budget *pageBudget) {
	st := stateOf(r.Ctx)
	if st == nil {
		return
	}
	if r.StatusCode > 0 && st.err == nil && !errors.Is(err, colly.ErrAbortedAfterHeaders) {
		// colly reports HTTP errors here only without ParseHTTPErrorResponse; handle as a response.
		s.onResponse(r, budget)
		return
	}
	defer s.done(st)
	if s.ctx.Err() != nil {
		// The scan is being stopped: a request cut short was never seen, so it is not
		// recorded as a failed page (the next scan fetches it).
		return
	}
	if st.err != nil {
		err = st.err
	}
	status := classifyErr(err)
	if st.err != nil && strings.HasPrefix(st.err.Error(), "redirect loop") {
		status = affwatch.FetchRedirectLoop
	}
	snap := s.c.failed(s.aff, st.url, status, err, st.chain)
	s.emit(snap)
}

func (s *siteCrawl) emit(snap affwatch.Snapshot) {
	if snap.Page.FetchStatus != affwatch.FetchOK {
		s.c.Logger.Warn("page not verified", "affiliate", s.aff.ID, "url", snap.Page.URL,
			"fetch_status", snap.Page.FetchStatus, "err", snap.Page.FetchError)
	}
	if err := s.visit(snap); err != nil {
		s.mu.Lock()
		if s.err == nil {
			s.err = err
		}
		s.mu.Unlock()
	}
}

// snapshot fills the fetch fields of a page from a response.
func (c *Crawler) snapshot(aff affwatch.Affiliate, st *fetchState, r *colly.Response) affwatch.Snapshot {
	sum := sha256.Sum256(r.Body)
	p := affwatch.Page{
		SchemaVersion: affwatch.PageSchemaVersion,
		URL:           st.url,
		FinalURL:      r.Request.URL.String(),
		Status:        r.StatusCode,
		FetchedAt:     c.Now().UTC(),
		ContentSHA256: hex.EncodeToString(sum[:]),
		FetchStatus:   affwatch.FetchOK,
		Redirects:     st.chain,
		Affiliate:     pageAffiliate(aff, st.url),
		Program:       aff.Program,
	}
	if p.Redirects == nil {
		p.Redirects = []affwatch.Redirect{}
	}
	snap := affwatch.Snapshot{Page: p, HTML: r.Body}
	if r.Headers != nil {
		snap.ETag, snap.LastModified = r.Headers.Get("ETag"), r.Headers.Get("Last-Modified")
	}
	return snap
}

// failed is the record of a page that could not be fetched: never a clean page.
func (c *Crawler) failed(aff affwatch.Affiliate, raw string, status affwatch.FetchStatus, err error, chain []affwatch.Redirect) affwatch.Snapshot {
	p := affwatch.Page{
		SchemaVersion: affwatch.PageSchemaVersion,
		URL:           raw,
		FinalURL:      raw,
		FetchedAt:     c.Now().UTC(),
		FetchStatus:   status,
		Redirects:     chain,
		Affiliate:     pageAffiliate(aff, raw),
		Program:       aff.Program,
	}
	if err != nil {
		p.FetchError = err.Error()
	}
	nonNil(&p)
	return affwatch.Snapshot{Page: p}
}

func pageAffiliate(aff affwatch.Affiliate, pageURL string) affwatch.PageAffiliate {
	ids := aff.NetworkIDs
	if ids == nil {
		ids = map[string]string{}
	}
	return affwatch.PageAffiliate{ID: aff.ID, Name: aff.Name, Site: siteOf(pageURL), NetworkIDs: ids}
}

func siteOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// classifyErr maps a fetch error to the fetch status recorded on the page.
func classifyErr(err error) affwatch.FetchStatus {
	var nerr net.Error
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.Is(err, ErrForbiddenAddress):
		return affwatch.FetchRefused
	case errors.Is(err, colly.ErrRobotsTxtBlocked):
		return affwatch.FetchBlockedByRobots
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &nerr) && nerr.Timeout():
		return affwatch.FetchTimeout
	case errors.As(err, &dnsErr), errors.As(err, &opErr):
		return affwatch.FetchUnreachable
	case err != nil && strings.Contains(err.Error(), "redirect loop"):
		return affwatch.FetchRedirectLoop
	}
	return affwatch.FetchError
}

// botWallMarkers are words that challenge and bot-protection pages show instead of content.
var botWallMarkers = [][]byte{
	[]byte("cf-chl-"), []byte("challenge-platform"), []byte("Just a moment..."), []byte("Attention Required!"),
	[]byte("captcha"), []byte("CAPTCHA"), []byte("Checking your browser"), []byte("_Incapsula_Resource"),
	[]byte("px-captcha"), []byte("Access denied"), []byte("verify you are human"), []byte("Verify you are human"),
	[]byte("ddos-guard"), []byte("DDoS protection"),
}

// isBotWall recognises a challenge page: it was not the partner's content that we saw.
func isBotWall(status int, body []byte) bool {
	if status != http.StatusForbidden && status != http.StatusServiceUnavailable && status != http.StatusTooManyRequests &&
		status != 200 && status != 401 {
		return false
	}
	head := body
	if len(head) > 64<<10 {
		head = head[:64<<10]
	}
	hits := 0
	for _, m := range botWallMarkers {
		if bytes.Contains(head, m) {
			hits++
		}
	}
	if status == 200 {
		// a real page may mention captcha once; a challenge page is small and says little else
		return hits >= 2 && len(body) < 32<<10
	}
	return hits >= 1
}
