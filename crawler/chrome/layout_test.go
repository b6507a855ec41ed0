package chrome

import (
	"bytes"
	"context"
	"image/png"
	"testing"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/crawler"
)

// TestLayout measures the elements of layout-cases.html, one per way of hiding words from
// a reader and a few of colour, and checks what the browser says of each.
func TestLayout(t *testing.T) {
	ids := []string{"red", "plain", "gone", "ghost", "faded", "tiny", "away", "sr", "under", "closed", "grey", "grad", "half", "words", "nosuch"}
	var targets []crawler.Target
	for _, id := range ids {
		words := "earn a commission"
		if id == "red" {
			words = "" // the element's own box
		}
		targets = append(targets, crawler.Target{Selector: "#" + id, Text: words})
	}
	res, err := shared.Render(context.Background(), srv.URL("render-cases")+"layout-cases.html", crawler.RenderOptions{
		Locate:     func([]byte, string) []crawler.Target { return targets },
		Screenshot: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Layouts) != len(ids) || res.ViewportHeight < 500 {
		t.Fatalf("%d layouts, viewport height %d", len(res.Layouts), res.ViewportHeight)
	}
	got := map[string]*affwatch.Layout{}
	for i, id := range ids {
		got[id] = res.Layouts[i]
		t.Logf("%s: %+v contrast %v", id, *res.Layouts[i], deref(res.Layouts[i].Contrast))
	}
	for id, want := range map[string]string{"red": "", "plain": "", "gone": "display", "ghost": "visibility", "faded": "opacity",
		"tiny": "clipped", "away": "offscreen", "sr": "clipped", "under": "clipped", "closed": "display", "grey": "", "grad": "",
		"half": "", "words": "", "nosuch": "missing"} {
		if l := got[id]; l.HiddenBy != want || l.Visible != (want == "") {
			t.Errorf("%s: hidden by %q (visible %v), want %q", id, l.HiddenBy, l.Visible, want)
		}
	}
	contrast := func(id string) float64 { return deref(got[id].Contrast) }
	if c := contrast("plain"); c != 21 {
		t.Errorf("black on white: contrast %v, want 21", c)
	}
	if c := contrast("grey"); c < 4.47 || c > 4.49 { // #777 on white: 4.48
		t.Errorf("#777 on white: contrast %v, want 4.48", c)
	}
	if got["grad"].Contrast != nil || got["grad"].Background != "image" {
		t.Errorf("a gradient background: %+v, want unknown", got["grad"])
	}
	if got["half"].Background != "rgb(128, 128, 128)" {
		t.Errorf("half-black over white: background %s", got["half"].Background)
	}
	if w := got["words"]; w.FontSize != 8 || w.Width > 200 {
		t.Errorf("the disclosure's own words: font %v px, box %+v", w.FontSize, w.Box())
	}
	if r := got["red"]; r.X != 0 || r.Y != 0 || r.Width != 200 || r.Height != 50 || r.Background != "rgb(255, 0, 0)" || r.Color != "rgb(255, 255, 255)" {
		t.Errorf("the red box: %+v", r)
	}
	img, err := png.Decode(bytes.NewReader(res.Screenshot))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %v", img.Bounds())
}

func deref(f *float64) float64 {
	if f == nil {
		return -1
	}
	return *f
}
