// Package chrome renders partner pages in Chromium (through chromedp) the way a reader's
// browser shows them: scripts run, lazy content scrolled into view, and every request the
// page makes recorded and passed through affwatch's address guard.
//
// A Browser is a bounded pool of tabs; each tab slot has a Chromium process of its own,
// started on first use with a fresh profile in a temporary directory, so that a crashed or
// hung page costs only its own browser: that browser is killed (with every process it
// started) and started again, and the page is tried once more before it is given up.
package chrome

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/affwatch/affwatch/crawler"
)

// DefaultExecPath is Debian's Chromium (apt-get install chromium).
const DefaultExecPath = "/usr/bin/chromium"

// ErrRenderFailed is the error of a page whose browser crashed or hung on both tries.
var ErrRenderFailed = errors.New("render failed")

// Config is how pages are rendered.
type Config struct {
	// ExecPath is the Chromium binary (default DefaultExecPath).
	ExecPath string
	// Tabs is how many pages are rendered at once (default 2), each in its own browser.
	Tabs int
	// Timeout is one page's budget (default 15 s): load, network quiet, a scroll to the
	// bottom and quiet again. A page still busy then is judged as it stands.
	Timeout time.Duration
	// Quiet is how long the network must be idle (no request in flight, none started,
	// answered or finished) after the load event for the page to count as settled
	// (default 30 ms); a page that keeps at most two requests hanging settles after
	// busyQuiet without any network event instead.
	Quiet time.Duration
	// TimerHorizon is how far past the load event the page's own timers are waited for
	// (default 1 s): a setTimeout due by then (a timed location.replace, an image built a
	// moment after load) runs before the page is judged; later ones, and polling loops,
	// do not hold the page.
	TimerHorizon time.Duration
	// Resolver looks up the hosts the browser asks for, in the browser's proxy (default
	// net.DefaultResolver).
	Resolver Resolver
	// ReadTimeout is how long reading the DOM may take after the budget (default 5 s): a
	// browser that cannot answer by then is hung.
	ReadTimeout time.Duration
	// MaxHTMLBytes caps the rendered DOM (default 5 MiB); a larger one fails the page.
	MaxHTMLBytes int
	// UserAgent is sent by the browser (default crawler.DefaultUserAgent).
	UserAgent string
	// AllowPrivate lets the browser reach loopback and private addresses, but only the
	// page's own origin (scheme, host and port of the page rendered) and AllowHosts
	// ("host:port"): a partner page cannot make the browser reach other services of the
	// machine. Metadata addresses (169.254.0.0/16, fd00:ec2::254) are always refused.
	AllowPrivate bool
	AllowHosts   []string
	// Logger hears about restarts and failed pages.
	Logger *slog.Logger
}

func (c *Config) defaults() {
	if c.ExecPath == "" {
		c.ExecPath = DefaultExecPath
	}
	if c.Tabs <= 0 {
		c.Tabs = 2
	}
	if c.Timeout <= 0 {
		c.Timeout = 15 * time.Second
	}
	if c.Quiet <= 0 {
		c.Quiet = 30 * time.Millisecond
	}
	if c.TimerHorizon <= 0 {
		c.TimerHorizon = time.Second
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 5 * time.Second
	}
	if c.MaxHTMLBytes <= 0 {
		c.MaxHTMLBytes = 5 << 20
	}
	if c.UserAgent == "" {
		c.UserAgent = crawler.DefaultUserAgent
	}
	if c.Logger == nil {
		c.Logger = slog.Default().With("component", "chrome")
	}
}

// Browser renders pages in a pool of Chromium tabs. It is safe for concurrent use.
type Browser struct {
	cfg   Config
	free  chan *slot
	slots []*slot

	mu     sync.Mutex
	closed bool
	// dirs are the profile directories of every browser started (for the tests).
	dirs []string
}

var _ crawler.Renderer = (*Browser)(nil)

// New returns a pool; no browser starts before the first page.
func New(cfg Config) *Browser {
	cfg.defaults()
	b := &Browser{cfg: cfg, free: make(chan *slot, cfg.Tabs)}
	for range cfg.Tabs {
		s := &slot{b: b}
		b.slots = append(b.slots, s)
		b.free <- s
	}
	return b
}

// Check reports whether the Chromium binary is there and runs, with a message that says
// how to install it when not.
func Check(execPath string) error {
	if execPath == "" {
		execPath = DefaultExecPath
	}
	if st, err := os.Stat(execPath); err != nil || st.IsDir() {
		return fmt.Errorf("chromium not found at %s (crawl.chromium_path): install it with `apt-get install chromium`", execPath)
	}
	return nil
}

// Close stops every browser, kills what they left and removes their profiles.
func (b *Browser) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	var errs []error
	for _, s := range b.slots {
		s.mu.Lock()
		errs = append(errs, s.kill())
		s.mu.Unlock()
	}
	return errors.Join(errs...)
}

// Render loads pageURL in a tab within the page budget and returns the rendered DOM and the
// requests the page made. A browser that crashes or hangs is killed and started again and
// the page tried once more (a page whose script never yields, in a browser that still
// answers, costs only its tab, closed and opened again); then the error wraps
// ErrRenderFailed.
func (b *Browser) Render(ctx context.Context, pageURL string, opt crawler.RenderOptions) (crawler.Rendered, error) {
	u, err := url.Parse(pageURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return crawler.Rendered{}, fmt.Errorf("%w: not an http(s) page: %q", ErrRenderFailed, pageURL)
	}
	var s *slot
	select {
	case s = <-b.free:
	case <-ctx.Done():
		return crawler.Rendered{}, ctx.Err()
	}
	defer func() { b.free <- s }()
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for try := range 2 {
		b.mu.Lock()
		closed := b.closed
		b.mu.Unlock()
		if closed {
			return crawler.Rendered{}, fmt.Errorf("%w: the browser pool is closed", ErrRenderFailed)
		}
		res, err := s.render(ctx, u, opt)
		if err == nil {
			return res, nil
		}
		// A page that hung while its browser still answers costs only its tab; for
		// anything else, this browser is not trusted with the next page.
		if ctx.Err() == nil && errors.Is(err, errPageHung) {
			cerr := s.closeTab()
			if cerr == nil {
				errs = append(errs, err)
				b.cfg.Logger.Warn("render failed; tab closed", "url", pageURL, "try", try+1, "err", err)
				continue
			}
			err = errors.Join(err, cerr)
		}
		s.kill()
		if ctx.Err() != nil {
			return crawler.Rendered{}, ctx.Err()
		}
		errs = append(errs, err)
		b.cfg.Logger.Warn("render failed; browser restarted", "url", pageURL, "try", try+1, "err", err)
	}
	return crawler.Rendered{}, fmt.Errorf("%w: %w", ErrRenderFailed, errors.Join(errs...))
}

// slot is one tab of the pool and the browser it runs in.
type slot struct {
	b  *Browser
	mu sync.Mutex // held while a page renders
	// allocCancel stops the browser process; bctx is the browser's chromedp context.
	allocCancel context.CancelFunc
	bcancel     context.CancelFunc
	bctx        context.Context
	dir         string
	// proxy is the browser's way out; tab its one tab, reused page after page.
	proxy *proxy
	tab   *tab
}

// startTimeout bounds a browser's start.
const startTimeout = 30 * time.Second

// start starts the slot's browser unless it runs; a scan stopping stops the wait.
func (s *slot) start(ctx context.Context) error {
	if s.bctx != nil && s.bctx.Err() == nil {
		return nil
	}
	s.kill()
	cfg := s.b.cfg
	dir, err := os.MkdirTemp("", "affwatch-chrome-")
	if err != nil {
		return fmt.Errorf("start chromium: %w", err)
	}
	s.b.mu.Lock()
	s.b.dirs = append(s.b.dirs, dir)
	s.b.mu.Unlock()
	s.dir = dir
	px, err := startProxy(cfg.Resolver)
	if err != nil {
		return err
	}
	s.proxy = px
	opts := append(browserFlags(cfg, dir),
		// Every request goes through the guarded proxy, loopback included (Chromium
		// bypasses proxies for loopback unless told <-loopback>), and Chromium resolves
		// no name itself: the proxy's check is on the address it dials.
		chromedp.ProxyServer("http://"+px.addr()),
		chromedp.Flag("proxy-bypass-list", "<-loopback>"),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	s.allocCancel, s.bcancel, s.bctx = acancel, bcancel, bctx
	done := make(chan error, 1)
	go func() {
		err := chromedp.Do(bctx) // starts the browser; its life is bctx's
		if err == nil {
			_, err = chromedp.CallBrowser(bctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{Behavior: browser.SetDownloadBehaviorBehaviorDeny})
		}
		done <- err
	}()
	select {
	case err = <-done:
	case <-time.After(startTimeout):
		err = fmt.Errorf("chromium did not start within %s", startTimeout)
	case <-ctx.Done():
		s.kill()
		return ctx.Err()
	}
	if err != nil {
		s.kill()
		if cerr := Check(cfg.ExecPath); cerr != nil {
			return cerr
		}
		return fmt.Errorf("start chromium: %w", err)
	}
	return nil
}

// browserFlags are the command line of every browser of the pool but its proxy: headless,
// a fresh profile in dir, nothing running in the background. (BenchmarkRender starts its
// anchor with the same.)
func browserFlags(cfg Config, dir string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(cfg.ExecPath),
		chromedp.UserDataDir(dir),
		chromedp.UserAgent(cfg.UserAgent),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // affwatch runs as root in containers; Chromium's sandbox needs a user namespace
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-client-side-phishing-detection", true),
		chromedp.Flag("safebrowsing-disable-auto-update", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		// Frames of other sites stay in the page's process, so the page's network events
		// and interception see their requests too.
		chromedp.Flag("disable-site-isolation-trials", true),
		chromedp.Flag("disable-features", "IsolateOrigins,site-per-process,Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("force-webrtc-ip-handling-policy", "disable_non_proxied_udp"),
		chromedp.Flag("dns-prefetch-disable", true),
	}
}

// kill stops the slot's browser at once, kills any process it left behind and removes its
// profile.
func (s *slot) kill() error {
	s.tab = nil
	if s.proxy != nil {
		s.proxy.close()
		s.proxy = nil
	}
	if s.allocCancel == nil {
		return nil
	}
	// The process first (a hung browser does not close gracefully), then the contexts.
	s.allocCancel()
	s.bcancel()
	s.allocCancel, s.bcancel, s.bctx = nil, nil, nil
	dir := s.dir
	s.dir = ""
	killLeftovers(dir)
	var err error
	for range 50 {
		if err = os.RemoveAll(dir); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("remove chromium profile %s: %w", dir, err)
}

// killLeftovers kills the processes started with dir as their profile: Chromium passes
// --user-data-dir to each of its children (zygote, renderers, network service), which can
// outlive the browser process. It looks again until it finds none three times running.
func killLeftovers(dir string) {
	if dir == "" {
		return
	}
	deadline := time.Now().Add(3 * time.Second)
	for quiet := 0; quiet < 3 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		pids := processesUsing(dir)
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		if len(pids) == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
}

// processesUsing lists the live processes whose command line has --user-data-dir=dir.
func processesUsing(dir string) []int {
	want := []byte("--user-data-dir=" + dir)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		for arg := range bytes.SplitSeq(cmd, []byte{0}) {
			if bytes.Equal(arg, want) {
				if !zombie(e.Name()) {
					pids = append(pids, pid)
				}
				break
			}
		}
	}
	return pids
}

// zombie reports whether a process has exited and waits only to be reaped.
func zombie(pid string) bool {
	st, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return true
	}
	if i := bytes.LastIndexByte(st, ')'); i >= 0 && i+2 < len(st) {
		return st[i+2] == 'Z' || st[i+2] == 'X'
	}
	return false
}

// hostPort is a URL's host:port, the port filled in from the scheme.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "https", "wss":
			port = "443"
		default:
			port = "80"
		}
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// schemeAllowed says whether the browser may load a document from raw: http(s) from the
// network (through the proxy), data and blob made in the browser; not file, ftp or
// anything else.
func schemeAllowed(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "http", "https", "ws", "wss", "data", "blob", "about":
		return true
	}
	return false
}
