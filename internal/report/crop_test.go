package report_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"strings"
	"testing"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/internal/report"
)

// shots is a store of one screenshot.
type shots map[string][]byte

func (s shots) Screenshot(_ context.Context, sha string) ([]byte, error) {
	if b, ok := s[sha]; ok {
		return b, nil
	}
	return nil, affwatch.ErrNotFound
}

// page is a white 400x300 screenshot with a blue 50x20 element at (100, 200).
func page(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 400, 300))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.Draw(img, image.Rect(100, 200, 150, 220), image.NewUniform(color.RGBA{0, 0, 0xff, 0xff}), image.Point{}, draw.Src)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCrop(t *testing.T) {
	shot := page(t)
	b, err := report.Crop(shot, affwatch.Box{X: 100, Y: 200, Width: 50, Height: 20})
	if err != nil || b == nil {
		t.Fatal(err)
	}
	img, _ := png.Decode(bytes.NewReader(b))
	if img.Bounds().Dx() != 50+2*24 || img.Bounds().Dy() != 20+2*24 {
		t.Errorf("crop %v", img.Bounds())
	}
	if c := color.RGBAModel.Convert(img.At(24+25, 24+10)); c != (color.RGBA{0, 0, 0xff, 0xff}) {
		t.Errorf("the element's middle is %v, want blue", c)
	}
	if c := color.RGBAModel.Convert(img.At(24-1, 24+10)).(color.RGBA); c.R < 0xc0 || c.G > 0x40 {
		t.Errorf("no red outline beside the element: %v", c)
	}
	for _, box := range []affwatch.Box{{X: -5000, Y: 10, Width: 100, Height: 20}, {X: 10, Y: 9000, Width: 10, Height: 10}, {X: 10, Y: 10}} {
		if b, err := report.Crop(shot, box); b != nil || err != nil {
			t.Errorf("box %+v outside the screenshot: %d bytes, %v", box, len(b), err)
		}
	}
}

// Only new violations with a box get a crop, inline in the email by cid.
func TestAddCropsForNewViolations(t *testing.T) {
	r := sampleReport()
	box := &affwatch.Box{X: 100, Y: 200, Width: 50, Height: 20}
	r.New[0].Evidence.Box, r.New[0].Evidence.Screenshot = box, "abc123"
	r.Resolved[0].Evidence.Box, r.Resolved[0].Evidence.Screenshot = box, "abc123"
	if err := r.AddCrops(context.Background(), shots{"abc123": page(t)}); err != nil {
		t.Fatal(err)
	}
	if len(r.Crops) != 1 || r.Crops[r.New[0].Fingerprint] == nil {
		t.Fatalf("crops for %d violations", len(r.Crops))
	}
	e, err := r.Email([]string{"alice@acme.example"}, "report")
	if err != nil {
		t.Fatal(err)
	}
	a := e.Attachments[len(e.Attachments)-1]
	if !strings.HasPrefix(a.Name, "element-") || !strings.Contains(e.HTML, `src="cid:`+a.ContentID+`"`) {
		t.Errorf("the crop is not inline: %s, %s", a.Name, a.ContentID)
	}
	var html bytes.Buffer
	r.InlineCharts = false
	if err := r.HTML(&html); err != nil || !strings.Contains(html.String(), "screenshot abc123") {
		t.Errorf("the file report lacks the crop: %v", err)
	}
}
