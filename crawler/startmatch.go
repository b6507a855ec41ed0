package crawler

import (
	"regexp"
	"unicode/utf8"
)

// startMatcher runs a pattern only where one of its matches can start, instead of at every
// position of a block's text: Go's regexp has no literal prefix to skip to when a pattern
// is an alternation (the call-to-action, discount and price patterns), so it tried every
// position of every block, and that was a third of extraction on a review page. At each
// candidate position the pattern, anchored there, gives the match the unanchored pattern
// finds when that is the leftmost start; the results are the same, position for position.
type startMatcher struct {
	full     *regexp.Regexp // the pattern as written
	anchored *regexp.Regexp // the same pattern anchored at the start of its input
	// words are the lower-case words every match of the pattern starts with, when the
	// pattern begins with \b: only ASCII text is searched for them (under (?i) a few
	// non-ASCII letters, such as the Kelvin sign for k, match ASCII ones).
	words *wordSet
	// digits: a match may also start with an ASCII digit (after a word boundary when
	// boundary is set).
	digits bool
	// boundary: every match starts at a word boundary (\b) before a word character.
	boundary bool
	// lead are the exact bytes that start a match (currency signs), besides words and
	// digits; only these can, whatever the text.
	lead []string
}

// newStartMatcher compiles pattern, and the same anchored; see startMatcher for the rest.
func newStartMatcher(pattern string, words []string, digits, boundary bool, lead ...string) *startMatcher {
	m := &startMatcher{full: regexp.MustCompile(pattern), anchored: regexp.MustCompile(`^(?:` + pattern + `)`),
		digits: digits, boundary: boundary, lead: lead}
	if len(words) > 0 {
		m.words = newWordSet(words)
	}
	return m
}

// isASCII reports whether s is all ASCII.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// asciiWord is a byte of \w: what Go's \b takes for a word character.
func asciiWord(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// canStart reports whether a match may start at byte i of text (low is text lower-cased,
// the same length when text is ASCII).
func (m *startMatcher) canStart(text, low string, i int, ascii bool) bool {
	if m.boundary && i > 0 && asciiWord(text[i-1]) {
		return false
	}
	c := text[i]
	if m.digits && c >= '0' && c <= '9' {
		return true
	}
	if ascii && m.words != nil {
		for _, w := range m.words.words[low[i]] {
			if len(low)-i >= len(w) && low[i:i+len(w)] == w {
				return true
			}
		}
	}
	for _, l := range m.lead {
		if len(text)-i >= len(l) && text[i:i+len(l)] == l {
			return true
		}
	}
	return false
}

// matchString is full.MatchString(text); low is text lower-cased.
func (m *startMatcher) matchString(text, low string) bool {
	ascii := len(low) == len(text) && isASCII(text)
	if !ascii && m.words != nil {
		return m.full.MatchString(text)
	}
	for i := 0; i < len(text); i++ {
		if m.canStart(text, low, i, ascii) && m.anchored.MatchString(text[i:]) {
			return true
		}
	}
	return false
}

// findAllSubmatchIndex is full.FindAllStringSubmatchIndex(text, -1) for a pattern that
// never matches the empty string.
func (m *startMatcher) findAllSubmatchIndex(text, low string) [][]int {
	ascii := len(low) == len(text) && isASCII(text)
	if !ascii && m.words != nil {
		return m.full.FindAllStringSubmatchIndex(text, -1)
	}
	var out [][]int
	for i := 0; i < len(text); i++ {
		if !m.canStart(text, low, i, ascii) {
			continue
		}
		loc := m.anchored.FindStringSubmatchIndex(text[i:])
		if loc == nil {
			continue
		}
		if loc[1] == 0 {
			// an empty match: not a pattern this is for
			return m.full.FindAllStringSubmatchIndex(text, -1)
		}
		for k := range loc {
			if loc[k] >= 0 {
				loc[k] += i
			}
		}
		out = append(out, loc)
		i = loc[1] - 1 // the next match starts where this one ends
	}
	return out
}
