package chrome

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/crawler"
)

// layoutBudget is how long measuring may take in the page before the elements not yet
// measured are left without a layout (a page with thousands of links).
const layoutBudget = 3 * time.Second

// layoutScript measures the targets in one evaluation: it is called with the targets
// ({s: selector, t: words}) and the time budget in milliseconds, scrolls to the top and
// returns the window's size, the document's size and one layout (or null) per target.
//
// Visibility: an element is invisible when it has no layout box (display:none, inside a
// closed <details>: checkVisibility), visibility is not visible, its opacity (times its ancestors') is at
// most 0.05, its box is at most one pixel wide or high, it lies outside the document, or
// an ancestor cuts it off (overflow hidden or clip, clip: rect(0 0 0 0), clip-path
// inset(50%)). Contrast is WCAG 2.x's: (L1 + 0.05) / (L2 + 0.05) of the relative
// luminances of the text colour (blended over the background with its alpha and the
// opacity) and the background, which is the first opaque ancestor background with the
// translucent ones above it blended in, white at the bottom; an ancestor with a background
// image or gradient on the way makes it unknown.
const layoutScript = `((targets, budget) => {
  const start = performance.now();
  window.scrollTo(0, 0);
  const de = document.documentElement, body = document.body;
  const docW = Math.max(de.scrollWidth, body ? body.scrollWidth : 0, de.clientWidth);
  const docH = Math.max(de.scrollHeight, body ? body.scrollHeight : 0, de.clientHeight);
  const vw = de.clientWidth || window.innerWidth, vh = window.innerHeight;
  const sx = window.scrollX, sy = window.scrollY;
  const parse = (s) => {
    const m = /^rgba?\(([^)]*)\)$/.exec((s || "").trim());
    if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(parseFloat);
    if (p.length < 3 || p.some(isNaN)) return null;
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, a, bottom) => [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a));
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  const rgb = (c) => "rgb(" + c.slice(0, 3).map(Math.round).join(", ") + ")";
  const background = (el) => {
    const layers = [];
    for (let a = el; a && a.nodeType === 1; a = a.parentElement) {
      const cs = getComputedStyle(a);
      if (cs.backgroundImage && cs.backgroundImage !== "none") return null;
      const c = parse(cs.backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let bg = [255, 255, 255];
    for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], layers[i][3], bg);
    return bg;
  };
  const opacity = (el) => {
    let op = 1;
    for (let a = el; a && a.nodeType === 1; a = a.parentElement) op *= parseFloat(getComputedStyle(a).opacity);
    return op;
  };
  const zeroClip = /rect\(\s*0(px)?[\s,]+0(px)?[\s,]+0(px)?[\s,]+0(px)?\s*\)/;
  const hiddenBy = (el, r, op, inside) => {
    if (!el.isConnected || el.getClientRects().length === 0) return "display";
    if (el.checkVisibility && !el.checkVisibility()) return "display";
    if (getComputedStyle(el).visibility !== "visible") return "visibility";
    if (op <= 0.05) return "opacity";
    if (r.width <= 1 || r.height <= 1) return "size";
    let x0 = r.left + sx, y0 = r.top + sy, x1 = x0 + r.width, y1 = y0 + r.height;
    if (x1 <= 0 || y1 <= 0 || x0 >= docW || y0 >= docH) return "offscreen";
    for (let a = el; a && a !== de; a = a.parentElement) {
      const s = getComputedStyle(a);
      if ((s.position === "absolute" || s.position === "fixed") && s.clip && zeroClip.test(s.clip)) return "clipped";
      if (s.clipPath && /inset\(\s*50%|circle\(\s*0(px)?\s*(at|\))/.test(s.clipPath)) return "clipped";
      if ((a === el && !inside) || a === body) continue;
      const cx = s.overflowX === "hidden" || s.overflowX === "clip", cy = s.overflowY === "hidden" || s.overflowY === "clip";
      if (!cx && !cy) continue;
      const q = a.getBoundingClientRect();
      if (cx) { x0 = Math.max(x0, q.left + sx); x1 = Math.min(x1, q.right + sx); }
      if (cy) { y0 = Math.max(y0, q.top + sy); y1 = Math.min(y1, q.bottom + sy); }
      if (x1 - x0 <= 1 || y1 - y0 <= 1) return "clipped";
    }
    return "";
  };
  const esc = (w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const words = (el, text) => {
    const ws = (text || "").trim().split(/\s+/).filter(Boolean);
    if (!ws.length) return null;
    const re = new RegExp(ws.map(esc).join("\\s+"), "i");
    const w = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let n = w.nextNode(); n; n = w.nextNode()) {
      const m = re.exec(n.data);
      if (!m) continue;
      const range = document.createRange();
      range.setStart(n, m.index);
      range.setEnd(n, m.index + m[0].length);
      return {el: n.parentElement, rect: range.getBoundingClientRect()};
    }
    return null;
  };
  const measure = (t) => {
    let el = null;
    try { el = document.querySelector(t.s); } catch (e) {}
    if (!el) return {x: 0, y: 0, width: 0, height: 0, visible: false, hidden_by: "missing", font_size: 0, font_weight: 0, color: "", background: "", contrast: null};
    let styled = el, rect = el.getBoundingClientRect(), inside = false;
    const w = words(el, t.t);
    if (w && w.el) { styled = w.el; rect = w.rect; inside = true; }
    const cs = getComputedStyle(styled);
    const op = opacity(styled);
    const by = hiddenBy(styled, rect, op, inside);
    const fg = parse(cs.color), bg = background(styled);
    let contrast = null;
    if (fg && bg) {
      const f = over(fg, fg[3] * op, bg), l1 = lum(f), l2 = lum(bg);
      contrast = Math.round((Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05) * 100) / 100;
    }
    const r1 = (v) => Math.round(v * 10) / 10;
    return {x: r1(rect.left + sx), y: r1(rect.top + sy), width: r1(rect.width), height: r1(rect.height), visible: by === "", hidden_by: by,
      font_size: parseFloat(cs.fontSize) || 0, font_weight: parseInt(cs.fontWeight, 10) || 400,
      color: fg ? rgb(fg) : cs.color, background: bg ? rgb(bg) : "image", contrast: contrast};
  };
  const out = [];
  for (const t of targets) {
    out.push(performance.now() - start > budget ? null : measure(t));
  }
  return {viewportWidth: vw, viewportHeight: vh, docWidth: docW, docHeight: docH, layouts: out};
})`

// layoutResult is what layoutScript returns.
type layoutResult struct {
	ViewportWidth  float64            `json:"viewportWidth"`
	ViewportHeight float64            `json:"viewportHeight"`
	DocWidth       float64            `json:"docWidth"`
	DocHeight      float64            `json:"docHeight"`
	Layouts        []*affwatch.Layout `json:"layouts"`
}

// target is a crawler.Target as the script reads it.
type target struct {
	S string `json:"s"`
	T string `json:"t,omitempty"`
}

// measure runs layoutScript over the targets in the page.
func measure(ctx context.Context, targets []crawler.Target) (layoutResult, error) {
	ts := make([]target, len(targets))
	for i, t := range targets {
		ts[i] = target{S: t.Selector, T: t.Text}
	}
	arg, err := json.Marshal(ts)
	if err != nil {
		return layoutResult{}, err
	}
	expr := fmt.Sprintf("%s(%s, %d)", layoutScript, arg, layoutBudget.Milliseconds())
	res, err := chromedp.Run(ctx, chromedp.Evaluate[layoutResult](expr))
	if err != nil {
		return layoutResult{}, fmt.Errorf("measure the layout: %w", err)
	}
	if len(res.Layouts) != len(targets) {
		return layoutResult{}, fmt.Errorf("measure the layout: %d layouts for %d elements", len(res.Layouts), len(targets))
	}
	return res, nil
}

// screenshot captures the page from the top, the window's width and at most
// affwatch.MaxScreenshotHeight pixels of the document's height, as a PNG.
func screenshot(ctx context.Context, lr layoutResult) ([]byte, error) {
	w := max(1, lr.ViewportWidth)
	h := min(max(1, lr.DocHeight), affwatch.MaxScreenshotHeight)
	yes := true
	shot, err := chromedp.Call(ctx, page.CaptureScreenshot, page.CaptureScreenshotParams{
		Format:                page.CaptureScreenshotFormatPng,
		Clip:                  &page.Viewport{X: 0, Y: 0, Width: w, Height: h, Scale: 1},
		CaptureBeyondViewport: &yes,
		FromSurface:           &yes,
		OptimizeForSpeed:      &yes, // still lossless PNG, less compressed
	})
	if err != nil {
		return nil, fmt.Errorf("screenshot: %w", err)
	}
	return shot.Data, nil
}

// pose makes the tab look like the persona's browser: its user agent (in the requests and
// navigator.userAgent) and, for a phone, its screen and touch.
func pose(ctx context.Context, p *affwatch.Persona) error {
	if _, err := chromedp.Call(ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: p.Agent()}); err != nil {
		return fmt.Errorf("persona %s: %w", p.Name, err)
	}
	if !p.Mobile {
		return nil
	}
	if _, err := chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: 390, Height: 844, DeviceScaleFactor: 1, Mobile: true}); err != nil {
		return fmt.Errorf("persona %s: %w", p.Name, err)
	}
	if _, err := chromedp.Call(ctx, emulation.SetTouchEmulationEnabled, emulation.SetTouchEmulationEnabledParams{Enabled: true, MaxTouchPoints: 5}); err != nil {
		return fmt.Errorf("persona %s: %w", p.Name, err)
	}
	return nil
}

// unpose undoes pose: the browser's own user agent, its window, no touch.
func unpose(ctx context.Context, userAgent string) error {
	if _, err := chromedp.Call(ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: userAgent}); err != nil {
		return fmt.Errorf("undo the persona: %w", err)
	}
	if _, err := chromedp.Call(ctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{}); err != nil {
		return fmt.Errorf("undo the persona: %w", err)
	}
	if _, err := chromedp.Call(ctx, emulation.SetTouchEmulationEnabled, emulation.SetTouchEmulationEnabledParams{Enabled: false}); err != nil {
		return fmt.Errorf("undo the persona: %w", err)
	}
	return nil
}
