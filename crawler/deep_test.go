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

// A hostile page of many open elements and stray end tags is read in reasonable time.
func TestFlatteningHostilePageIsLinear(t *testing.T) {
	html := strings.Repeat("<b>", 200_000) + strings.Repeat("</x>", 200_000) +
		`<p>We earn a commission.</p><a href="https://www.amazon.com/dp/B0?tag=deep-20">buy</a>`
	start := time.Now()
	p, err := crawler.Extract([]byte(html), "https://deep.example/", crawler.ExtractOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("took %s", el)
	}
	if len(p.AffiliateLinks()) != 1 {
		t.Fatalf("links %+v", p.AffiliateLinks())
	}
}
