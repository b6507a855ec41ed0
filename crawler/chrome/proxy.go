package chrome

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/affwatch/affwatch/crawler"
)

// Resolver looks a host name up. The browser's proxy asks it once per host and page and
// dials only the addresses it checked, so a DNS server that answers a second lookup
// differently (DNS rebinding) has no second lookup to answer. net.DefaultResolver is one;
// tests give their own, so that no test asks a public DNS server.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// proxy is a slot's browser's only way to the network: Chromium is started with
// --proxy-server pointing at it (and --proxy-bypass-list=<-loopback>, so that loopback
// goes through it too). Every request the browser makes — the page's, its frames', its
// WebSockets', its service workers', the browser's own — arrives here as a plain HTTP
// request or a CONNECT, is resolved once, checked with the crawler's address guard
// (crawler.CheckAddress) and sent to the address checked. Between pages nothing goes out.
type proxy struct {
	ln        net.Listener
	srv       *http.Server
	resolver  Resolver
	forward   *httputil.ReverseProxy
	transport *http.Transport

	mu   sync.Mutex
	page *pageRules // nil between pages: every request is refused
	// blocked are the requests refused for the current page, in order.
	blocked []proxyBlock
	// tunnels are the open CONNECT tunnels, closed when the page ends, so that no tunnel
	// opened for one page serves the next.
	tunnels map[net.Conn]struct{}
}

// pageRules are what the current page may reach and the names it has resolved.
type pageRules struct {
	allowPrivate bool
	// allowed are the host:port pairs that may be private: the page's origin and
	// Config.AllowHosts.
	allowed map[string]bool
	// resolved are the answers of the page's lookups, one per host: every request of the
	// page to a host goes to the same, checked addresses.
	resolved map[string][]netip.Addr
}

// proxyBlock is a request the proxy refused: its URL (for plain HTTP) or, for a tunnel
// (https, wss), its host:port only.
type proxyBlock struct {
	HostPort string
	URL      string
}

// blockedHeader marks the proxy's own refusal of a plain HTTP request.
const blockedHeader = "X-Affwatch-Blocked"

type ctxKey struct{}

// startProxy listens on a loopback port.
func startProxy(resolver Resolver) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start the browser's proxy: %w", err)
	}
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	p := &proxy{ln: ln, resolver: resolver, tunnels: map[net.Conn]struct{}{}}
	p.transport = &http.Transport{
		Proxy:                 nil,
		DialContext:           p.dialChecked,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		DisableCompression:    true, // the browser asked for its own encodings
	}
	p.forward = &httputil.ReverseProxy{
		Rewrite:   func(*httputil.ProxyRequest) {}, // the request goes where it asked to go
		Transport: p.transport,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second, ErrorLog: nil}
	go p.srv.Serve(ln)
	return p, nil
}

// addr is the proxy's host:port, for --proxy-server.
func (p *proxy) addr() string { return p.ln.Addr().String() }

// close stops the proxy and every connection through it.
func (p *proxy) close() {
	p.endPage()
	p.srv.Close()
	p.transport.CloseIdleConnections()
}

// startPage lets the page at u (and what cfg allows) through from now on.
func (p *proxy) startPage(cfg Config, u *url.URL) {
	r := &pageRules{allowPrivate: cfg.AllowPrivate, allowed: map[string]bool{hostPort(u): true}, resolved: map[string][]netip.Addr{}}
	for _, h := range cfg.AllowHosts {
		r.allowed[strings.ToLower(h)] = true
	}
	p.mu.Lock()
	p.page, p.blocked = r, nil
	p.mu.Unlock()
}

// endPage refuses everything from now on, closes the page's tunnels and returns what
// was refused while it rendered.
func (p *proxy) endPage() []proxyBlock {
	p.mu.Lock()
	blocked := p.blocked
	p.page, p.blocked = nil, nil
	tunnels := p.tunnels
	p.tunnels = map[net.Conn]struct{}{}
	p.mu.Unlock()
	for c := range tunnels {
		c.Close()
	}
	p.transport.CloseIdleConnections()
	return blocked
}

// blockedSoFar returns what was refused for the current page so far.
func (p *proxy) blockedSoFar() []proxyBlock {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]proxyBlock(nil), p.blocked...)
}

// errRefused is a request the address guard refused.
var errRefused = errors.New("refused")

// check resolves hostport's host (once per page) and checks every address with the
// crawler's guard; it returns the addresses to dial, errRefused, or the lookup's error.
func (p *proxy) check(ctx context.Context, hostport string) ([]netip.Addr, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, fmt.Errorf("bad address %q", hostport)
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	hp := net.JoinHostPort(host, port)
	p.mu.Lock()
	rules := p.page
	var addrs []netip.Addr
	ok := false
	if rules != nil {
		addrs, ok = rules.resolved[host]
	}
	p.mu.Unlock()
	if rules == nil {
		return nil, errRefused
	}
	if !ok {
		if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
			addrs = []netip.Addr{ip}
		} else {
			lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			addrs, err = p.resolver.LookupNetIP(lctx, "ip", host)
			cancel()
			if err != nil {
				return nil, err
			}
			if len(addrs) == 0 {
				return nil, fmt.Errorf("no address for %s", host)
			}
		}
		p.mu.Lock()
		rules.resolved[host] = addrs
		p.mu.Unlock()
	}
	private := rules.allowPrivate && rules.allowed[hp]
	for _, ip := range addrs {
		if crawler.CheckAddress(ip, private) != nil {
			return nil, errRefused
		}
	}
	return addrs, nil
}

// refuse records a refused request.
func (p *proxy) refuse(hostport, rawURL string) {
	p.mu.Lock()
	if p.page != nil && len(p.blocked) < 4*1024 {
		p.blocked = append(p.blocked, proxyBlock{HostPort: strings.ToLower(hostport), URL: rawURL})
	}
	p.mu.Unlock()
}

// dial connects to one of the checked addresses.
func dial(ctx context.Context, addrs []netip.Addr, port string) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	var errs []error
	for _, ip := range addrs {
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// dialChecked is the forwarding transport's dialer: the addresses were checked before
// the request was forwarded and travel in its context.
func (p *proxy) dialChecked(ctx context.Context, network, address string) (net.Conn, error) {
	addrs, _ := ctx.Value(ctxKey{}).([]netip.Addr)
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%w: %s was not checked", crawler.ErrForbiddenAddress, address)
	}
	_, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	return dial(ctx, addrs, port)
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		p.tunnel(w, r)
		return
	}
	if !r.URL.IsAbs() || r.URL.Host == "" || (r.URL.Scheme != "http" && r.URL.Scheme != "ws") {
		http.Error(w, "affwatch's browser proxy forwards proxy requests only", http.StatusBadRequest)
		return
	}
	hp := hostPort(r.URL)
	addrs, err := p.check(r.Context(), hp)
	switch {
	case errors.Is(err, errRefused):
		p.refuse(hp, r.URL.String())
		w.Header().Set(blockedHeader, "address")
		http.Error(w, "refused by affwatch's address guard", http.StatusForbidden)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	p.forward.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, addrs)))
}

// tunnel answers a CONNECT (https, wss, and ws through a proxy): checked, then the
// bytes are copied both ways until either side closes or the page ends.
func (p *proxy) tunnel(w http.ResponseWriter, r *http.Request) {
	hp := r.Host
	if _, _, err := net.SplitHostPort(hp); err != nil {
		http.Error(w, "CONNECT needs host:port", http.StatusBadRequest)
		return
	}
	addrs, err := p.check(r.Context(), hp)
	switch {
	case errors.Is(err, errRefused):
		p.refuse(hp, "")
		http.Error(w, "refused by affwatch's address guard", http.StatusForbidden)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	_, port, _ := net.SplitHostPort(hp)
	up, err := dial(r.Context(), addrs, port)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		up.Close()
		http.Error(w, "no hijacking", http.StatusInternalServerError)
		return
	}
	down, rw, err := hj.Hijack()
	if err != nil {
		up.Close()
		return
	}
	if !p.track(down, up) {
		down.Close()
		up.Close()
		return
	}
	if _, err := down.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
		down.Close()
		up.Close()
		return
	}
	done := make(chan struct{}, 2)
	go func() {
		// What the browser sent after the CONNECT line and is already buffered goes first.
		if n := rw.Reader.Buffered(); n > 0 {
			b, _ := rw.Reader.Peek(n)
			up.Write(b)
		}
		io.Copy(up, down)
		done <- struct{}{}
	}()
	go func() { io.Copy(down, up); done <- struct{}{} }()
	<-done
	down.Close()
	up.Close()
	<-done
	p.untrack(down, up)
}

// track registers a tunnel's connections with the current page (false between pages).
func (p *proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.page == nil {
		return false
	}
	for _, c := range cs {
		p.tunnels[c] = struct{}{}
	}
	return true
}

func (p *proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.tunnels, c)
	}
}
