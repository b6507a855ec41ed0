package report

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"image"
	"image/color"
	"image/draw"
	"image/png"

	"github.com/affwatch/affwatch"
)

// The crop of an offending element: the element with a margin around it, outlined, at
// most cropMaxW x cropMaxH pixels of the screenshot at its own scale (the element's top
// left corner kept when it is larger).
const (
	cropMargin  = 24
	cropMaxW    = 560
	cropMaxH    = 280
	cropOutline = 2
)

// Crop cuts the element at box out of a page's screenshot (PNG) and outlines it in red,
// as a PNG. It returns nil, nil when the box is not in the screenshot: off the page, below
// its cap, or of no size.
func Crop(shot []byte, box affwatch.Box) ([]byte, error) {
	src, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		return nil, fmt.Errorf("crop: %w", err)
	}
	b := src.Bounds()
	el := image.Rect(int(box.X), int(box.Y), int(box.X+box.Width+0.5), int(box.Y+box.Height+0.5)).Add(b.Min)
	if el.Dx() < 1 || el.Dy() < 1 || !el.Overlaps(b) {
		return nil, nil
	}
	area := image.Rect(el.Min.X-cropMargin, el.Min.Y-cropMargin, el.Max.X+cropMargin, el.Max.Y+cropMargin).Intersect(b)
	area.Max.X = min(area.Max.X, area.Min.X+cropMaxW)
	area.Max.Y = min(area.Max.Y, area.Min.Y+cropMaxH)
	dst := image.NewRGBA(image.Rect(0, 0, area.Dx(), area.Dy()))
	draw.Draw(dst, dst.Bounds(), src, area.Min, draw.Src)
	// The outline sits just outside the element, so the element's own pixels show as they were.
	out := el.Sub(area.Min).Inset(-cropOutline)
	red := color.RGBA{0xdc, 0x26, 0x26, 0xff}
	for i := range cropOutline {
		r := out.Inset(i)
		for x := r.Min.X; x < r.Max.X; x++ {
			setIn(dst, x, r.Min.Y, red)
			setIn(dst, x, r.Max.Y-1, red)
		}
		for y := r.Min.Y; y < r.Max.Y; y++ {
			setIn(dst, r.Min.X, y, red)
			setIn(dst, r.Max.X-1, y, red)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, dst); err != nil {
		return nil, fmt.Errorf("crop: %w", err)
	}
	return buf.Bytes(), nil
}

func setIn(img *image.RGBA, x, y int, c color.RGBA) {
	if (image.Point{x, y}).In(img.Bounds()) {
		img.SetRGBA(x, y, c)
	}
}

// AddCrops cuts, for each new violation whose evidence points at an element of a rendered
// page (Evidence.Box and Evidence.Screenshot), that element out of the page's stored
// screenshot, for the email to show beside it. A screenshot no longer stored is passed
// over.
func (r *Report) AddCrops(ctx context.Context, shots affwatch.Screenshots) error {
	loaded := map[string][]byte{}
	for _, v := range r.New {
		ev := v.Evidence
		if ev.Box == nil || ev.Screenshot == "" {
			continue
		}
		shot, ok := loaded[ev.Screenshot]
		if !ok {
			var err error
			shot, err = shots.Screenshot(ctx, ev.Screenshot)
			if err != nil && !errors.Is(err, affwatch.ErrNotFound) {
				return fmt.Errorf("crops: %w", err)
			}
			loaded[ev.Screenshot] = shot
		}
		if shot == nil {
			continue
		}
		crop, err := Crop(shot, *ev.Box)
		if err != nil {
			return fmt.Errorf("crop for %s: %w", v.Fingerprint, err)
		}
		if crop != nil {
			if r.Crops == nil {
				r.Crops = map[string][]byte{}
			}
			r.Crops[v.Fingerprint] = crop
		}
	}
	return nil
}

// cropCID is the Content-ID of a violation's crop in an email.
func cropCID(fp string) string { return "crop-" + fp[:min(16, len(fp))] + "@affwatch" }

// cropSrc is where the HTML finds a violation's crop ("" when it has none).
func (r Report) cropSrc(fp string) template.URL {
	png, ok := r.Crops[fp]
	if !ok {
		return ""
	}
	if r.InlineCharts {
		return template.URL("cid:" + cropCID(fp))
	}
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
}
