package chrome

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/inspector"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/crawler"
)

// maxURL caps the length of a URL kept in a page's requests.
const maxURL = 4096

// tabState is what one page's render has seen: its requests, whether the network is
// quiet, and the events that end the wait.
type tabState struct {
	mu        sync.Mutex
	mainFrame cdp.FrameID
	navigated bool // the page's navigation was asked for: load events count from now on
	loaded    bool
	dcl       bool
	crashed   bool
	reqs      []affwatch.PageRequest
	ids       []network.RequestID // the network request id of each entry of reqs
	byID      map[network.RequestID]int
	blocked   map[network.RequestID]string // blocked before requestWillBeSent was seen
	dropped   int
	inflight  map[network.RequestID]bool
	last      time.Time
	status    map[network.RequestID]int
	// paused are the intercepted requests waiting for a decision.
	paused []*fetch.EventRequestPaused
	wake   chan struct{}
	// initial are the interception ids of the page's own navigation and its redirects;
	// initialNet is its network request id.
	initial    map[fetch.RequestID]bool
	initialNet network.RequestID
}

func newTabState() *tabState {
	return &tabState{byID: map[network.RequestID]int{}, blocked: map[network.RequestID]string{}, inflight: map[network.RequestID]bool{},
		status: map[network.RequestID]int{}, wake: make(chan struct{}, 1), initial: map[fetch.RequestID]bool{}, last: time.Now()}
}

// on handles one event of the tab, in arrival order. It runs in chromedp's reading loop:
// it only records.
func (t *tabState) on(ev any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		t.last = time.Now()
		t.inflight[e.RequestID] = true
		if e.Request == nil {
			return
		}
		r := affwatch.PageRequest{URL: clip(e.Request.URL + e.Request.URLFragment), Type: strings.ToLower(string(e.Type)), Initiator: "other"}
		if r.Type == "" {
			r.Type = "other"
		}
		if e.Initiator != nil && e.Initiator.Type != "" {
			r.Initiator = strings.ToLower(string(e.Initiator.Type))
		}
		if e.RedirectResponse != nil {
			r.Initiator = "redirect"
		}
		r.Navigation = e.Type == network.ResourceTypeDocument && e.FrameID == t.mainFrame
		if why, ok := t.blocked[e.RequestID]; ok {
			r.Blocked, r.BlockedReason = true, why
		}
		t.add(e.RequestID, r)
	case *network.EventResponseReceived:
		t.last = time.Now()
		if e.Type == network.ResourceTypeDocument && e.FrameID == t.mainFrame && e.Response != nil {
			t.status[e.RequestID] = int(e.Response.Status)
		}
	case *network.EventLoadingFinished:
		t.last = time.Now()
		delete(t.inflight, e.RequestID)
	case *network.EventLoadingFailed:
		t.last = time.Now()
		delete(t.inflight, e.RequestID)
	case *page.EventLoadEventFired:
		if t.navigated {
			t.loaded = true
		}
	case *page.EventDomContentEventFired:
		if t.navigated {
			t.dcl = true
		}
	case *inspector.EventTargetCrashed:
		t.crashed = true
	case *fetch.EventRequestPaused:
		t.paused = append(t.paused, e)
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
}

// add appends a request within the cap (the caller holds mu).
func (t *tabState) add(id network.RequestID, r affwatch.PageRequest) {
	if len(t.reqs) >= affwatch.MaxPageRequests {
		t.dropped++
		return
	}
	t.reqs = append(t.reqs, r)
	t.ids = append(t.ids, id)
	if id != "" {
		t.byID[id] = len(t.reqs) - 1
	}
}

func clip(s string) string {
	if len(s) > maxURL {
		return s[:maxURL]
	}
	return s
}

// quiet reports whether the network has settled: at most two requests in flight and
// none new for d.
func (t *tabState) quiet(d time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.inflight) <= 2 && time.Since(t.last) >= d
}

// intercept decides each paused request: the page's own navigation (and its redirects)
// goes on, any other navigation of the top-level document is held (the page is judged as
// it was; the attempt is recorded), and every request passes the address guard.
func (s *slot) intercept(ctx context.Context, t *tabState, g *guard) {
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.wake:
		}
		t.mu.Lock()
		batch := t.paused
		t.paused = nil
		t.mu.Unlock()
		for _, ev := range batch {
			why := ""
			if ev.Request != nil && ev.ResourceType == network.ResourceTypeDocument && ev.FrameID == t.mainFrame {
				t.mu.Lock()
				switch {
				case len(t.initial) == 0 && t.navigated:
					t.initial[ev.RequestID], t.initialNet = true, ev.NetworkID
				case t.initial[ev.RedirectedRequestID] || (ev.NetworkID != "" && ev.NetworkID == t.initialNet):
					t.initial[ev.RequestID] = true
				default:
					why = "navigation"
				}
				t.mu.Unlock()
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if why == "" && ev.Request != nil {
					why = g.check(ctx, ev.Request.URL)
				}
				if why == "" {
					chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
					return
				}
				t.markBlocked(ev, why)
				reason := network.ErrorReasonBlockedByClient
				if why == "navigation" {
					reason = network.ErrorReasonAborted // the current document stays
				}
				chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: reason})
			}()
		}
	}
}

// markBlocked records that an intercepted request was refused.
func (t *tabState) markBlocked(ev *fetch.EventRequestPaused, why string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ev.NetworkID != "" {
		if i, ok := t.byID[ev.NetworkID]; ok && t.reqs[i].URL == clip(ev.Request.URL+ev.Request.URLFragment) {
			t.reqs[i].Blocked, t.reqs[i].BlockedReason = true, why
			return
		}
		if _, ok := t.byID[ev.NetworkID]; !ok {
			t.blocked[ev.NetworkID] = why
			return
		}
	}
	// No network event names it: record it from the interception.
	r := affwatch.PageRequest{URL: clip(ev.Request.URL + ev.Request.URLFragment), Type: strings.ToLower(string(ev.ResourceType)), Initiator: "other",
		Navigation: ev.ResourceType == network.ResourceTypeDocument && ev.FrameID == t.mainFrame, Blocked: true, BlockedReason: why}
	t.add("", r)
}

// navigateParams asks for the page, arriving from referrer when there is one: sent as
// given (referrer policy unsafe-url), whatever the schemes, as a link followed from it.
func navigateParams(pageURL, referrer string) page.NavigateParams {
	p := page.NavigateParams{URL: pageURL}
	if referrer != "" {
		p.Referrer, p.ReferrerPolicy, p.TransitionType = referrer, page.ReferrerPolicyUnsafeURL, page.TransitionTypeLink
	}
	return p
}

// domResult is what the page's script hands back at the end.
type domResult struct {
	HTML     string `json:"html"`
	URL      string `json:"url"`
	TooLarge bool   `json:"tooLarge"`
	Length   int    `json:"length"`
}

// render renders one page in the slot's browser. Any error means the browser is not to
// be trusted with another page.
func (s *slot) render(ctx context.Context, u *url.URL, opt crawler.RenderOptions) (crawler.Rendered, error) {
	cfg := s.b.cfg
	if err := s.start(); err != nil {
		return crawler.Rendered{}, err
	}
	// A watchdog: past the budget and the time to read the DOM (and a margin to open the
	// tab), the browser is hung; killing it ends every call below.
	hard := cfg.Timeout + cfg.ReadTimeout + 10*time.Second
	bctx := s.bctx
	watch := time.AfterFunc(hard, s.allocCancel)
	defer watch.Stop()

	tctx, tcancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	defer tcancel()
	stop := context.AfterFunc(ctx, tcancel) // the scan is stopping
	defer stop()

	t := newTabState()
	if err := chromedp.Do(tctx); err != nil { // opens the tab
		return crawler.Rendered{}, fmt.Errorf("open tab: %w", err)
	}
	if err := chromedp.Listen(tctx, t.on); err != nil {
		return crawler.Rendered{}, fmt.Errorf("listen: %w", err)
	}
	tree, err := chromedp.Call(tctx, page.GetFrameTree, cdp.Empty{})
	if err != nil || tree.FrameTree == nil || tree.FrameTree.Frame == nil {
		return crawler.Rendered{}, fmt.Errorf("frame tree: %v", err)
	}
	t.mu.Lock()
	t.mainFrame = tree.FrameTree.Frame.ID
	t.mu.Unlock()
	for _, step := range []func() error{
		func() error { _, err := chromedp.Call(tctx, page.Enable, page.EnableParams{}); return err },
		func() error { _, err := chromedp.Call(tctx, network.Enable, network.EnableParams{}); return err },
		func() error {
			_, err := chromedp.Call(tctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*", RequestStage: fetch.RequestStageRequest}}})
			return err
		},
	} {
		if err := step(); err != nil {
			return crawler.Rendered{}, fmt.Errorf("set up tab: %w", err)
		}
	}
	referrer := ""
	if opt.Persona != nil {
		if err := pose(tctx, opt.Persona); err != nil {
			return crawler.Rendered{}, err
		}
		referrer = opt.Persona.Referrer
	}
	g := newGuard(cfg, u)
	ictx, icancel := context.WithCancel(tctx)
	idone := make(chan struct{})
	go func() { defer close(idone); s.intercept(ictx, t, g) }()
	defer func() { icancel(); <-idone }()

	deadline := time.Now().Add(cfg.Timeout)
	nctx, ncancel := context.WithDeadline(tctx, deadline)
	defer ncancel()
	t.mu.Lock()
	t.navigated = true
	t.mu.Unlock()
	nav, err := chromedp.Call(nctx, page.Navigate, navigateParams(u.String(), referrer))
	switch {
	case err != nil && ctx.Err() != nil:
		return crawler.Rendered{}, ctx.Err()
	case err != nil && errors.Is(err, context.DeadlineExceeded):
		// No answer within the budget: read whatever there is below.
	case err != nil:
		return crawler.Rendered{}, fmt.Errorf("navigate: %w", err)
	case nav.ErrorText != "":
		return crawler.Rendered{}, fmt.Errorf("navigate: %s", nav.ErrorText)
	}

	// Load (or the DOM and a quiet network), quiet, one scroll to the bottom for lazy
	// content, quiet again: all within the budget.
	wait := func(ready func() bool) {
		for time.Now().Before(deadline) && ctx.Err() == nil {
			t.mu.Lock()
			crashed := t.crashed
			t.mu.Unlock()
			if crashed || ready() {
				return
			}
			time.Sleep(25 * time.Millisecond)
		}
	}
	wait(func() bool {
		t.mu.Lock()
		loaded, dcl := t.loaded, t.dcl
		t.mu.Unlock()
		return loaded || (dcl && t.quiet(cfg.Quiet))
	})
	wait(func() bool { return t.quiet(cfg.Quiet) })
	if time.Now().Before(deadline) {
		chromedp.Do(nctx, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, Math.max(document.documentElement ? document.documentElement.scrollHeight : 0, document.body ? document.body.scrollHeight : 0))`))
		t.mu.Lock()
		t.last = time.Now()
		t.mu.Unlock()
		wait(func() bool { return t.quiet(cfg.Quiet) })
	}
	t.mu.Lock()
	crashed := t.crashed
	t.mu.Unlock()
	if crashed {
		return crawler.Rendered{}, errors.New("the page's renderer crashed")
	}
	if ctx.Err() != nil {
		return crawler.Rendered{}, ctx.Err()
	}

	rctx, rcancel := context.WithTimeout(tctx, cfg.ReadTimeout)
	defer rcancel()
	dom, err := chromedp.Run(rctx, chromedp.Evaluate[domResult](fmt.Sprintf(`(() => {
		const h = document.documentElement ? document.documentElement.outerHTML : "";
		if (h.length > %d) return {html: "", url: document.URL, tooLarge: true, length: h.length};
		return {html: "<!doctype html>" + h, url: document.URL, tooLarge: false, length: h.length};
	})()`, cfg.MaxHTMLBytes)))
	if err != nil {
		if ctx.Err() != nil {
			return crawler.Rendered{}, ctx.Err()
		}
		return crawler.Rendered{}, fmt.Errorf("read the rendered DOM (the page did not answer within %s): %w", cfg.ReadTimeout, err)
	}
	if dom.TooLarge {
		return crawler.Rendered{}, fmt.Errorf("rendered DOM of %d characters is larger than %d", dom.Length, cfg.MaxHTMLBytes)
	}

	// The extractor's elements measured in the same DOM, then the screenshot: after the
	// page budget, so they show the page as it was judged.
	var lr layoutResult
	var shot []byte
	if opt.Locate != nil || opt.Screenshot {
		var targets []crawler.Target
		if opt.Locate != nil {
			targets = opt.Locate([]byte(dom.HTML), dom.URL)
		}
		mctx, mcancel := context.WithTimeout(tctx, cfg.ReadTimeout+layoutBudget)
		lr, err = measure(mctx, targets)
		mcancel()
		if err != nil {
			if ctx.Err() != nil {
				return crawler.Rendered{}, ctx.Err()
			}
			return crawler.Rendered{}, err
		}
		if opt.Screenshot {
			sctx, scancel := context.WithTimeout(tctx, 2*cfg.ReadTimeout)
			shot, err = screenshot(sctx, lr)
			scancel()
			if err != nil {
				if ctx.Err() != nil {
					return crawler.Rendered{}, ctx.Err()
				}
				return crawler.Rendered{}, err
			}
		}
	}

	// Stop the interception, then take the record.
	icancel()
	<-idone
	t.mu.Lock()
	defer t.mu.Unlock()
	res := crawler.Rendered{FinalURL: dom.URL, HTML: []byte(dom.HTML), RequestsDropped: t.dropped,
		Layouts: lr.Layouts, ViewportHeight: int(lr.ViewportHeight), Screenshot: shot}
	if nav.LoaderID != "" {
		res.Status = t.status[network.RequestID(nav.LoaderID)]
	}
	res.Requests = make([]affwatch.PageRequest, len(t.reqs))
	for i, r := range t.reqs {
		id := t.ids[i]
		r.Initial = r.Navigation && id != "" && (id == network.RequestID(nav.LoaderID) || id == t.initialNet)
		res.Requests[i] = r
	}
	return res, nil
}
