package crawler_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/crawler"
)

// blockWith extracts a page and returns its first block whose text contains s.
func blockWith(t *testing.T, page, s string, opt crawler.ExtractOptions) affwatch.Block {
	t.Helper()
	p, err := crawler.Extract([]byte(page), "https://pub.example/a", opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range p.Blocks {
		if strings.Contains(b.Text, s) {
			return b
		}
	}
	t.Fatalf("no block with %q in %+v", s, p.Blocks)
	return affwatch.Block{}
}

func TestBlockContext(t *testing.T) {
	acme := &affwatch.Program{ID: "acme", BrandTerms: []string{"Acme"}}
	cases := []struct {
		name, page, block string
		opt               crawler.ExtractOptions
		commercial        bool
		signal            string // a signal that must be there
		quote, media      bool
		headline, badge   bool
		quoted            string // text that must lie in a quoted passage
	}{
		{name: "prose", page: `<p>She bade the coachman hurry, for the light was failing over the moor and the road was bad.</p>`, block: "hurry"},
		{name: "price tag beside a badge", page: `<div><span>$49.99</span><div>Limited Time</div></div>`, block: "Limited Time", commercial: true, signal: "price", badge: true},
		{name: "figure in long prose is not a price tag", page: `<p>` + strings.Repeat("Economists say the market clears. ", 5) + `Oil rose above $140 a barrel when it was in high demand.</p>`, block: "high demand"},
		{name: "call to action", page: `<p>Early bird discount ends today.</p><p><a href="/register">Register now</a></p>`, block: "Early bird", commercial: true, signal: "cta", badge: true},
		{name: "affiliate link", page: `<p>Get the <a href="https://www.amazon.com/dp/B0?tag=x-20">kettle</a> while it lasts, it is selling fast this week and we like it a lot.</p>`, block: "selling fast", commercial: true, signal: "affiliate_link"},
		{name: "product link", page: `<p>See the <a href="https://shop.example/products/kettle">kettle</a>.</p>`, block: "kettle", commercial: true, signal: "product_link", badge: true},
		{name: "promotional container", page: `<div class="promo-banner"><p>Flash sale</p></div>`, block: "Flash sale", commercial: true, signal: "promo_block", badge: true},
		{name: "discount", page: `<p>Spring sale: 30% off all kettles.</p>`, block: "30%", commercial: true, signal: "discount", badge: true},
		{name: "brand", page: `<p>Acme decaf is risk-free.</p>`, block: "Acme", opt: crawler.ExtractOptions{Program: acme}, commercial: true, signal: "brand", badge: true},
		{name: "blockquote", page: `<blockquote><p>Hurry, while supplies last!</p></blockquote>`, block: "Hurry", quote: true},
		{name: "quotation marks", page: `<p>“The fare is only for a limited time,” a spokeswoman said.</p>`, block: "spokeswoman", quoted: "limited time", badge: true},
		{name: "whole block quoted", page: `<p>"Hurry up, it is going fast!"</p>`, block: "Hurry", quote: true, quoted: "going fast"},
		{name: "inch marks are not quotations", page: `<p>Use a 9" pan, only 3 left at this price, and a 12" board.</p>`, block: "pan", badge: true},
		{name: "q element", page: `<p>A councillor called it <q>a limited-time sweetener</q> before the vote.</p>`, block: "councillor", quoted: "limited-time sweetener", badge: true},
		{name: "title of a work", page: `<p>Her recipes appear in <em><a href="https://www.amazon.com/dp/B0?tag=x-20">The Prevent and Reverse Heart Disease Cookbook</a></em>.</p>`, block: "Cookbook", commercial: true, quoted: "Reverse Heart Disease", badge: true},
		{name: "emphasis is not a title", page: `<p>It <em>really cures</em> nothing.</p>`, block: "cures", badge: true},
		{name: "video player", page: `<div class="vjs-control-bar"><div class="vjs-remaining-time">Remaining Time -0:00</div></div>`, block: "Remaining", media: true},
		{name: "heading takes no neighbour's signals", page: `<h2>Nurses in high demand</h2><p>$12.99</p>`, block: "Nurses", headline: true},
		{name: "teaser link is a headline", page: `<ul><li><a href="/news/jobs">Electricians in high demand across the region</a></li></ul>`, block: "Electricians", headline: true},
		{name: "newsletter form is no badge", page: `<form class="form-subscribe"><div>Don't miss out!</div></form>`, block: "miss out"},
		{name: "menu is no badge", page: `<nav><ul><li><span>Limited Time Only</span></li></ul></nav>`, block: "Limited"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := blockWith(t, "<html><body>"+tc.page+"</body></html>", tc.block, tc.opt)
			c := b.Context
			if c.Commercial != tc.commercial || (tc.signal != "" && !slices.Contains(c.Signals, tc.signal)) {
				t.Errorf("commercial %v signals %v, want %v with %q", c.Commercial, c.Signals, tc.commercial, tc.signal)
			}
			if c.Quote != tc.quote || c.Media != tc.media || c.Headline != tc.headline || c.Badge != tc.badge {
				t.Errorf("quote %v media %v headline %v badge %v, want %v %v %v %v", c.Quote, c.Media, c.Headline, c.Badge,
					tc.quote, tc.media, tc.headline, tc.badge)
			}
			quotedRunes := map[int]bool{}
			for _, q := range c.Quotes {
				for i := q.Start; i < q.End; i++ {
					quotedRunes[i] = true
				}
			}
			if tc.quoted != "" {
				i := strings.Index(b.Text, tc.quoted)
				start := len([]rune(b.Text[:i]))
				for k := start; k < start+len([]rune(tc.quoted)); k++ {
					if !quotedRunes[k] {
						t.Fatalf("%q not in a quoted passage: %+v of %q", tc.quoted, c.Quotes, b.Text)
					}
				}
			} else if len(c.Quotes) > 0 {
				t.Errorf("quoted passages %+v in %q, want none", c.Quotes, b.Text)
			}
		})
	}
}
