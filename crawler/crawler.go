// Package crawler fetches partner pages politely with colly and extracts, with goquery,
// the Page documents that affwatch's policies judge.
package crawler

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
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
	// Retries is how many times a page that answered 429 or 5xx, or timed out, is asked
	// for again (default 2; -1: never); RetryBackoff is the first wait (default 1 s,
	// doubling), unless the server's Retry-After asks for longer, up to MaxRetryWait
	// (default 60 s; a server asking for more gets the page recorded as failed).
	Retries      int
	RetryBackoff time.Duration
	MaxRetryWait time.Duration
	// FoldChars and MaxLinks are passed to the extractor.
	FoldChars int
	MaxLinks  int
	// MaxConcurrent caps the requests in flight across all hosts at once (default 32).
	MaxConcurrent int
	// ResolveClicks follows each page's affiliate click URLs (up to ResolveLimit distinct
	// ones a page, default 10) through their redirects and records where they land. Off by
	// default: asking a click URL may count as a click with the network.
	ResolveClicks bool
	ResolveLimit  int
	// SiteTimeout bounds one site's crawl (default 10 minutes): a slow site cannot hold a
	// worker all night. Pages it did not get to are recorded as timeouts (unverified).
	SiteTimeout time.Duration
	// NoSitemaps stops the crawler reading /sitemap.xml for more of a site's pages (read by
	// default, within the page budget; its pages count as one link from the seed).
	NoSitemaps bool
	// Render is when pages are rendered in a browser (default never); affiliates and
	// programs may say otherwise. Renderer is the browser; the crawler closes it (when it
	// is an io.Closer) on Close.
	Render   affwatch.RenderMode
	Renderer Renderer
	// NoScreenshots stops the browser taking a screenshot of each rendered page (taken by
	// default: the manager's email shows the offending element from it).
	NoScreenshots bool
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
	if c.SiteTimeout <= 0 {
		c.SiteTimeout = 10 * time.Minute
	}
	if c.ResolveLimit <= 0 {
		c.ResolveLimit = 10
	}
	if c.MaxConcurrent <= 0 {
		c.MaxConcurrent = 32
	}
	if c.Retries == 0 {
		c.Retries = 2
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = time.Second
	}
	if c.MaxRetryWait <= 0 {
		c.MaxRetryWait = time.Minute
	}
}

// PageHistory is what the store remembers of earlier fetches: with it the crawler asks
// only for pages that changed (If-None-Match, If-Modified-Since), and judges an unchanged
// page from its stored snapshot, so it still counts as seen.
type PageHistory interface {
	LastFetch(ctx context.Context, affiliateID, url string) (affwatch.Validators, error)
	Snapshot(ctx context.Context, sha string) ([]byte, error)
}

// Crawler is the colly-based affwatch.Crawler.
type Crawler struct {
	// History, when set, turns on conditional requests.
	History  PageHistory
	cfg      Config
	programs map[string]*affwatch.Program
	client   *http.Transport
	limited  http.RoundTripper
	resolver *resolver
	// Logger receives one line per failed page.
	Logger *slog.Logger
	// Now is the clock stamped on pages.
	Now func() time.Time
	// OnProgress, when set, hears how each affiliate's crawl stands: pages waiting to be
	// fetched, pages handed over, and of those how many could not be verified.
	OnProgress func(affiliateID string, queued, done, failed int)
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
	c := &Crawler{cfg: cfg, programs: progs, client: tr, limited: &limitedTransport{next: tr, sem: make(chan struct{}, cfg.MaxConcurrent)},
		Logger: slog.Default().With("component", "crawler"), Now: time.Now}
	c.resolver = newResolver(c.limited, cfg.UserAgent, cfg.MaxRedirects, cfg.RequestTimeout)
	return c
}

// Close releases idle connections and stops the browser, if there is one.
func (c *Crawler) Close() {
	c.client.CloseIdleConnections()
	if cl, ok := c.cfg.Renderer.(io.Closer); ok {
		if err := cl.Close(); err != nil {
			c.Logger.Warn("closing the browser", "err", err)
		}
	}
}

// fetchState is what the crawler knows about one request while it is under way.
type fetchState struct {
	url    string // as asked for, normalised
	depth  int
	seed   bool
	chain  []affwatch.Redirect
	reqURL *url.URL // the pointer colly and net/http share for this request
	err    error    // set by the redirect policy
	tries  int      // attempts made before this one
	// sitemap marks a request for a sitemap: its <loc> URLs are enqueued, it is no page.
	sitemap bool
	// prev are the validators sent with a conditional request.
	prev *affwatch.Validators
}

// siteCrawl is one affiliate site being crawled.
type siteCrawl struct {
	c   *Crawler
	ctx context.Context
	// scanCtx is the scan's: when it ends the scan is being stopped; when only ctx ends, the
	// site ran out of time.
	scanCtx context.Context
	aff     affwatch.Affiliate
	prog    *affwatch.Program
	host    string
	col     *colly.Collector
	visit   func(affwatch.Snapshot) error
	mu      sync.Mutex
	seen    map[string]bool
	chains  map[*url.URL]*fetchState
	err     error
	// sitemaps counts the sitemap files asked for.
	sitemaps int
	// nQueued, nDone and nFailed count the pages for progress reports.
	nQueued, nDone, nFailed int
}

// progress tells the crawler's listener how the site stands (dq: change in queued pages).
func (s *siteCrawl) progress(dq int, handed *affwatch.Snapshot) {
	if s.c.OnProgress == nil {
		return
	}
	s.mu.Lock()
	s.nQueued += dq
	if handed != nil {
		s.nDone++
		if !handed.Page.FetchStatus.Verified() {
			s.nFailed++
		}
	}
	q, d, f := s.nQueued, s.nDone, s.nFailed
	s.mu.Unlock()
	s.c.OnProgress(s.aff.ID, q, d, f)
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

func (c *Crawler) crawlSite(scanCtx context.Context, aff affwatch.Affiliate, seed string, budget *pageBudget, visit func(affwatch.Snapshot) error) error {
	su, err := url.Parse(strings.TrimSpace(seed))
	if err != nil || (su.Scheme != "http" && su.Scheme != "https") || su.Host == "" {
		return visit(c.failed(aff, seed, affwatch.FetchError, fmt.Errorf("bad seed url %q", seed), nil))
	}
	ctx, cancel := context.WithTimeout(scanCtx, c.cfg.SiteTimeout)
	defer cancel()
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
	col.WithTransport(c.limited)
	col.SetRequestTimeout(c.cfg.RequestTimeout)
	if err := col.Limit(&colly.LimitRule{DomainGlob: "*", Parallelism: c.cfg.Parallelism, Delay: c.cfg.Delay}); err != nil {
		return err
	}
	s := &siteCrawl{c: c, ctx: ctx, scanCtx: scanCtx, aff: aff, prog: c.programs[aff.Program], host: strings.ToLower(su.Host), col: col,
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
		if c.History != nil && !st.sitemap {
			if v, err := c.History.LastFetch(ctx, aff.ID, st.url); err == nil && (v.ETag != "" || v.LastModified != "") {
				st.prev = &v
				if v.ETag != "" {
					r.Headers.Set("If-None-Match", v.ETag)
				}
				if v.LastModified != "" {
					r.Headers.Set("If-Modified-Since", v.LastModified)
				}
			}
		}
	})
	col.OnResponse(func(r *colly.Response) { s.onResponse(r, budget) })
	col.OnError(func(r *colly.Response, err error) { s.onError(r, err, budget) })
	s.enqueue(su.String(), 0, true, budget)
	if !c.cfg.NoSitemaps && c.cfg.MaxDepth > 0 {
		s.enqueueSitemap(su.Scheme + "://" + su.Host + "/sitemap.xml")
	}
	col.Wait()
	return s.err
}

// maxSitemaps bounds the sitemap files read for one site (an index and its children).
const maxSitemaps = 5

// enqueueSitemap asks for a sitemap file, through robots.txt and the host's politeness
// like any page, but outside the page budget.
func (s *siteCrawl) enqueueSitemap(raw string) {
	s.mu.Lock()
	key := "sitemap " + raw
	if s.seen[key] || s.sitemaps >= maxSitemaps || s.ctx.Err() != nil {
		s.mu.Unlock()
		return
	}
	s.seen[key] = true
	s.sitemaps++
	s.mu.Unlock()
	ctx := colly.NewContext()
	ctx.Put("affwatch", &fetchState{url: raw, depth: 0, sitemap: true})
	s.col.Request(http.MethodGet, raw, nil, ctx, nil) // a missing or refused sitemap is nothing to record
}

// onSitemap enqueues a sitemap's same-site pages one link deep, and the sitemaps a
// sitemap index names.
func (s *siteCrawl) onSitemap(r *colly.Response, budget *pageBudget) {
	if r.StatusCode != http.StatusOK {
		return
	}
	pages, maps := parseSitemap(r.Body)
	for _, m := range maps {
		if mu, err := url.Parse(m); err == nil && strings.EqualFold(mu.Host, s.host) {
			s.enqueueSitemap(m)
		}
	}
	for _, p := range pages {
		if pu, err := url.Parse(p); err == nil && strings.EqualFold(pu.Host, s.host) && (pu.Scheme == "http" || pu.Scheme == "https") {
			s.enqueue(p, 1, false, budget)
		}
	}
}

// parseSitemap reads the page and sitemap <loc> URLs of a sitemap or sitemap index.
func parseSitemap(body []byte) (pages, sitemaps []string) {
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.Strict = false
	var stack []string
	for {
		tok, err := dec.Token()
		if err != nil {
			return pages, sitemaps
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, t.Name.Local)
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case xml.CharData:
			if len(stack) < 2 || stack[len(stack)-1] != "loc" {
				continue
			}
			loc := strings.TrimSpace(string(t))
			switch stack[len(stack)-2] {
			case "url":
				pages = append(pages, loc)
			case "sitemap":
				sitemaps = append(sitemaps, loc)
			}
		}
	}
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
		s.progress(1, nil)
	case errors.Is(err, colly.ErrRobotsTxtBlocked):
		s.emit(s.c.failed(s.aff, key, affwatch.FetchBlockedByRobots, err, nil), 0)
	case errors.Is(err, colly.ErrForbiddenDomain), errors.Is(err, colly.ErrForbiddenURL), errors.Is(err, colly.ErrMaxDepth):
	default:
		s.emit(s.c.failed(s.aff, key, classifyErr(err), err, nil), 0)
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
			st.err = fmt.Errorf("%w: %s", ErrRedirectLoop, req.URL)
			return st.err
		}
	}
	if len(via) >= s.c.cfg.MaxRedirects {
		st.err = fmt.Errorf("more than %d redirects", s.c.cfg.MaxRedirects)
		return st.err
	}
	return nil
}

// done forgets a finished request's redirect chain. It takes the request's URL pointer as
// it was when the response came (a retry makes a new request for the same state).
func (s *siteCrawl) done(u *url.URL) {
	s.mu.Lock()
	delete(s.chains, u)
	s.mu.Unlock()
}

func (s *siteCrawl) onResponse(r *colly.Response, budget *pageBudget) {
	st := stateOf(r.Ctx)
	if st == nil {
		return
	}
	defer s.done(st.reqURL)
	if st.sitemap {
		s.onSitemap(r, budget)
		return
	}
	if s.retry(st, r, r.StatusCode, nil) {
		return
	}
	if r.StatusCode == http.StatusNotModified && st.prev != nil {
		// Unchanged since the last scan: judge the stored snapshot, so the page counts as
		// seen and its violations stay open (or resolved) as they were.
		if html, err := s.c.History.Snapshot(s.ctx, st.prev.ContentSHA256); err == nil {
			r.Body = html
			if r.Headers.Get("ETag") == "" {
				r.Headers.Set("ETag", st.prev.ETag)
			}
			if r.Headers.Get("Last-Modified") == "" {
				r.Headers.Set("Last-Modified", st.prev.LastModified)
			}
		}
	}
	snap := s.c.snapshot(s.aff, st, r)
	p := &snap.Page
	var follow []affwatch.Link // the same-site links to crawl on from this page
	ctype := r.Headers.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ctype)
	isHTML := ctype == "" || mt == "text/html" || mt == "application/xhtml+xml"
	switch {
	case len(r.Body) > s.c.cfg.MaxBodyBytes:
		p.FetchStatus, p.FetchError = affwatch.FetchTooLarge, fmt.Sprintf("body larger than %d bytes", s.c.cfg.MaxBodyBytes)
		snap.HTML = nil
	case r.StatusCode == http.StatusNotModified && len(r.Body) == 0:
		// A 304 we did not ask for, or whose snapshot is gone: nothing to judge.
		p.FetchStatus, p.FetchError = affwatch.FetchHTTPError, "HTTP 304 without a stored snapshot"
	case isBotWall(r.StatusCode, r.Body):
		p.FetchStatus, p.FetchError = affwatch.FetchBotWall, fmt.Sprintf("challenge page (HTTP %d)", r.StatusCode)
	case r.StatusCode >= 400:
		p.FetchStatus, p.FetchError = affwatch.FetchHTTPError, fmt.Sprintf("HTTP %d", r.StatusCode)
	case !isHTML:
		if !st.seed {
			s.progress(-1, nil)
			return // a linked PDF or image is not a page of the site
		}
		p.FetchStatus, p.FetchError = affwatch.FetchError, "not an HTML page: "+ctype
		snap.HTML = nil
	default:
		page, err := Extract(r.Body, p.FinalURL, ExtractOptions{Program: s.prog, FoldChars: s.c.cfg.FoldChars, MaxLinks: s.c.cfg.MaxLinks})
		if err != nil {
			p.FetchStatus, p.FetchError = affwatch.FetchError, err.Error()
			break
		}
		follow = page.Links
		if wantRender(s.c.renderMode(s.aff, s.prog), r.Body, &page) {
			rendered, rr, err := s.c.renderPage(s.ctx, p.FinalURL, s.prog)
			if err != nil {
				if s.scanCtx.Err() != nil {
					s.progress(-1, nil) // the scan is being stopped: the page was not seen
					return
				}
				// The static page is kept as what was seen, but the page is not verified:
				// readers see what the browser would have built.
				fillContent(p, &page)
				p.FetchStatus, p.FetchError = affwatch.FetchRenderFailed, "render: "+err.Error()
				break
			}
			page = rendered
			snap.Screenshot = rr.Screenshot
			follow = append(follow, page.Links...)
		}
		if s.c.cfg.ResolveClicks {
			s.c.resolveLinks(s.ctx, &page)
		}
		fillContent(p, &page)
		if r.StatusCode == http.StatusNotModified {
			p.FetchStatus = affwatch.FetchNotModified
		}
		if s.prog != nil && len(s.prog.CloakingPersonas) > 0 {
			p.Views = s.c.views(s.ctx, p.FinalURL, s.prog)
			if s.scanCtx.Err() != nil {
				s.progress(-1, nil)
				return
			}
		}
	}
	s.emit(snap, -1)
	// A page not modified since the last scan hands on the links of its stored snapshot,
	// so the scan reaches every page a fresh scan would. A page whose rendering failed
	// still hands on the links of its static HTML.
	if (!p.FetchStatus.Verified() && p.FetchStatus != affwatch.FetchRenderFailed) || st.depth >= s.c.cfg.MaxDepth {
		return
	}
	for _, l := range follow {
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
	defer s.done(st.reqURL)
	if st.sitemap {
		return // a missing sitemap is nothing to record
	}
	if s.scanCtx.Err() != nil {
		// The scan is being stopped: a request cut short was never seen, so it is not
		// recorded as a failed page (the next scan fetches it).
		s.progress(-1, nil)
		return
	}
	if s.ctx.Err() != nil {
		// The site's time ran out: the page is recorded as not verified, so the scan says
		// what it did not check.
		s.emit(s.c.failed(s.aff, st.url, affwatch.FetchTimeout,
			fmt.Errorf("the site's time budget (crawl.site_timeout, %s) ran out before this page", s.c.cfg.SiteTimeout), st.chain), -1)
		return
	}
	if st.err != nil {
		err = st.err
	}
	status := classifyErr(err)
	if status == affwatch.FetchTimeout && s.retry(st, r, 0, err) {
		return
	}
	if errors.Is(st.err, ErrRedirectLoop) {
		status = affwatch.FetchRedirectLoop
	}
	snap := s.c.failed(s.aff, st.url, status, err, st.chain)
	s.emit(snap, -1)
}

// retryable are the answers worth asking again for: the server is busy or failing for now.
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusBadGateway ||
		status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout || status == http.StatusInternalServerError
}

// retry asks for the page again after a wait when the answer was 429/5xx (status) or a
// timeout (err), within the retry budget, and reports whether it did. The wait is the
// server's Retry-After when it gives one, else the backoff; a server asking for longer
// than MaxRetryWait is not waited for.
func (s *siteCrawl) retry(st *fetchState, r *colly.Response, status int, err error) bool {
	cfg := s.c.cfg
	if st.tries >= cfg.Retries || s.ctx.Err() != nil || (err == nil && !retryable(status)) {
		return false
	}
	wait := cfg.RetryBackoff << st.tries
	if r.Headers != nil {
		if ra, ok := retryAfter(r.Headers.Get("Retry-After"), s.c.Now()); ok {
			if ra > cfg.MaxRetryWait {
				return false
			}
			wait = max(wait, ra)
		}
	}
	wait = min(wait, cfg.MaxRetryWait)
	why := fmt.Sprintf("HTTP %d", status)
	if err != nil {
		why = err.Error()
	}
	s.c.Logger.Info("retrying page", "affiliate", s.aff.ID, "url", st.url, "after", wait, "attempt", st.tries+2, "why", why)
	select {
	case <-time.After(wait):
	case <-s.ctx.Done():
		return false
	}
	st.tries++
	st.chain, st.err = nil, nil
	// if the request cannot be made again, this attempt's outcome is recorded instead
	return s.col.Request(http.MethodGet, st.url, nil, r.Ctx, nil) == nil
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// emit hands a page over; dq is -1 when it ends a queued request, 0 for a page recorded
// without a request (refused by robots.txt, say).
func (s *siteCrawl) emit(snap affwatch.Snapshot, dq int) {
	defer s.progress(dq, &snap)
	if !snap.Page.FetchStatus.Verified() {
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

// ErrRedirectLoop is the error of a fetch whose redirects came back to a URL of their own
// chain; the page is recorded as redirect_loop.
var ErrRedirectLoop = errors.New("redirect loop")

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
	case errors.Is(err, ErrRedirectLoop):
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
	// a real page may mention captcha once; a challenge page is small and says little else
	need := 1
	if status == 200 {
		if len(body) >= 32<<10 {
			return false
		}
		need = 2
	}
	head := body
	if len(head) > 64<<10 {
		head = head[:64<<10]
	}
	hits := 0
	for _, m := range botWallMarkers {
		if bytes.Contains(head, m) {
			if hits++; hits >= need {
				return true
			}
		}
	}
	return false
}
