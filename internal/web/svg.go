package web

import (
	"fmt"
	"html/template"
	"strings"

	"github.com/affwatch/affwatch"
)

// trendSVG draws the open violations per night as a small bar chart, server-side: only
// numbers and dates go into it, so it is safe as markup.
func trendSVG(days []affwatch.DayCount) template.HTML {
	const w, h, pad, top = 560, 140, 24, 14
	if len(days) == 0 {
		return ""
	}
	peak := 1
	for _, d := range days {
		peak = max(peak, d.Count)
	}
	bw := float64(w-2*pad) / float64(len(days))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="trend" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="open violations per night">`, w, h+20, w, h+20)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#9ca3af"/>`, pad, h, w-pad, h)
	for i, d := range days {
		bh := float64(h-top) * float64(d.Count) / float64(peak)
		x := float64(pad) + float64(i)*bw
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#2563eb"><title>%s: %d open</title></rect>`,
			x+2, float64(h)-bh, bw-4, bh, d.Day.Format("2006-01-02"), d.Count)
		if d.Count > 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="10" text-anchor="middle" fill="#111827">%d</text>`, x+bw/2, float64(h)-bh-3, d.Count)
		}
		if i%2 == len(days)%2 || i == len(days)-1 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="9" text-anchor="middle" fill="#6b7280">%s</text>`, x+bw/2, h+14, d.Day.Format("01-02"))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
