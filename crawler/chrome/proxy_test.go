package chrome

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/crawler"
)

// guardPages serves the pages of the guard tests on loopback (their own origin, which
// the browser may reach with AllowPrivate): each reaches for the host:port in its
// ?admin= parameter in another way.
func guardPages(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	page := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<!doctype html><html><head><title>t</title></head><body><h1>Guard</h1><p>A page of the guard tests.</p>
<script>const admin = new URLSearchParams(location.search).get("admin");</script>%s</body></html>`, body)
		}
	}
	// A WebSocket to the admin port.
	mux.Handle("/ws.html", page(`<script>
  const ws = new WebSocket("ws://" + admin + "/ws");
  ws.onerror = () => {};
</script>`))
	// A service worker whose install fetches the admin port; the page waits (polling
	// with short timers, which affwatch waits for) until the worker has installed.
	mux.Handle("/sw.html", page(`<script>
  let reg = null, failed = false;
  navigator.serviceWorker.register("/sw.js?admin=" + encodeURIComponent(admin)).then((r) => { reg = r; },
    (err) => { failed = true; document.body.dataset.sw = "failed: " + err; });
  const poll = () => {
    if (reg && (reg.active || reg.waiting)) document.body.dataset.sw = "installed";
    else if (!failed) setTimeout(poll, 20);
  };
  poll();
</script>`))
	mux.HandleFunc("/sw.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprintf(w, `self.addEventListener("install", (e) => e.waitUntil(fetch("http://%s/sw").catch(() => {})));`, r.URL.Query().Get("admin"))
	})
	// A name the test's resolver answers (twice: an image and a fetch).
	mux.Handle("/names.html", page(`<script>
  new Image().src = "http://" + admin + "/pixel.gif";
  fetch("http://" + admin + "/api").catch(() => {});
</script>`))
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// admin is a loopback service a partner page must not reach; it counts what reaches it.
type admin struct {
	*httptest.Server
	hits  atomic.Int32
	mu    sync.Mutex
	paths []string
	hosts []string
}

func newAdmin(t *testing.T) *admin {
	a := &admin{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.hits.Add(1)
		a.mu.Lock()
		a.paths = append(a.paths, r.URL.Path)
		a.hosts = append(a.hosts, r.Host)
		a.mu.Unlock()
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *admin) hostPort() string { return strings.TrimPrefix(a.URL, "http://") }

// find returns the page's request to rawURL.
func find(res crawler.Rendered, rawURL string) (affwatch.PageRequest, bool) {
	for _, q := range res.Requests {
		if q.URL == rawURL {
			return q, true
		}
	}
	return affwatch.PageRequest{}, false
}

// A WebSocket is not seen by request interception; through the proxy it is checked like
// any request: to a loopback admin port it is refused and recorded, unless allowed.
func TestGuardCoversWebSockets(t *testing.T) {
	pages := guardPages(t)
	adm := newAdmin(t)
	pageURL := pages.URL + "/ws.html?admin=" + adm.hostPort()
	wsURL := "ws://" + adm.hostPort() + "/ws"

	res, err := shared.Render(context.Background(), pageURL, crawler.RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if q, ok := find(res, wsURL); !ok || q.Type != "websocket" || !q.Blocked || q.BlockedReason != "address" {
		t.Errorf("the WebSocket: %+v (found %v) in %+v", q, ok, res.Requests)
	}
	if n := adm.hits.Load(); n != 0 {
		t.Errorf("the admin port got %d requests", n)
	}

	cfg := testConfig()
	cfg.Tabs, cfg.AllowHosts = 1, []string{adm.hostPort()}
	b := New(cfg)
	defer b.Close()
	res, err = b.Render(context.Background(), pageURL, crawler.RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if q, ok := find(res, wsURL); !ok || q.Blocked {
		t.Errorf("the allowed WebSocket: %+v (found %v)", q, ok)
	}
	if n := adm.hits.Load(); n == 0 {
		t.Errorf("the allowed admin port got no request")
	}
}

// A service worker's requests are not the page's, and request interception on the page
// does not see them; the proxy does: the worker's fetch of the admin port is refused and
// recorded with the page. With the port allowed, the same worker reaches it (so the
// refusal is not the worker failing to run).
func TestGuardCoversServiceWorkers(t *testing.T) {
	pages := guardPages(t)
	adm := newAdmin(t)
	pageURL := pages.URL + "/sw.html?admin=" + adm.hostPort()
	swURL := "http://" + adm.hostPort() + "/sw"
	cfg := testConfig()
	// The page waits for the worker (its polling timers are waited for within the
	// horizon): room for a loaded machine.
	cfg.Tabs, cfg.Timeout, cfg.TimerHorizon = 1, 20*time.Second, 15*time.Second

	b := New(cfg)
	defer b.Close()
	res, err := b.Render(context.Background(), pageURL, crawler.RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(res.HTML), `data-sw="installed"`) {
		t.Fatalf("the service worker did not install: %.300s", res.HTML)
	}
	if q, ok := find(res, swURL); !ok || !q.Blocked || q.BlockedReason != "address" {
		t.Errorf("the worker's request: %+v (found %v) in %+v", q, ok, res.Requests)
	}
	if n := adm.hits.Load(); n != 0 {
		t.Errorf("the admin port got %d requests", n)
	}

	cfg.AllowHosts = []string{adm.hostPort()}
	ok := New(cfg)
	defer ok.Close()
	res, err = ok.Render(context.Background(), pageURL, crawler.RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(res.HTML), `data-sw="installed"`) {
		t.Fatalf("the service worker did not install: %.300s", res.HTML)
	}
	adm.mu.Lock()
	defer adm.mu.Unlock()
	if !containsString(adm.paths, "/sw") {
		t.Errorf("with the port allowed the worker's fetch did not arrive: %v", adm.paths)
	}
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// names is a test resolver: fixed answers, one list per lookup (the last one repeats),
// and a count of lookups. It never asks a DNS server.
type names struct {
	mu      sync.Mutex
	answers map[string][][]netip.Addr
	lookups map[string]int
}

func (n *names) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	as, ok := n.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	i := min(n.lookups[host], len(as)-1)
	n.lookups[host]++
	return as[i], nil
}

// A name that resolves to a private address is refused by the address it resolves to,
// whatever the name; and the address checked is the address dialled: a resolver that
// answers loopback first and the metadata address afterwards (DNS rebinding) is asked
// once per page, and both requests go to the loopback address checked. Chromium itself
// never resolves the name (it could not: only the test's resolver knows it).
func TestGuardChecksTheAddressItDials(t *testing.T) {
	pages := guardPages(t)
	adm := newAdmin(t)
	_, port, _ := net.SplitHostPort(adm.hostPort())
	name := "inside.affwatch.test:" + port
	loop, meta := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("169.254.169.254")
	pageURL := pages.URL + "/names.html?admin=" + name
	render := func(t *testing.T, allow []string) (crawler.Rendered, *names) {
		r := &names{answers: map[string][][]netip.Addr{"inside.affwatch.test": {{loop}, {meta}}}, lookups: map[string]int{}}
		cfg := testConfig()
		cfg.Tabs, cfg.AllowHosts, cfg.Resolver = 1, allow, r
		b := New(cfg)
		defer b.Close()
		res, err := b.Render(context.Background(), pageURL, crawler.RenderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return res, r
	}

	t.Run("refused", func(t *testing.T) {
		adm.hits.Store(0)
		res, _ := render(t, nil)
		for _, u := range []string{"http://" + name + "/pixel.gif", "http://" + name + "/api"} {
			if q, ok := find(res, u); !ok || !q.Blocked || q.BlockedReason != "address" {
				t.Errorf("%s: %+v (found %v)", u, q, ok)
			}
		}
		if n := adm.hits.Load(); n != 0 {
			t.Errorf("the admin port got %d requests", n)
		}
	})
	t.Run("allowed, rebinding", func(t *testing.T) {
		adm.hits.Store(0)
		res, r := render(t, []string{name})
		for _, u := range []string{"http://" + name + "/pixel.gif", "http://" + name + "/api"} {
			if q, ok := find(res, u); !ok || q.Blocked {
				t.Errorf("%s: %+v (found %v)", u, q, ok)
			}
		}
		if n := adm.hits.Load(); n != 2 {
			t.Errorf("the admin port got %d requests, want both", n)
		}
		if n := r.lookups["inside.affwatch.test"]; n != 1 {
			t.Errorf("%d lookups of the name in one page, want 1", n)
		}
		adm.mu.Lock()
		defer adm.mu.Unlock()
		for _, h := range adm.hosts {
			if h != name {
				t.Errorf("request arrived for host %q, want %q", h, name)
			}
		}
	})
}
