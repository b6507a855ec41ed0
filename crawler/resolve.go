package crawler

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/temoto/robotstxt"

	"github.com/affwatch/affwatch"
)

// resolver follows affiliate click URLs through their HTTP redirects to the page a reader
// lands on. It asks each click once per crawler (the result is cached), obeys the click
// host's robots.txt, and goes through the same address guard and in-flight cap as pages.
// Asking a click URL may count as a click in the network's statistics: it is off unless
// configured, and the user agent names affwatch so networks can filter it.
type resolver struct {
	client *http.Client
	ua     string
	hops   int

	mu     sync.Mutex
	cache  map[string]resolved
	robots map[string]*robotstxt.RobotsData // by scheme://host; nil entry: none or unreadable
}

type resolved struct {
	landing string
	hops    int
}

func newResolver(rt http.RoundTripper, ua string, hops int, timeout time.Duration) *resolver {
	return &resolver{
		client: &http.Client{Transport: rt, Timeout: timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		ua: ua, hops: hops, cache: map[string]resolved{}, robots: map[string]*robotstxt.RobotsData{},
	}
}

// resolve returns where a click URL lands and after how many redirects; "" when it could
// not be followed (robots.txt, an error, too many hops).
func (r *resolver) resolve(ctx context.Context, raw string) resolved {
	r.mu.Lock()
	res, ok := r.cache[raw]
	r.mu.Unlock()
	if ok {
		return res
	}
	res = r.follow(ctx, raw)
	r.mu.Lock()
	r.cache[raw] = res
	r.mu.Unlock()
	return res
}

func (r *resolver) follow(ctx context.Context, raw string) resolved {
	cur, err := url.Parse(raw)
	if err != nil {
		return resolved{}
	}
	for hop := 0; hop <= r.hops; hop++ {
		if (cur.Scheme != "http" && cur.Scheme != "https") || !r.allowed(ctx, cur) {
			return resolved{}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, cur.String(), nil)
		if err != nil {
			return resolved{}
		}
		req.Header.Set("User-Agent", r.ua)
		resp, err := r.client.Do(req)
		if err != nil {
			return resolved{}
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode < 300 || resp.StatusCode > 399 || loc == "" {
			if resp.StatusCode >= 400 {
				return resolved{}
			}
			return resolved{landing: cur.String(), hops: hop}
		}
		next, err := cur.Parse(loc)
		if err != nil {
			return resolved{}
		}
		cur = next
	}
	return resolved{}
}

// allowed reads (once per host) and obeys the host's robots.txt for our user agent.
func (r *resolver) allowed(ctx context.Context, u *url.URL) bool {
	key := u.Scheme + "://" + u.Host
	r.mu.Lock()
	rd, ok := r.robots[key]
	r.mu.Unlock()
	if !ok {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, key+"/robots.txt", nil)
		if err == nil {
			req.Header.Set("User-Agent", r.ua)
			if resp, err := r.client.Do(req); err == nil {
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 512<<10))
				resp.Body.Close()
				rd, _ = robotstxt.FromStatusAndBytes(resp.StatusCode, body)
			}
		}
		r.mu.Lock()
		r.robots[key] = rd
		r.mu.Unlock()
	}
	if rd == nil {
		return true
	}
	path := u.EscapedPath()
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	return rd.TestAgent(path, r.ua)
}

// resolveLinks records, on each of the page's affiliate links (up to limit distinct click
// URLs), where the click lands.
func (c *Crawler) resolveLinks(ctx context.Context, p *affwatch.Page) {
	done := map[string]resolved{}
	for i := range p.Links {
		l := &p.Links[i]
		if l.Affiliate == nil {
			continue
		}
		res, ok := done[l.Href]
		if !ok {
			if len(done) >= c.cfg.ResolveLimit {
				continue
			}
			res = c.resolver.resolve(ctx, l.Href)
			done[l.Href] = res
		}
		if res.landing != "" && !strings.EqualFold(res.landing, l.Href) {
			l.Affiliate.Landing, l.Affiliate.Hops = res.landing, res.hops
		}
	}
}
