package crawler

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/affwatch/affwatch"
)

// wordIndex is the page's word index (Page.Words): each lower-cased word of the blocks'
// text (a maximal run of letters), and each other character that is not a digit or a space
// on its own (":" of a clock), mapped to the indexes of the blocks that hold it, in
// ascending order. A pattern rule that needs one of a few words looks them up and runs its
// regular expression only on those blocks (lib/page.rego's own_blocks_with), so the cost
// of a rule grows with what it needs rather than with the page's text.
func wordIndex(blocks []affwatch.Block) map[string][]int {
	idx := map[string][]int{}
	for i, b := range blocks {
		add := func(w string) {
			if is := idx[w]; len(is) == 0 || is[len(is)-1] != i {
				idx[w] = append(is, i)
			}
		}
		start := -1
		for j, r := range b.Text {
			if unicode.IsLetter(r) {
				if start < 0 {
					start = j
				}
				continue
			}
			if start >= 0 {
				addWord(add, b.Text[start:j])
				start = -1
			}
			if !unicode.IsDigit(r) && !unicode.IsSpace(r) {
				add(string(r))
			}
		}
		if start >= 0 {
			addWord(add, b.Text[start:])
		}
	}
	return idx
}

// addWord indexes a run of letters lower-cased, and, when it mixes ASCII letters with
// others ("écure"), each run of ASCII letters in it too: a regular expression's \b is a
// boundary of ASCII word characters, so "cure" matches there and must be found.
func addWord(add func(string), w string) {
	w = lowerWord(w)
	add(w)
	ascii, other := 0, 0
	for _, r := range w {
		if r < utf8.RuneSelf {
			ascii++
		} else {
			other++
		}
	}
	if ascii == 0 || other == 0 {
		return
	}
	start := -1
	for j, r := range w {
		switch {
		case r < utf8.RuneSelf && start < 0:
			start = j
		case r >= utf8.RuneSelf && start >= 0:
			add(w[start:j])
			start = -1
		}
	}
	if start >= 0 {
		add(w[start:])
	}
}

// lowerWord lower-cases a word as Rego's lower does, without a copy when it is lower-case
// already (most words of prose are).
func lowerWord(w string) string {
	for _, r := range w {
		if unicode.ToLower(r) != r {
			return strings.ToLower(w)
		}
	}
	return w
}
