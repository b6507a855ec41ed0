package report

import (
	"html/template"
	"strings"
)

// snippetContext is how many characters of a long snippet are shown either side of the
// offending text.
const snippetContext = 160

// highlight escapes a partner's snippet and marks the offending text in it: the finding's
// evidence key (a claim phrase, a coupon code, an affiliate ID) where the snippet contains
// it. A long snippet is cut to the text around the mark. Every piece of partner text is
// escaped; only the <mark> element is ours.
func highlight(snippet, key string) template.HTML {
	return mark(snippet, key, `<mark style="background:#fde68a;color:#111827;">`)
}

// Highlight is highlight with a plain <mark> element, for pages that style it themselves
// (the dashboard, whose content security policy allows no inline styles).
func Highlight(snippet, key string) template.HTML { return mark(snippet, key, `<mark>`) }

func mark(snippet, key, open string) template.HTML {
	lower := strings.ToLower(snippet)
	start, end := -1, -1
	for _, k := range candidates(key) {
		if i := strings.Index(lower, strings.ToLower(k)); i >= 0 && len(lower) == len(snippet) {
			start, end = i, i+len(k)
			break
		}
	}
	if start < 0 {
		return template.HTML(template.HTMLEscapeString(cut(snippet, 0, len(snippet))))
	}
	from, to := max(0, start-snippetContext), min(len(snippet), end+snippetContext)
	from, to = runeStart(snippet, from), runeStart(snippet, to)
	var b strings.Builder
	if from > 0 {
		b.WriteString("…")
	}
	b.WriteString(template.HTMLEscapeString(snippet[from:start]))
	b.WriteString(open)
	b.WriteString(template.HTMLEscapeString(snippet[start:end]))
	b.WriteString(`</mark>`)
	b.WriteString(template.HTMLEscapeString(snippet[end:to]))
	if to < len(snippet) {
		b.WriteString("…")
	}
	return template.HTML(b.String())
}

// candidates are the parts of an evidence key worth marking: the key itself, and for
// "network:id" keys the id.
func candidates(key string) []string {
	if key == "" || key == "page" {
		return nil
	}
	out := []string{key}
	if i := strings.LastIndexByte(key, ':'); i > 0 && i < len(key)-1 && !strings.Contains(key, "://") {
		out = append(out, key[i+1:])
	}
	return out
}

// cut shortens text without a mark to its first characters.
func cut(s string, from, to int) string {
	if to-from <= 2*snippetContext {
		return s[from:to]
	}
	return s[from:runeStart(s, from+2*snippetContext)] + "…"
}

// runeStart moves i back to the start of the UTF-8 character it falls in.
func runeStart(s string, i int) int {
	for i > 0 && i < len(s) && s[i]&0xC0 == 0x80 {
		i--
	}
	return i
}
