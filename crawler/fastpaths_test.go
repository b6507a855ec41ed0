package crawler

import (
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// TestNormSpaceFastPathFoldsLikeFields checks that normSpace, which returns text already
// folded as it is, gives what joining strings.Fields gives on every kind of white space.
func TestNormSpaceFastPathFoldsLikeFields(t *testing.T) {
	for _, s := range []string{"", " ", "a", "a b", " a", "a ", "a  b", "a\tb", "a\nb", "a\rb", "a\vb", "a\fb", "a\u00a0b",
		"a\u0085b", "a\u2003b", "café au lait", "Check the price on Amazon", "  Buy   at Acme \n", "x y z", "\n"} {
		if got, want := normSpace(s), strings.Join(strings.Fields(s), " "); got != want {
			t.Errorf("normSpace(%q) = %q, want %q", s, got, want)
		}
	}
}

// TestNodeTextOfOneTextChild checks nodeText's shortcut for an element with one text
// node against elements with several and nested ones.
func TestNodeTextOfOneTextChild(t *testing.T) {
	doc, err := html.Parse(strings.NewReader(`<p><a id=a>one</a><a id=b>two <b>bold</b> three</a><a id=c></a><a id=d><!--c-->x</a></p>`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "one", "b": "two bold three", "c": "", "d": "x"}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "a" {
			id, _ := attr(n, "id")
			if got := nodeText(n); got != want[id] {
				t.Errorf("nodeText(#%s) = %q, want %q", id, got, want[id])
			}
			delete(want, id)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if len(want) > 0 {
		t.Errorf("links not seen: %v", want)
	}
}

// TestBotWallDecision checks the challenge-page test, which stops reading at the marker
// that decides it: a 200 page needs two markers and to be small, an error page one.
func TestBotWallDecision(t *testing.T) {
	small := "<html><title>Just a moment...</title><div class=cf-chl-widget>Checking your browser</div></html>"
	big := small + strings.Repeat("<p>recipe text</p>", 2000)
	one := "<html><p>We use a captcha on the contact form.</p></html>"
	for _, c := range []struct {
		status int
		body   string
		want   bool
	}{
		{200, small, true}, {200, big, false}, {200, one, false}, {403, one, true}, {503, small, true},
		{404, small, false}, {401, "<p>nothing here</p>", false}, {429, big, true},
	} {
		if got := isBotWall(c.status, []byte(c.body)); got != c.want {
			t.Errorf("isBotWall(%d, %d bytes) = %v, want %v", c.status, len(c.body), got, c.want)
		}
	}
}

// TestWordSetFindsWhatContainsFinds checks the one-pass word search against a
// strings.Contains per word, on the disclosure, commerce and price hint words, at the
// start, middle and end of texts, and for one-byte words.
func TestWordSetFindsWhatContainsFinds(t *testing.T) {
	sets := map[string][]string{
		"disclosure": disclosureHints,
		"price":      append(append([]string{}, currencySigns...), currencyCodes...),
		"short":      {"#", "%", "ab", "b"},
	}
	texts := []string{"", "a", "#", "x#", "%", "ab", "a b", "xxab", "abx", "b", "c", "sponsor", "sponsore", "sponso", "afflink",
		"12 €", "€", "usd", "us", "円", "we earn", "no hints at all here", "thank you", "(ad)", "( aff)", "revenu", "cost to yo"}
	for name, words := range sets {
		ws := newWordSet(words)
		for _, text := range texts {
			for _, tx := range []string{text, "zz " + text, text + " zz"} {
				want := false
				for _, w := range words {
					want = want || strings.Contains(tx, w)
				}
				if got := ws.in(tx); got != want {
					t.Errorf("%s words in %q: %v, want %v", name, tx, got, want)
				}
			}
		}
	}
}
