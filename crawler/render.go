package crawler

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"

	"github.com/affwatch/affwatch"
)

// Renderer loads a page in a browser, runs its scripts, and reports the DOM it built and
// the requests it made. crawler/chrome implements it with Chromium.
type Renderer interface {
	Render(ctx context.Context, pageURL string, opt RenderOptions) (Rendered, error)
}

// RenderOptions say what to take from a rendered page besides its DOM and requests.
type RenderOptions struct {
	// Locate, when set, is called with the rendered DOM (and the document's URL) while
	// the page is still open; it names the elements whose layout the browser measures
	// (Rendered.Layouts, in the same order). The crawler extracts the page there and asks
	// for its links and disclosures.
	Locate func(html []byte, finalURL string) []Target
	// Screenshot asks for a PNG of the page (Rendered.Screenshot).
	Screenshot bool
	// Persona, when set, is the reader the browser poses as (cloaking checks): its user
	// agent, the referrer it arrives from, a phone's screen.
	Persona *affwatch.Persona
}

// Target is an element to measure on a rendered page: the extractor's CSS selector of
// it and, for a disclosure, the words within it whose box and style count.
type Target struct {
	Selector string
	Text     string
}

// Rendered is what a browser made of a page.
type Rendered struct {
	// FinalURL is the address of the document judged (after the HTTP redirects of the
	// navigation); Status its HTTP status, when the browser saw one.
	FinalURL string
	Status   int
	// HTML is the rendered DOM (document.documentElement.outerHTML after the budget).
	HTML []byte
	// Requests are the requests the page made, in order, at most affwatch.MaxPageRequests
	// (the rest counted in RequestsDropped); their Affiliate and InPage are left for the
	// crawler to fill.
	Requests        []affwatch.PageRequest
	RequestsDropped int
	// Layouts are the measured elements RenderOptions.Locate named, in its order (nil
	// when it named none); ViewportHeight is the window's height in CSS pixels.
	Layouts        []*affwatch.Layout
	ViewportHeight int
	// Screenshot is the page as a PNG, full width, at most affwatch.MaxScreenshotHeight
	// pixels tall (when RenderOptions.Screenshot asked for it).
	Screenshot []byte
}

// ErrNoRenderer is the error of a page that was to be rendered when no browser is set up.
var ErrNoRenderer = errors.New("rendering asked for (crawl.render) but no browser is set up")

// renderMode is the mode for an affiliate's pages: the affiliate's, else its program's,
// else the crawler's.
func (c *Crawler) renderMode(aff affwatch.Affiliate, prog *affwatch.Program) affwatch.RenderMode {
	switch {
	case aff.Render != "":
		return aff.Render
	case prog != nil && prog.Render != "":
		return prog.Render
	case c.cfg.Render != "":
		return c.cfg.Render
	}
	return affwatch.RenderNever
}

// wantRender decides whether a statically fetched page is to be rendered. In auto mode:
// when its HTML has a <script> element and little for a reader (fewer than
// affwatch.AutoRenderWords words of visible text, or fewer than affwatch.AutoRenderLinks
// links), which is how a page built by script looks before its scripts run.
func wantRender(mode affwatch.RenderMode, body []byte, static *affwatch.Page) bool {
	switch mode {
	case affwatch.RenderAlways:
		return true
	case affwatch.RenderAuto:
		if !hasScript(body) {
			return false
		}
		return len(strings.Fields(static.Text)) < affwatch.AutoRenderWords || len(static.Links)+static.LinksDropped < affwatch.AutoRenderLinks
	}
	return false
}

// hasScript reports whether HTML has a <script element (any case).
func hasScript(body []byte) bool {
	const tag = "<script"
	for i := 0; ; {
		j := bytes.IndexByte(body[i:], '<')
		if j < 0 {
			return false
		}
		i += j
		if len(body)-i >= len(tag) && strings.EqualFold(string(body[i:i+len(tag)]), tag) {
			return true
		}
		i++
	}
}

// renderPage renders a page and extracts the rendered DOM exactly as a static page is
// extracted, with the page's requests classified for the program.
func (c *Crawler) renderPage(ctx context.Context, pageURL string, prog *affwatch.Program) (affwatch.Page, Rendered, error) {
	if c.cfg.Renderer == nil {
		return affwatch.Page{}, Rendered{}, ErrNoRenderer
	}
	return c.render(ctx, pageURL, prog, nil)
}

// render renders a page, as persona when one is given, and extracts it with the layout of
// its links and disclosures and its screenshot.
func (c *Crawler) render(ctx context.Context, pageURL string, prog *affwatch.Program, persona *affwatch.Persona) (affwatch.Page, Rendered, error) {
	opt := ExtractOptions{Program: prog, FoldChars: c.cfg.FoldChars, MaxLinks: c.cfg.MaxLinks}
	// The page is extracted while the browser still has it open, so that the elements the
	// extractor found are measured in the same DOM, by the selectors it gave them.
	var (
		page       affwatch.Page
		pageErr    error
		extractedN int
	)
	locate := func(html []byte, finalURL string) []Target {
		if finalURL == "" {
			finalURL = pageURL
		}
		page, pageErr = Extract(html, finalURL, opt)
		extractedN++
		if pageErr != nil {
			return nil
		}
		return Targets(&page)
	}
	// A persona's view is compared, not shown: it needs no screenshot.
	shot := !c.cfg.NoScreenshots && persona == nil
	r, err := c.cfg.Renderer.Render(ctx, pageURL, RenderOptions{Locate: locate, Screenshot: shot, Persona: persona})
	if err != nil {
		return affwatch.Page{}, r, err
	}
	if r.FinalURL == "" {
		r.FinalURL = pageURL
	}
	if extractedN == 0 {
		page, pageErr = Extract(r.HTML, r.FinalURL, opt)
	}
	if pageErr != nil {
		return page, r, pageErr
	}
	page.Rendered = true
	sum := sha256.Sum256(r.HTML)
	page.RenderedSHA256 = hex.EncodeToString(sum[:])
	page.Requests = ClassifyRequests(r.Requests, &page, prog)
	page.RequestsDropped = r.RequestsDropped
	ApplyLayouts(&page, r.Layouts)
	if r.ViewportHeight > 0 {
		vh := r.ViewportHeight
		page.ViewportHeight = &vh
	}
	if len(r.Screenshot) > 0 {
		sum = sha256.Sum256(r.Screenshot)
		page.Screenshot = hex.EncodeToString(sum[:])
	}
	return page, r, nil
}

// Targets are the elements of a page whose layout a browser measures: its links, then
// its disclosures (by the words of the disclosure phrase within their block).
func Targets(p *affwatch.Page) []Target {
	out := make([]Target, 0, len(p.Links)+len(p.Disclosures))
	for _, l := range p.Links {
		out = append(out, Target{Selector: l.Selector})
	}
	for _, d := range p.Disclosures {
		out = append(out, Target{Selector: d.Selector, Text: d.Phrase})
	}
	return out
}

// ApplyLayouts sets the layouts measured for Targets(p) on the page's links and
// disclosures (nil for one measured past the time budget); a list of another length (a
// renderer that measured nothing) sets none.
func ApplyLayouts(p *affwatch.Page, ls []*affwatch.Layout) {
	if len(ls) != len(p.Links)+len(p.Disclosures) {
		return
	}
	for i := range p.Links {
		p.Links[i].Layout = ls[i]
	}
	for i := range p.Disclosures {
		p.Disclosures[i].Layout = ls[len(p.Links)+i]
	}
}

// ClassifyRequests fills each request's affiliate classification and whether the rendered
// page's elements or markup redirects account for its URL (InPage).
func ClassifyRequests(reqs []affwatch.PageRequest, page *affwatch.Page, prog *affwatch.Program) []affwatch.PageRequest {
	inPage := map[string]bool{}
	for _, e := range page.Embeds {
		inPage[canonURL(e.Src)] = true
	}
	for _, r := range page.Redirects {
		if r.Kind != "http" {
			inPage[canonURL(r.To)] = true
		}
	}
	out := make([]affwatch.PageRequest, len(reqs))
	for i, r := range reqs {
		r.Affiliate = ClassifyForProgram(r.URL, prog)
		r.InPage = !r.Initial && inPage[canonURL(r.URL)]
		out[i] = r
	}
	return out
}

// canonURL is a URL in one spelling, so that the browser's form of a URL and the
// extractor's compare equal.
func canonURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return raw
	}
	u.Fragment = ""
	u.RawFragment = ""
	u.Host = strings.ToLower(u.Host)
	if (u.Scheme == "http" && u.Port() == "80") || (u.Scheme == "https" && u.Port() == "443") {
		u.Host = u.Hostname()
	}
	if u.Path == "" {
		u.Path = "/"
	}
	u.RawQuery = u.Query().Encode()
	return u.String()
}

// views renders the page once per cloaking persona of the program, as that reader would
// arrive, and keeps what each was shown. A persona's render that fails is recorded as
// such (it proves nothing either way); the page itself stays verified.
func (c *Crawler) views(ctx context.Context, pageURL string, prog *affwatch.Program) []affwatch.PageView {
	out := make([]affwatch.PageView, 0, len(prog.CloakingPersonas))
	for _, persona := range prog.CloakingPersonas {
		if c.cfg.Renderer == nil {
			out = append(out, affwatch.PageView{Persona: persona.Name, FinalURL: pageURL, FetchStatus: affwatch.FetchRenderFailed,
				FetchError: ErrNoRenderer.Error(), AffiliateLinks: []affwatch.ViewLink{}, Disclosures: []string{}})
			continue
		}
		p, r, err := c.render(ctx, pageURL, prog, &persona)
		if err != nil {
			out = append(out, affwatch.PageView{Persona: persona.Name, FinalURL: pageURL, FetchStatus: affwatch.FetchRenderFailed,
				FetchError: "render: " + err.Error(), AffiliateLinks: []affwatch.ViewLink{}, Disclosures: []string{}})
			continue
		}
		p.FetchStatus, p.FinalURL = affwatch.FetchOK, r.FinalURL
		out = append(out, affwatch.ViewOf(&p, persona))
	}
	return out
}
