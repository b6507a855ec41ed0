package chrome

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/inspector"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/storage"
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
	navigated bool // the page's navigation was asked for
	// loader is the page's document loader (from the navigation's answer); loads and
	// dcls are the loaders whose load and DOMContentLoaded events came, so that the
	// events of the tab's previous document (about:blank) do not count.
	loader  cdp.LoaderID
	loads   map[cdp.LoaderID]bool
	dcls    map[cdp.LoaderID]bool
	crashed bool
	reqs    []affwatch.PageRequest
	ids     []network.RequestID // the network request id of each entry of reqs
	byID    map[network.RequestID]int
	blocked map[network.RequestID]string // blocked before requestWillBeSent was seen
	dropped int
	// started counts the requests (and WebSockets) the page started: a settled page
	// starts none while affwatch looks.
	started  int
	inflight map[network.RequestID]bool
	last     time.Time
	status   map[network.RequestID]int
	// navAsked is when the page asked to navigate its top-level document (zero when it
	// did not, or once that navigation was held): until then it is not settled.
	navAsked time.Time
	// origins are the origins the page's documents (top-level and frames) came from:
	// their storage is cleared before the tab's next page.
	origins map[string]bool
	// initial are the interception ids of the page's own navigation and its redirects;
	// initialNet is its network request id.
	initial    map[fetch.RequestID]bool
	initialNet network.RequestID
}

func newTabState(mainFrame cdp.FrameID) *tabState {
	return &tabState{mainFrame: mainFrame, byID: map[network.RequestID]int{}, blocked: map[network.RequestID]string{}, inflight: map[network.RequestID]bool{},
		status: map[network.RequestID]int{}, initial: map[fetch.RequestID]bool{}, origins: map[string]bool{}, last: time.Now(),
		loads: map[cdp.LoaderID]bool{}, dcls: map[cdp.LoaderID]bool{}}
}

// on handles one event of the tab, in arrival order. It runs in chromedp's reading loop:
// it only records.
func (t *tabState) on(ev any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		t.last = time.Now()
		if !t.inflight[e.RequestID] || e.RedirectResponse != nil {
			t.started++
		}
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
		if e.Type == network.ResourceTypeDocument {
			if u, err := url.Parse(e.Request.URL); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
				t.origins[u.Scheme+"://"+u.Host] = true
			}
		}
		if why, ok := t.blocked[e.RequestID]; ok {
			r.Blocked, r.BlockedReason = true, why
		}
		t.add(e.RequestID, r)
	case *network.EventWebSocketCreated:
		// A WebSocket is a request of the page like any other (its handshake goes
		// through the proxy, where the guard sees it); it is in flight until answered.
		t.last = time.Now()
		t.started++
		t.inflight[e.RequestID] = true
		r := affwatch.PageRequest{URL: clip(e.URL), Type: "websocket", Initiator: "other"}
		if e.Initiator != nil && e.Initiator.Type != "" {
			r.Initiator = strings.ToLower(string(e.Initiator.Type))
		}
		t.add(e.RequestID, r)
	case *network.EventWebSocketHandshakeResponseReceived:
		t.settled(e.RequestID)
	case *network.EventWebSocketClosed:
		t.settled(e.RequestID)
	case *network.EventWebSocketFrameError:
		t.settled(e.RequestID)
	case *network.EventResponseReceived:
		t.last = time.Now()
		if e.Type == network.ResourceTypeDocument && e.FrameID == t.mainFrame && e.Response != nil {
			t.status[e.RequestID] = int(e.Response.Status)
		}
	case *network.EventLoadingFinished:
		t.settled(e.RequestID)
	case *network.EventLoadingFailed:
		t.settled(e.RequestID)
	case *page.EventFrameRequestedNavigation:
		if t.navigated && e.FrameID == t.mainFrame {
			t.navAsked = time.Now()
		}
	case *page.EventLifecycleEvent:
		if e.FrameID == t.mainFrame {
			switch e.Name {
			case "load":
				t.loads[e.LoaderID] = true
			case "DOMContentLoaded":
				t.dcls[e.LoaderID] = true
			}
		}
	case *inspector.EventTargetCrashed:
		t.crashed = true
	}
}

// add appends a request within the cap (the caller holds mu).
// settled records that a request (or WebSocket) ended: it is no longer in flight, and the
// network's quiet time counts from now. The caller holds mu.
func (t *tabState) settled(id network.RequestID) {
	t.last = time.Now()
	delete(t.inflight, id)
}

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

// busyQuiet is how long a page with at most two requests hanging (a long poll, an image
// that never finishes) must go without any network event to count as settled.
const busyQuiet = 500 * time.Millisecond

// pollEvery is how often a render looks at its tab's state while it waits.
const pollEvery = 5 * time.Millisecond

// netState is a moment's view of a page's network.
type netState struct {
	crashed, loaded, dcl bool
	inflight, started    int
	sinceLast            time.Duration
	navAsked             time.Time
}

func (t *tabState) state() netState {
	t.mu.Lock()
	defer t.mu.Unlock()
	return netState{crashed: t.crashed, loaded: t.loader != "" && t.loads[t.loader], dcl: t.loader != "" && t.dcls[t.loader], inflight: len(t.inflight), started: t.started,
		sinceLast: time.Since(t.last), navAsked: t.navAsked}
}

// idle says whether the network has settled: nothing in flight and no event for quiet,
// or at most two requests hanging and no event for busyQuiet.
func (n netState) idle(quiet time.Duration) bool {
	return (n.inflight == 0 && n.sinceLast >= quiet) || (n.inflight <= 2 && n.sinceLast >= busyQuiet)
}

// tab is a slot's one tab, reused page after page (see resetTab for what is cleared
// between pages). Its events go to the page rendering now (cur).
type tab struct {
	ctx       context.Context
	cancel    context.CancelFunc
	mainFrame cdp.FrameID
	mu        sync.Mutex
	cur       *tabState
	// paused are the intercepted document requests waiting for a decision.
	paused []*fetch.EventRequestPaused
	wake   chan struct{}
	// posed is set while a persona's emulation is on.
	posed bool
}

func (tb *tab) current() *tabState {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.cur
}

func (tb *tab) setCurrent(t *tabState) {
	tb.mu.Lock()
	tb.cur = t
	tb.mu.Unlock()
}

// on hands an event to the page rendering now; intercepted requests are queued for the
// tab's interception loop.
func (tb *tab) on(ev any) {
	if e, ok := ev.(*fetch.EventRequestPaused); ok {
		tb.mu.Lock()
		tb.paused = append(tb.paused, e)
		tb.mu.Unlock()
		select {
		case tb.wake <- struct{}{}:
		default:
		}
		return
	}
	if t := tb.current(); t != nil {
		t.on(ev)
	}
}

// settleScript is installed in every document of the tab before its own scripts run. It
// keeps the page's pending setTimeout calls (with when each is due), so that affwatch can
// wait for a timer the page set to fire shortly after load (a timed location.replace, a
// stuffed image built a moment later), and it answers affwatch's question "settled?" in
// one evaluation: __affwatchSettle(horizon, scroll, dom) lets the page's queued tasks run
// (one task turn), then resolves to {wait} — the milliseconds until the next timer due
// within horizon ms of the load event (of the first question, on a page that never
// loads) — or, when none is due, scrolls a page taller than its window to the bottom if
// asked (for content that loads when it comes into view; two frames, at most 100 ms)
// and resolves to {wait: -1, scrolled} with the DOM as dom() reads it.
const settleScript = `(() => {
  if (window.__affwatchSettle) return;
  const due = new Map(), set = window.setTimeout, clear = window.clearTimeout, now = () => performance.now();
  const MC = window.MessageChannel, raf = window.requestAnimationFrame, assign = Object.assign;
  let loadAt = -1, anchor = -1;
  window.addEventListener("load", () => { loadAt = now(); });
  window.setTimeout = function (fn, ms, ...args) {
    const run = typeof fn === "function" ? fn : () => (0, eval)(String(fn));
    const id = set.call(window, function () { due.delete(id); return run.apply(this, args); }, ms);
    due.set(id, now() + Math.max(0, Number(ms) || 0));
    return id;
  };
  window.clearTimeout = function (id) { due.delete(id); return clear.call(window, id); };
  Object.defineProperty(window, "__affwatchSettle", {value: (horizon, scroll, dom) => new Promise((resolve) => {
    const answer = () => {
      if (anchor < 0) anchor = loadAt >= 0 ? loadAt : now();
      let next = -1;
      for (const t of due.values()) if (t <= anchor + horizon && (next < 0 || t < next)) next = t;
      if (next >= 0) { resolve({wait: Math.max(0, next - now())}); return; }
      const de = document.documentElement, body = document.body;
      const h = Math.max(de ? de.scrollHeight : 0, body ? body.scrollHeight : 0);
      if (!scroll || h <= window.innerHeight + 1) { resolve(assign({wait: -1, scrolled: false}, dom())); return; }
      window.scrollTo(0, h);
      let done = false;
      const end = () => { if (!done) { done = true; resolve(assign({wait: -1, scrolled: true}, dom())); } };
      raf.call(window, () => raf.call(window, end));
      set.call(window, end, 100);
    };
    const c = new MC();
    c.port1.onmessage = answer;
    c.port2.postMessage(0);
  })});
})();`

// domScript reads the rendered DOM, at most max characters of it, and then empties the
// main frame's session storage (the page is judged from what was read; see resetTab).
const domScript = `(() => {
  const h = document.documentElement ? document.documentElement.outerHTML : "";
  try { sessionStorage.clear(); } catch (e) {}
  if (h.length > %d) return {html: "", url: document.URL, tooLarge: true, length: h.length};
  return {html: "<!doctype html>" + h, url: document.URL, tooLarge: false, length: h.length};
})`

// settleResult is __affwatchSettle's answer.
type settleResult struct {
	Wait     float64 `json:"wait"`
	Scrolled bool    `json:"scrolled"`
	domResult
}

// openTab opens the slot's tab in a browser context of its own, with the events,
// interception and script it needs for every page.
func (s *slot) openTab() (*tab, error) {
	tctx, tcancel := chromedp.NewContext(s.bctx, chromedp.WithNewBrowserContext())
	tb := &tab{ctx: tctx, cancel: tcancel, wake: make(chan struct{}, 1)}
	fail := func(what string, err error) (*tab, error) {
		tcancel()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := chromedp.Do(tctx); err != nil { // opens the tab
		return fail("open tab", err)
	}
	if err := chromedp.Listen(tctx, tb.on); err != nil {
		return fail("listen", err)
	}
	tree, err := chromedp.Call(tctx, page.GetFrameTree, cdp.Empty{})
	if err != nil || tree.FrameTree == nil || tree.FrameTree.Frame == nil {
		return fail("frame tree", fmt.Errorf("%v", err))
	}
	tb.mainFrame = tree.FrameTree.Frame.ID
	for _, step := range []func() error{
		func() error { _, err := chromedp.Call(tctx, page.Enable, page.EnableParams{}); return err },
		func() error {
			_, err := chromedp.Call(tctx, page.SetLifecycleEventsEnabled, page.SetLifecycleEventsEnabledParams{Enabled: true})
			return err
		},
		func() error { _, err := chromedp.Call(tctx, network.Enable, network.EnableParams{}); return err },
		// The HTTP cache is off: a page (or a persona's view of it) is always the
		// server's answer of now, and every request it makes is made.
		func() error {
			_, err := chromedp.Call(tctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true})
			return err
		},
		// Documents only: the page's own navigation goes on, any other navigation of
		// the top-level document is held. Addresses are the proxy's.
		func() error {
			_, err := chromedp.Call(tctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
				{URLPattern: "*", ResourceType: network.ResourceTypeDocument, RequestStage: fetch.RequestStageRequest}}})
			return err
		},
		func() error {
			_, err := chromedp.Call(tctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: settleScript})
			return err
		},
	} {
		if err := step(); err != nil {
			return fail("set up tab", err)
		}
	}
	go tb.intercept()
	return tb, nil
}

// intercept decides each paused document request for as long as the tab lives: the
// page's own navigation (and its redirects) goes on, any other navigation of the
// top-level document is held (the page is judged as it was; the attempt is recorded), a
// document of a scheme other than http(s) is refused. Between pages nothing navigates.
func (tb *tab) intercept() {
	for {
		select {
		case <-tb.ctx.Done():
			return
		case <-tb.wake:
		}
		tb.mu.Lock()
		batch, t := tb.paused, tb.cur
		tb.paused = nil
		tb.mu.Unlock()
		for _, ev := range batch {
			why := ""
			switch {
			case ev.Request == nil:
			case !schemeAllowed(ev.Request.URL):
				why = "scheme"
			case ev.FrameID != tb.mainFrame:
			case t == nil:
				why = "navigation"
			default:
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
			if why == "" {
				chromedp.Call(tb.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
				continue
			}
			if t != nil {
				t.markBlocked(ev, why)
			}
			reason := network.ErrorReasonBlockedByClient
			if why == "navigation" {
				reason = network.ErrorReasonAborted // the current document stays
			}
			chromedp.Call(tb.ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: reason})
		}
	}
}

// markBlocked records that an intercepted request was refused.
func (t *tabState) markBlocked(ev *fetch.EventRequestPaused, why string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if why == "navigation" {
		t.navAsked = time.Time{} // held: the page stays as it is
	}
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

// markProxyBlocks records the requests the proxy refused: a request of the page to a
// refused host:port is blocked for its address; a refused request the page's network
// events do not show (a service worker's, the browser's own) is added.
func (t *tabState) markProxyBlocks(blocks []proxyBlock) {
	if len(blocks) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	refused := map[string]bool{}
	for _, b := range blocks {
		refused[b.HostPort] = true
	}
	seen := map[string]bool{}
	for i, r := range t.reqs {
		u, err := url.Parse(r.URL)
		if err != nil || u.Host == "" {
			continue
		}
		hp := hostPort(u)
		if refused[hp] {
			seen[hp] = true
			if !t.reqs[i].Blocked {
				t.reqs[i].Blocked, t.reqs[i].BlockedReason = true, "address"
			}
		}
	}
	for _, b := range blocks {
		if seen[b.HostPort] {
			continue
		}
		seen[b.HostPort] = true
		u := b.URL
		if u == "" {
			u = "https://" + b.HostPort + "/" // a tunnel: https or wss
		}
		t.add("", affwatch.PageRequest{URL: clip(u), Type: "other", Initiator: "other", Blocked: true, BlockedReason: "address"})
	}
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

// render renders one page in the slot's tab. Any error means the browser is not to be
// trusted with another page.
func (s *slot) render(ctx context.Context, u *url.URL, opt crawler.RenderOptions) (crawler.Rendered, error) {
	cfg := s.b.cfg
	if err := s.start(ctx); err != nil {
		return crawler.Rendered{}, err
	}
	// A watchdog: past the budget and the time to read the DOM (and a margin to open the
	// tab), the browser is hung; killing it ends every call below.
	hard := cfg.Timeout + cfg.ReadTimeout + 10*time.Second
	watch := time.AfterFunc(hard, s.allocCancel)
	defer watch.Stop()
	if s.tab == nil {
		type opened struct {
			tb  *tab
			err error
		}
		ch := make(chan opened, 1)
		go func() { tb, err := s.openTab(); ch <- opened{tb, err} }()
		select {
		case o := <-ch:
			if o.err != nil {
				return crawler.Rendered{}, o.err
			}
			s.tab = o.tb
		case <-ctx.Done():
			return crawler.Rendered{}, ctx.Err() // the browser is killed, and the tab with it
		}
	}
	tb := s.tab
	// pctx is the page's: it ends with the scan, not the tab.
	pctx, pcancel := context.WithCancel(tb.ctx)
	defer pcancel()
	stop := context.AfterFunc(ctx, pcancel)
	defer stop()

	if opt.Persona != nil {
		if err := pose(pctx, opt.Persona); err != nil {
			return crawler.Rendered{}, err
		}
		tb.posed = true
	}
	referrer := ""
	if opt.Persona != nil {
		referrer = opt.Persona.Referrer
	}

	t := newTabState(tb.mainFrame)
	s.proxy.startPage(cfg, u)
	tb.setCurrent(t)
	pageDone := false
	endPage := func() []proxyBlock {
		if pageDone {
			return nil
		}
		pageDone = true
		tb.setCurrent(nil)
		return s.proxy.endPage()
	}
	defer endPage()

	deadline := time.Now().Add(cfg.Timeout)
	nctx, ncancel := context.WithDeadline(pctx, deadline)
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
	t.mu.Lock()
	t.loader = nav.LoaderID
	t.mu.Unlock()
	refusedPage := func(where string) bool {
		w, err := url.Parse(where)
		if err != nil || w.Host == "" {
			return false
		}
		hp := hostPort(w)
		for _, b := range s.proxy.blockedSoFar() {
			if b.HostPort == hp {
				return true
			}
		}
		return false
	}
	if refusedPage(u.String()) {
		return crawler.Rendered{}, fmt.Errorf("%s: the address guard refused the page's address (%s)", u, crawler.ErrForbiddenAddress)
	}

	// The wait, all within the budget: the load event (or the DOM and an idle network),
	// then an idle network, no top-level navigation pending, and no timer of the page due
	// within TimerHorizon of its load; then, on a page taller than its window, a scroll
	// to the bottom, and the same wait again only if the scroll started requests. The
	// page's answer that it has settled carries its DOM.
	readDOM := fmt.Sprintf(domScript, cfg.MaxHTMLBytes)
	question := func(scroll bool) string {
		return fmt.Sprintf(`((dom) => window.__affwatchSettle ? window.__affwatchSettle(%d, %t, dom) : Object.assign({wait: -1, scrolled: false}, dom()))(%s)`,
			cfg.TimerHorizon.Milliseconds(), scroll, readDOM)
	}
	var dom *domResult
	scrolled := false
	for time.Now().Before(deadline) && ctx.Err() == nil {
		n := t.state()
		if n.crashed {
			break
		}
		// The question goes as soon as nothing is in flight; the quiet window runs
		// while it is answered.
		asked := n.inflight == 0 && (n.navAsked.IsZero() || time.Since(n.navAsked) >= busyQuiet)
		if !asked && !n.idle(cfg.Quiet) || (!n.loaded && !(n.dcl && n.idle(cfg.Quiet))) {
			time.Sleep(pollEvery)
			continue
		}
		ans, err := chromedp.Run(nctx, chromedp.Evaluate[settleResult](question(!scrolled), chromedp.EvalAwaitPromise))
		switch {
		case err != nil:
			time.Sleep(pollEvery) // the document changed under the question
			continue
		case ans.Wait >= 0:
			time.Sleep(max(pollEvery, min(time.Duration(ans.Wait)*time.Millisecond+time.Millisecond, 100*time.Millisecond)))
			continue
		}
		scrolled = scrolled || ans.Scrolled
		// Settled when the page started nothing since the question and the network
		// stays idle for the quiet window.
		for time.Now().Before(deadline) && t.state().started == n.started && !t.state().idle(cfg.Quiet) {
			time.Sleep(pollEvery)
		}
		if m := t.state(); m.started == n.started && m.idle(cfg.Quiet) && (m.navAsked.IsZero() || time.Since(m.navAsked) >= busyQuiet) {
			dom = &ans.domResult
			break
		}
	}
	if t.state().crashed {
		return crawler.Rendered{}, errors.New("the page's renderer crashed")
	}
	if ctx.Err() != nil {
		return crawler.Rendered{}, ctx.Err()
	}
	if dom == nil {
		// The budget is over: the page is judged as it stands.
		rctx, rcancel := context.WithTimeout(pctx, cfg.ReadTimeout)
		d, err := chromedp.Run(rctx, chromedp.Evaluate[domResult](readDOM+"()"))
		rcancel()
		if err != nil {
			if ctx.Err() != nil {
				return crawler.Rendered{}, ctx.Err()
			}
			return crawler.Rendered{}, fmt.Errorf("read the rendered DOM (the page did not answer within %s): %w: %w", cfg.ReadTimeout, errPageHung, err)
		}
		dom = &d
	}
	if dom.TooLarge {
		return crawler.Rendered{}, fmt.Errorf("rendered DOM of %d characters is larger than %d", dom.Length, cfg.MaxHTMLBytes)
	}
	if refusedPage(dom.URL) {
		return crawler.Rendered{}, fmt.Errorf("%s: the address guard refused the address of the page shown (%s, %s)", u, dom.URL, crawler.ErrForbiddenAddress)
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
		mctx, mcancel := context.WithTimeout(pctx, cfg.ReadTimeout+layoutBudget)
		lr, err = measure(mctx, targets)
		mcancel()
		if err != nil {
			if ctx.Err() != nil {
				return crawler.Rendered{}, ctx.Err()
			}
			return crawler.Rendered{}, err
		}
		if opt.Screenshot {
			sctx, scancel := context.WithTimeout(pctx, max(2*cfg.ReadTimeout, 10*time.Second))
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

	// The page ends here: nothing it does from now on goes out or counts.
	t.markProxyBlocks(endPage())
	t.mu.Lock()
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
	origins := t.origins
	t.mu.Unlock()
	if err := s.resetTab(tb, origins); err != nil {
		// The page is rendered; the tab is not fit for the next one.
		s.b.cfg.Logger.Warn("reset tab failed; browser restarted", "url", u.String(), "err", err)
		s.kill()
	}
	return res, nil
}

// errPageHung marks a render that failed because the page's scripts never let it answer
// (a script that never yields) while the browser itself still answers: closing the tab
// is enough (see closeTab).
var errPageHung = errors.New("the page hung")

// closeTab closes the slot's tab after its page hung: the target and its browser context
// go, and with them the renderer process of its pages; the browser stays for the next
// tab. An error means the browser did not answer either, and is to be killed.
func (s *slot) closeTab() error {
	tb := s.tab
	s.tab = nil
	if tb == nil || s.bctx == nil || s.bctx.Err() != nil {
		return errors.New("no browser to keep")
	}
	tb.cancel() // closes the target and disposes of its browser context, bounded by chromedp
	if err := chromedp.Cancel(tb.ctx); err != nil {
		return fmt.Errorf("close the hung tab: %w", err)
	}
	ctx, cancel := context.WithTimeout(s.bctx, s.b.cfg.ReadTimeout)
	defer cancel()
	if _, err := chromedp.CallBrowser(ctx, browser.GetVersion, cdp.Empty{}); err != nil {
		return fmt.Errorf("the browser did not answer after its hung tab closed: %w", err)
	}
	return nil
}

// resetTab makes the tab fit for the next page: the page's scripts stop (about:blank),
// the main frame's session storage is emptied, every cookie of the tab's browser context
// goes, and so do the local storage, IndexedDB, cache storage and service workers of
// every origin the page's documents came from; a persona's emulation is undone. (The HTTP
// cache is off for the tab.) So no page sees what an earlier one stored: a cloaking
// server cannot tell a second view by its cookie, and a stuffed cookie proves nothing
// about the next page.
func (s *slot) resetTab(tb *tab, origins map[string]bool) error {
	ctx, cancel := context.WithTimeout(tb.ctx, s.b.cfg.ReadTimeout)
	defer cancel()
	// The document and the browser context's state (cookies, each origin's storage) go
	// at once.
	var wg sync.WaitGroup
	errs := make([]error, 2+len(origins))
	wg.Add(2 + len(origins))
	go func() {
		defer wg.Done()
		if _, err := chromedp.Call(ctx, page.Navigate, page.NavigateParams{URL: "about:blank"}); err != nil {
			errs[0] = fmt.Errorf("navigate to about:blank: %w", err)
		}
	}()
	go func() {
		defer wg.Done()
		if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
			errs[1] = fmt.Errorf("clear cookies: %w", err)
		}
	}()
	i := 2
	for o := range origins {
		go func(i int) {
			defer wg.Done()
			if _, err := chromedp.Call(ctx, storage.ClearDataForOrigin, storage.ClearDataForOriginParams{Origin: o,
				StorageTypes: "local_storage,indexeddb,cache_storage,service_workers,file_systems,websql,shared_storage,storage_buckets"}); err != nil {
				errs[i] = fmt.Errorf("clear the storage of %s: %w", o, err)
			}
		}(i)
		i++
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if tb.posed {
		if err := unpose(ctx, s.b.cfg.UserAgent); err != nil {
			return err
		}
		tb.posed = false
	}
	return nil
}
