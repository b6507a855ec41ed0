package crawler

import (
	"reflect"
	"testing"

	"github.com/affwatch/affwatch"
)

// The word index lists, for each lower-cased word (and each mark that is not a letter, a
// digit or a space), the blocks that hold it, once each and in order; a word that mixes
// ASCII letters with others is found under its ASCII runs too, where a pattern's \b can
// start a match ("écure" holds "cure").
func TestWordIndex(t *testing.T) {
	blocks := []affwatch.Block{
		{Text: "Only 3 LEFT in stock! Only today."},
		{Text: "Deal ends in 02:15:07"},
		{Text: "écure 5left"},
		{Text: ""},
		{Text: "left"},
	}
	got := wordIndex(blocks)
	want := map[string][]int{
		"only": {0}, "left": {0, 2, 4}, "in": {0, 1}, "stock": {0}, "today": {0}, "!": {0}, ".": {0},
		"deal": {1}, "ends": {1}, ":": {1},
		"écure": {2}, "cure": {2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("word index\n got %v\nwant %v", got, want)
	}
}

// Extract writes the index into the page, over its blocks.
func TestExtractWritesTheWordIndex(t *testing.T) {
	p, err := Extract([]byte(`<html><body><p>Hurry, only 2 left!</p><p hidden>Secret sale</p></body></html>`), "https://a.example/", ExtractOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Blocks) != 2 {
		t.Fatalf("%d blocks, want 2: %+v", len(p.Blocks), p.Blocks)
	}
	for w, want := range map[string][]int{"hurry": {0}, "left": {0}, ",": {0}, "sale": {1}} {
		if got := p.Words[w]; !reflect.DeepEqual(got, want) {
			t.Errorf("words[%q] = %v, want %v", w, got, want)
		}
	}
}
