package report

import (
	"bytes"
	"image"
	"image/color"
	"image/png"

	"github.com/affwatch/affwatch"
)

// Chart size: small enough for an email, readable beside its numbers.
const chartW, chartH = 240, 44

// chartOf draws a detector finding's measured value against its baseline as two
// horizontal bars (the affiliate's in the severity colour, the baseline grey), or returns
// nil when the finding has no baseline to compare with.
func chartOf(v affwatch.Violation) []byte {
	n := v.Evidence.Numbers
	value, okV := n["value"]
	base, okB := n["baseline"]
	if v.Source != affwatch.SourceDetector || !okV || !okB || base <= 0 || value < 0 {
		return nil
	}
	img := image.NewRGBA(image.Rect(0, 0, chartW, chartH))
	fill(img, 0, 0, chartW, chartH, color.RGBA{0xf9, 0xfa, 0xfb, 0xff})
	top := max(value, base)
	bar := func(y int, x float64, c color.RGBA) {
		w := int(float64(chartW-8) * x / top)
		fill(img, 4, y, 4+max(w, 1), y+14, c)
	}
	bar(6, value, sevRGBA(v.Severity))
	bar(24, base, color.RGBA{0x9c, 0xa3, 0xaf, 0xff})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil
	}
	return buf.Bytes()
}

func fill(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

func sevRGBA(s affwatch.Severity) color.RGBA {
	switch s {
	case affwatch.SeverityCritical:
		return color.RGBA{0x7f, 0x1d, 0x1d, 0xff}
	case affwatch.SeverityHigh:
		return color.RGBA{0xb9, 0x1c, 0x1c, 0xff}
	case affwatch.SeverityMedium:
		return color.RGBA{0xb4, 0x53, 0x09, 0xff}
	}
	return color.RGBA{0x1d, 0x4e, 0xd8, 0xff}
}
