package crawler

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"strings"

	"github.com/affwatch/affwatch"
)

// Renderer loads a page in a browser, runs its scripts, and reports the DOM it built and
// the requests it made. crawler/chrome implements it with Chromium.
type Renderer interface {
	Render(ctx context.Context, pageURL string) (Rendered, error)
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
	r, err := c.cfg.Renderer.Render(ctx, pageURL)
	if err != nil {
		return affwatch.Page{}, r, err
	}
	if r.FinalURL == "" {
		r.FinalURL = pageURL
	}
	page, err := Extract(r.HTML, r.FinalURL, ExtractOptions{Program: prog, FoldChars: c.cfg.FoldChars, MaxLinks: c.cfg.MaxLinks})
	if err != nil {
		return page, r, err
	}
	page.Rendered = true
	page.Requests = ClassifyRequests(r.Requests, &page, prog)
	page.RequestsDropped = r.RequestsDropped
	return page, r, nil
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
