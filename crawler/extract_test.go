package crawler_test

import (
	"strings"
	"testing"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/crawler"
)

func TestExtractSeesWhatAReaderSees(t *testing.T) {
	html := `<html lang="en"><head><title> Deals </title>
<style>.gone { display: none } #far { position: absolute; left: -9999px }</style>
<meta http-equiv="refresh" content="5; url=https://www.anrdoezrs.net/click-111-222">
</head><body>
<h1>Best deals</h1>
<p>Great grinder: <a href="https://www.amazon.com/dp/B0?tag=me-20" rel="sponsored nofollow">buy it</a> for $49.99.</p>
<div class="gone"><p>We earn a commission on purchases.</p></div>
<p id="far">hidden far away</p>
<p hidden>hidden by attribute</p>
<img src="https://www.awin1.com/cread.php?awinmid=1&awinaffid=42" width="1" height="1">
<iframe src="https://www.googletagmanager.com/ns.html?id=GTM-X" style="display:none;visibility:hidden" height="0" width="0"></iframe>
<p>Disclosure: this post contains affiliate links. Use code SAVE20 today.</p>
<script>if (x) { window.location.href = "https://click.linksynergy.com/deeplink?id=abc&mid=1"; }</script>
</body></html>`
	p, err := crawler.Extract([]byte(html), "https://blog.example/deals", crawler.ExtractOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Title != "Deals" || p.Lang != "en" {
		t.Errorf("title %q lang %q", p.Title, p.Lang)
	}
	for _, hidden := range []string{"We earn a commission", "hidden far away", "hidden by attribute"} {
		if strings.Contains(p.Text, hidden) {
			t.Errorf("visible text contains hidden %q", hidden)
		}
	}
	if len(p.Links) != 1 || p.Links[0].Affiliate == nil || p.Links[0].Affiliate.Network != "amazon" || p.Links[0].Affiliate.AffiliateID != "me-20" {
		t.Fatalf("links: %+v", p.Links)
	}
	if l := p.Links[0]; strings.Join(l.Rel, ",") != "sponsored,nofollow" || !strings.HasPrefix(string([]rune(p.Text)[l.Offset:]), "buy it") {
		t.Errorf("link rel %v, offset %d points at %q", l.Rel, l.Offset, string([]rune(p.Text)[l.Offset:]))
	}
	if len(p.Disclosures) != 2 {
		t.Fatalf("disclosures: %+v", p.Disclosures)
	}
	if !p.Disclosures[0].Hidden || p.Disclosures[1].Hidden || p.Disclosures[1].Offset <= p.Links[0].Offset {
		t.Errorf("disclosures: %+v", p.Disclosures)
	}
	var pixel, gtm *affwatch.Embed
	for i := range p.Embeds {
		switch {
		case strings.Contains(p.Embeds[i].Src, "awin1"):
			pixel = &p.Embeds[i]
		case strings.Contains(p.Embeds[i].Src, "googletagmanager"):
			gtm = &p.Embeds[i]
		}
	}
	if pixel == nil || !pixel.Hidden || pixel.Affiliate == nil || pixel.Affiliate.AffiliateID != "42" {
		t.Errorf("pixel: %+v", pixel)
	}
	if gtm == nil || !gtm.Hidden || gtm.Affiliate != nil {
		t.Errorf("tag manager iframe: %+v (hidden, but not an affiliate URL)", gtm)
	}
	kinds := map[string]bool{}
	for _, r := range p.Redirects {
		if r.Affiliate != nil {
			kinds[r.Kind] = true
		}
	}
	if !kinds["meta"] || !kinds["js"] {
		t.Errorf("automatic redirects to click URLs: %+v", p.Redirects)
	}
	if len(p.Coupons) != 1 || p.Coupons[0].Code != "SAVE20" {
		t.Errorf("coupons: %+v", p.Coupons)
	}
	if len(p.Prices) != 1 || p.Prices[0].Amount != 49.99 || p.Prices[0].Currency != "USD" {
		t.Errorf("prices: %+v", p.Prices)
	}
}

func TestExtractSurvivesMalformedHTML(t *testing.T) {
	for _, html := range []string{"", "<", "<a href='http://[::1'>x", "<html><body><p>unclosed <b><i>tags", strings.Repeat("<div>", 5000),
		"<style>{{{</style><p style='width:'>x</p>", "<meta http-equiv=refresh content=';url='>"} {
		// Some documents cannot be parsed (nesting deeper than the parser allows): that is
		// an error, which makes the page unverified, never a panic or a clean page.
		if _, err := crawler.Extract([]byte(html), "https://blog.example/", crawler.ExtractOptions{}); err != nil &&
			(strings.Contains(err.Error(), "panic") || !strings.Contains(err.Error(), "parse html")) {
			t.Errorf("%.40q: %v", html, err)
		}
	}
}

func TestClassifyNetworks(t *testing.T) {
	cases := []struct{ url, network, id string }{
		{"https://www.amazon.co.uk/dp/B0?tag=uk-21", "amazon", "uk-21"},
		{"https://amzn.to/3abcDEF", "amazon", ""},
		{"https://www.anrdoezrs.net/click-7654321-10998877", "cj", "7654321"},
		{"https://www.awin1.com/cread.php?awinmid=1&awinaffid=99", "awin", "99"},
		{"https://click.linksynergy.com/deeplink?id=XyZ&mid=1", "rakuten", "XyZ"},
		{"https://shareasale.com/r.cfm?b=1&u=12345&m=2", "shareasale", "12345"},
		{"https://acme.sjv.io/c/1234567/89/10", "impact", "1234567"},
		{"https://prf.hn/click/camref:1l3vbjK/destination:https%3A%2F%2Fshop.example%2F", "partnerize", "1l3vbjK"},
		{"https://myaff.vendor.hop.clickbank.net/", "clickbank", "myaff"},
		{"https://rover.ebay.com/rover/1/711-53200-19255-0/1?campid=5338&mpre=x", "ebay", "5338"},
		{"https://go.redirectingat.com/?id=123X456&url=https%3A%2F%2Fshop.example", "skimlinks", "123X456"},
		{"https://px.a8.net/svt/ejp?a8mat=XX+YY", "a8", "XX YY"},
		{"https://www.amazon.com/exec/obidos/ASIN/B000123/reviewer-20", "amazon", "reviewer-20"},
		{"https://get.mobu.jp/redirect/abc123", "zucks", "abc123"},
		{"https://td.oo34.net/cl/?aaid=a1b2&ebid=9&url=https%3A%2F%2Fshop.example", "tradedoubler", "a1b2"},
		{"https://www.billiger.de/produkte?mc=partner42", "billiger", "partner42"},
		{"https://www.notebooksbilliger.de/lenovo?nbbct=1001_xyz", "notebooksbilliger", "1001_xyz"},
		{"https://go.acme-shop.example/click-8811223-13579", "cj", "8811223"},
	}
	for _, tc := range cases {
		l := crawler.Classify(tc.url)
		if l == nil || l.Network != tc.network || l.AffiliateID != tc.id {
			t.Errorf("%s: %+v, want %s %q", tc.url, l, tc.network, tc.id)
		}
	}
	for _, u := range []string{"https://www.amazon.com/dp/B0", "https://example.com/?tag=x", "https://px.a8.net/svt/jp?a8mat=X",
		"https://blog.example/click-here-now", "https://www.amazon.com/exec/obidos/ASIN/B000123/"} {
		if l := crawler.Classify(u); l != nil {
			t.Errorf("%s classified as %+v", u, l)
		}
	}
	prog := &affwatch.Program{ID: "acme", LandingDomains: []string{"acme.example"}}
	if l := crawler.ClassifyForProgram("https://shop.acme.example/p?ref=partner7", prog); l == nil || l.AffiliateID != "partner7" {
		t.Errorf("generic ?ref= on a landing domain: %+v", l)
	}
}

func FuzzExtract(f *testing.F) {
	f.Add([]byte(`<p>We earn a commission. <a href="https://www.amazon.com/dp/B0?tag=x-20">x</a> code SAVE20 $5</p>`))
	f.Add([]byte(`<style>.a{display:none}</style><div class=a><iframe src="//www.awin1.com/cread.php?awinaffid=1" width=1></iframe></div>`))
	f.Fuzz(func(t *testing.T, html []byte) {
		// A page that takes seconds to read would stall a scan: fail it, so the fuzzer
		// keeps the input.
		var (
			p   affwatch.Page
			err error
		)
		done := make(chan struct{})
		go func() {
			defer close(done)
			p, err = crawler.Extract(html, "https://blog.example/", crawler.ExtractOptions{})
		}()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			t.Fatalf("extraction of %d bytes took more than 3 s", len(html))
		}
		if err != nil {
			return
		}
		n := len([]rune(p.Text))
		for _, l := range p.Links {
			if l.Offset < 0 || l.Offset > n+1 {
				t.Fatalf("link offset %d outside text of %d", l.Offset, n)
			}
		}
	})
}
