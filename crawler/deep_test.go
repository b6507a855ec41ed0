package crawler_test

import (
	"strings"
	"testing"
	"time"

	"github.com/affwatch/affwatch/crawler"
)

// A page nested deeper than the HTML parser takes (512 open elements) is still read: the
// elements past a sane depth are flattened, their text and links kept, so a hostile page
// cannot make itself unjudgeable.
func TestDeeplyNestedPageIsStillRead(t *testing.T) {
	html := "<html><body>" + strings.Repeat("<div>", 3000) +
		`<p>We earn a commission.</p><a href="https://www.amazon.com/dp/B0?tag=deep-20">buy</a>` +
		strings.Repeat("</div>", 3000) + "<p>After the nest.</p></body></html>"
	p, err := crawler.Extract([]byte(html), "https://deep.example/", crawler.ExtractOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.AffiliateLinks()) != 1 || p.AffiliateLinks()[0].Affiliate.AffiliateID != "deep-20" || len(p.Disclosures) != 1 {
		t.Fatalf("links %+v disclosures %+v", p.AffiliateLinks(), p.Disclosures)
	}
	if !strings.Contains(p.Text, "After the nest.") {
		t.Errorf("text after the nest lost: %q", p.Text)
	}
}

// A hostile page of many open elements and stray end tags is read in time linear in its
// size: eight times the page takes about eight times as long (measured 6x alone, 10-15x
// with other test binaries running), never the 64x of a quadratic reader. A ratio, so a
// loaded machine does not fail it; a minute is the bound against a hang.
func TestFlatteningHostilePageIsLinear(t *testing.T) {
	page := func(n int) []byte {
		return []byte(strings.Repeat("<b>", n) + strings.Repeat("</x>", n) +
			`<p>We earn a commission.</p><a href="https://www.amazon.com/dp/B0?tag=deep-20">buy</a>`)
	}
	extract := func(n int) time.Duration {
		start := time.Now()
		p, err := crawler.Extract(page(n), "https://deep.example/", crawler.ExtractOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.AffiliateLinks()) != 1 {
			t.Fatalf("links %+v", p.AffiliateLinks())
		}
		return time.Since(start)
	}
	small := min(extract(25_000), extract(25_000))
	large := extract(200_000)
	if large > time.Minute {
		t.Fatalf("200,000 open elements took %s", large)
	}
	if ratio := float64(large) / float64(small); ratio > 32 {
		t.Fatalf("8x the page took %.1fx as long (%s against %s): not linear", ratio, large, small)
	}
}
