package rules

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/affwatch/affwatch"
)

// Input converts a page into the Rego input value: the value its JSON encoding would
// parse to, built directly from the Go value (no JSON text is written and read again,
// which cost a third of the allocations of a page's evaluation).
//
// The page's word index holds only the words a rule can ask for (indexWords), when the
// rules say which; a page's terms are allocated together, a slab at a time.
func (e *Engine) Input(page *affwatch.Page) (ast.Value, error) {
	b := builder{words: e.words}
	v, err := b.toValue(reflect.ValueOf(page))
	if err != nil {
		return nil, fmt.Errorf("evaluate %s: %w", page.URL, err)
	}
	return v, nil
}

// structField is how one field of a struct appears in JSON.
type structField struct {
	index     int
	key       *ast.Term
	omitEmpty bool
	omitZero  bool
}

var (
	fieldCache sync.Map // reflect.Type -> []structField
	timeType   = reflect.TypeFor[time.Time]()
	marshaler  = reflect.TypeFor[json.Marshaler]()
)

// fieldsOf reads a struct type's JSON field names and options once.
func fieldsOf(t reflect.Type) []structField {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.([]structField)
	}
	var fs []structField
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		sf := structField{index: i, key: ast.StringTerm(name)}
		for _, o := range strings.Split(opts, ",") {
			sf.omitEmpty = sf.omitEmpty || o == "omitempty"
			sf.omitZero = sf.omitZero || o == "omitzero"
		}
		fs = append(fs, sf)
	}
	fieldCache.Store(t, fs)
	return fs
}

// empty is encoding/json's omitempty test.
func empty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

// builder builds one input value. Its terms are cut from slabs (one allocation for many
// terms), and the object items of a struct or map are built on a stack it reuses, as
// ast.NewObject copies them.
type builder struct {
	// words are the index words to keep (nil: all).
	words map[string]struct{}
	terms []ast.Term
	items [][2]*ast.Term
	elems []*ast.Term
}

// slab is how many terms (or array elements) one allocation holds.
const slab = 128

// term returns a new term holding v.
func (b *builder) term(v ast.Value) *ast.Term {
	if len(b.terms) == cap(b.terms) {
		b.terms = make([]ast.Term, 0, slab)
	}
	b.terms = append(b.terms, ast.Term{Value: v})
	return &b.terms[len(b.terms)-1]
}

// array returns n element slots for a new array (ast.NewArray keeps the slice it is given).
func (b *builder) array(n int) []*ast.Term {
	if n > slab/4 {
		return make([]*ast.Term, n)
	}
	if cap(b.elems)-len(b.elems) < n {
		b.elems = make([]*ast.Term, 0, slab)
	}
	start := len(b.elems)
	b.elems = b.elems[:start+n]
	return b.elems[start : start+n : start+n]
}

// toValue builds the Rego value of a Go value the way encoding/json would encode it:
// nil slices, maps and pointers are null, omitempty and omitzero are honoured, and types
// with their own MarshalJSON (time.Time) use it.
func (b *builder) toValue(v reflect.Value) (ast.Value, error) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return ast.NullValue, nil
		}
		return b.toValue(v.Elem())
	case reflect.String:
		return ast.String(validUTF8(v.String())), nil
	case reflect.Bool:
		return ast.Boolean(v.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return ast.InternedValue(int(v.Int())), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return ast.Number(strconv.FormatUint(v.Uint(), 10)), nil
	}
	if v.Type() == timeType || (v.Kind() != reflect.Struct && v.Type().Implements(marshaler)) || v.Kind() == reflect.Float32 || v.Kind() == reflect.Float64 {
		return viaJSON(v)
	}
	switch v.Kind() {
	case reflect.Slice:
		if v.IsNil() {
			return ast.NullValue, nil
		}
		fallthrough
	case reflect.Array:
		terms := b.array(v.Len())
		for i := range terms {
			x, err := b.toValue(v.Index(i))
			if err != nil {
				return nil, err
			}
			terms[i] = b.term(x)
		}
		return ast.NewArray(terms...), nil
	case reflect.Map:
		if v.IsNil() {
			return ast.NullValue, nil
		}
		if m, ok := v.Interface().(map[string][]int); ok {
			return b.intListsValue(m), nil
		}
		if v.Type().Key().Kind() != reflect.String {
			return viaJSON(v)
		}
		start := len(b.items)
		defer func() { b.items = b.items[:start] }()
		it := v.MapRange()
		for it.Next() {
			x, err := b.toValue(it.Value())
			if err != nil {
				return nil, err
			}
			b.items = append(b.items, [2]*ast.Term{b.term(ast.String(validUTF8(it.Key().String()))), b.term(x)})
		}
		return ast.NewObject(b.items[start:]...), nil
	case reflect.Struct:
		fs := fieldsOf(v.Type())
		start := len(b.items)
		defer func() { b.items = b.items[:start] }()
		for _, f := range fs {
			fv := v.Field(f.index)
			if (f.omitEmpty && empty(fv)) || (f.omitZero && fv.IsZero()) {
				continue
			}
			x, err := b.toValue(fv)
			if err != nil {
				return nil, err
			}
			b.items = append(b.items, [2]*ast.Term{f.key, b.term(x)})
		}
		return ast.NewObject(b.items[start:]...), nil
	}
	return viaJSON(v)
}

// validUTF8 replaces each byte that is not valid UTF-8 with U+FFFD, as encoding/json does.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// viaJSON converts what toValue does not build itself (times, floats, other marshalers).
func viaJSON(v reflect.Value) (ast.Value, error) {
	raw, err := json.Marshal(v.Interface())
	if err != nil {
		return nil, err
	}
	return ast.ValueFromReader(strings.NewReader(string(raw)))
}

// intListsValue builds an object of integer lists (the page's word index, Page.Words) with
// a few allocations per key rather than one per value: its terms are allocated together
// and small integers are OPA's interned ones. A page has a key per distinct word; only the
// builder's words are kept, when it has a list.
func (b *builder) intListsValue(m map[string][]int) ast.Value {
	n, keys := 0, 0
	for w, is := range m {
		if b.keep(w) {
			n += len(is)
			keys++
		}
	}
	ints := make([]*ast.Term, 0, n)
	terms := make([]ast.Term, 2*keys)
	items := make([][2]*ast.Term, 0, keys)
	for w, is := range m {
		if !b.keep(w) {
			continue
		}
		start := len(ints)
		for _, i := range is {
			ints = append(ints, ast.InternedTerm(i))
		}
		k, v := &terms[2*len(items)], &terms[2*len(items)+1]
		k.Value, v.Value = ast.String(validUTF8(w)), ast.NewArray(ints[start:len(ints):len(ints)]...)
		items = append(items, [2]*ast.Term{k, v})
	}
	return ast.NewObject(items...)
}

// keep is true for an index word the input carries.
func (b *builder) keep(w string) bool {
	if b.words == nil {
		return true
	}
	_, ok := b.words[w]
	return ok
}
