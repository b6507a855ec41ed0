package crawler

import (
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/affwatch/affwatch/fixtures"
	"github.com/affwatch/affwatch/internal/testkit"
)

// TestStartMatchersAgreeWithTheirPatterns checks that the call-to-action, discount and
// price patterns, run only where a match can start, find what the patterns run at every
// position find: on every block of the 249 real recipe pages and the fixture pages, and
// on texts written to catch a wrong start word, a missing word boundary, case, digits,
// currency signs and non-ASCII letters that fold to ASCII ones.
func TestStartMatchersAgreeWithTheirPatterns(t *testing.T) {
	texts := []string{
		"Buy it now", "buy it at Amazon", "buy it at amazon", "rebuy now", "Shop the look", "shop at Target", "shop at target",
		"ORDER TODAY", "Added to basket", "added to bag", "Proceed to checkout", "go to Checkout", "checkout", "precheckout",
		"get 150% off", "get 15 % off", "Get yours", "grab today's deal", "grab todays deals", "Unlock the price", "check the latest price",
		"see the price", "See it on Etsy", "claim this coupon", "redeem your voucher", "Book today", "register now", "reserve your spot",
		"Pre-order", "preorder", "pre order", "complete your purchase", "FREE SHIPPING", "free shippings",
		"30% off", "30 % off", "x30% off", "_30% off", "(30% off)", "save up to 45%", "save 5 %", "50% discount", "half price",
		"half-price", "BOGO", "bogof", "buy one, get one", "buy one get one", "get a second one free", "get 1 free", "123% off",
		"It costs $129.99 or 12,90 € or 1.234,56 EUR", "$ 5", "US$5", "€5", "£ 1,000", "¥300", "₹ 99", "12 usd", "12 USDollar",
		"99円", "1,234.567 gbp", "no price 12 34", "a1b2", "$", "5", "",
		"ſhop now", "checKout", "buy it now — ſave 20%", "Ünlock the deal, get yours", "20% off für alle", "Jetzt 20 % off kaufen",
		"deal price € 9", "café: order now", "naïve buy it at Zara",
	}
	dir := testkit.SharedData(t, "recipe_blog_pages_affiliate")
	files, err := filepath.Glob(filepath.Join(dir, "pages", "*.html.gz"))
	if err != nil || len(files) == 0 {
		t.Fatalf("%s: no pages (%v)", dir, err)
	}
	var pages [][]byte
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(fh)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		raw, err := io.ReadAll(zr)
		fh.Close()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		pages = append(pages, raw)
	}
	fs.WalkDir(fixtures.Sites, "sites", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".html") {
			raw, _ := fs.ReadFile(fixtures.Sites, p)
			pages = append(pages, raw)
		}
		return nil
	})
	for _, raw := range pages {
		p, err := Extract(raw, "https://blog.example/", ExtractOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range p.Blocks {
			texts = append(texts, b.Text)
		}
	}
	if len(texts) < 10000 {
		t.Fatalf("only %d texts", len(texts))
	}
	hits := map[string]int{}
	for _, text := range texts {
		low := strings.ToLower(text)
		for name, m := range map[string]*startMatcher{"cta": ctaText, "discount": discountText, "price": priceStarts} {
			if got, want := m.matchString(text, low), m.full.MatchString(text); got != want {
				t.Errorf("%s on %q: %v, the pattern says %v", name, text, got, want)
			} else if got {
				hits[name]++
			}
			if got, want := m.findAllSubmatchIndex(text, low), m.full.FindAllStringSubmatchIndex(text, -1); !reflect.DeepEqual(got, want) {
				t.Errorf("%s on %q: matches %v, the pattern's %v", name, text, got, want)
			}
		}
	}
	for _, name := range []string{"cta", "discount", "price"} {
		if hits[name] < 20 {
			t.Errorf("%s matched only %d texts: the comparison says little", name, hits[name])
		}
	}
	t.Logf("%d texts; matched: %v", len(texts), hits)
}
