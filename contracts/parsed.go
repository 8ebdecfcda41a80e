package contracts

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/gtmhub/gtmhub/contracts/jsonalike"
)

// The plan reads a document parsed in place by fastjson, which builds no Go
// values: checking a conforming event then allocates next to nothing,
// where decoding it into an any allocated for every member. A document is
// checked only when jsonalike finds it reads the same to fastjson and
// encoding/json, and a document with a value the plan cannot judge (an
// object that names a member twice) is left to the library: one walk of
// the tree (readTree) finds those before the plan reads it.

// conformsData tells whether data, a JSON document, satisfies p's schema.
func (p *plan) conformsData(data []byte) verdict {
	verdict := unknown
	jsonalike.Parse(data, func(v *fastjson.Value) {
		if plain, finite := readTree(v); plain {
			if verdict = p.conforms(v); verdict == conforming && !finite {
				verdict = unknown // the library path reports where
			}
		}
	})
	return verdict
}

// decodeConforming returns data as encoding/json decodes it into an any,
// and true, when data satisfies p's schema and the plan could tell.
func (p *plan) decodeConforming(data []byte) (any, bool) {
	var (
		doc any
		ok  bool
	)
	jsonalike.Parse(data, func(v *fastjson.Value) {
		if plain, _ := readTree(v); plain && p.conforms(v) == conforming {
			doc, ok = decodedValue(v, 0, &interner{names: p.names, values: p.values})
		}
	})
	return doc, ok
}

// interner makes the strings of one decoded document, each text once where
// it can: a property name of the schema is that name, and a value is the
// boxed string of that name or of one of the last few values made. A
// change event repeats its event id, its time and its sources in every
// field's provenance, and names fields in its changes. A string becomes an
// allocation of its own again when it is stored in an any, so values are
// kept boxed.
type interner struct {
	names  map[string]string
	values map[string]any
	recent [8]any
	next   int
	buf    []byte // a number's text
}

func (in *interner) name(b []byte) string {
	if s, ok := in.names[string(b)]; ok {
		return s
	}
	return string(b)
}

func (in *interner) value(b []byte) any {
	if v, ok := in.values[string(b)]; ok {
		return v
	}
	for _, v := range in.recent {
		if s, ok := v.(string); ok && s == string(b) {
			return v
		}
	}
	var v any = string(b)
	in.recent[in.next] = v
	in.next = (in.next + 1) % len(in.recent)
	return v
}

// readTree walks v once and reports whether every object in it names each
// member once, with at most maxScannedMembers of them (plain: the plan can
// judge it), and whether every number fits a float64 (finite).
func readTree(v *fastjson.Value) (plain, finite bool) {
	plain, finite = true, true
	var (
		walk func(v *fastjson.Value)
		buf  []byte
	)
	walk = func(v *fastjson.Value) {
		switch v.Type() {
		case fastjson.TypeNumber:
			buf = numberBytes(v, buf[:0])
			finite = finite && fitsFloat64(json.Number(buf))
		case fastjson.TypeObject:
			o := v.GetObject()
			if plain = plain && plainMembers(o); plain {
				o.Visit(func(_ []byte, member *fastjson.Value) { walk(member) })
			}
		case fastjson.TypeArray:
			for _, item := range v.GetArray() {
				walk(item)
			}
		}
	}
	walk(v)
	return plain, finite
}

// decodedValue builds from v what encoding/json decodes it to in an any:
// map[string]any, []any, string, float64, bool or nil. It returns false for
// what kindOf cannot judge and for a number that does not fit a float64,
// which encoding/json refuses. Its strings, names and values, come from in.
func decodedValue(v *fastjson.Value, depth int, in *interner) (any, bool) {
	if depth > maxDepth || kindOf(v) == 0 {
		return nil, false
	}
	switch v.Type() {
	case fastjson.TypeObject:
		o := v.GetObject()
		m := make(map[string]any, o.Len())
		ok := true
		o.Visit(func(name []byte, member *fastjson.Value) {
			if !ok {
				return
			}
			m[in.name(name)], ok = decodedValue(member, depth+1, in)
		})
		return m, ok
	case fastjson.TypeArray:
		items := v.GetArray()
		out := make([]any, len(items))
		for i, item := range items {
			var ok bool
			if out[i], ok = decodedValue(item, depth+1, in); !ok {
				return nil, false
			}
		}
		return out, true
	case fastjson.TypeString:
		return in.value(v.GetStringBytes()), true
	case fastjson.TypeNumber:
		in.buf = numberBytes(v, in.buf[:0])
		f, err := strconv.ParseFloat(string(in.buf), 64)
		return f, err == nil
	case fastjson.TypeTrue:
		return true, true
	case fastjson.TypeFalse:
		return false, true
	}
	return nil, true // null
}

// conformsValue tells whether v, a document decoded by encoding/json,
// satisfies p's schema.
func (p *plan) conformsValue(v any) verdict {
	if !decodedJSON(v, 0) {
		return unknown // json.Marshal would make JSON of what the library rejects
	}
	data, err := json.Marshal(v)
	if err != nil {
		return unknown
	}
	return p.conformsData(data)
}

// decodedJSON reports whether v is made only of what encoding/json decodes
// into an any (maps, slices, strings, numbers, booleans and nil), with
// every string valid UTF-8, so that encoding it again gives the same
// document.
func decodedJSON(v any, depth int) bool {
	if depth > maxDepth {
		return false
	}
	switch v := v.(type) {
	case nil, bool, float64, json.Number:
		return true
	case string:
		return utf8.ValidString(v)
	case []any:
		for _, item := range v {
			if !decodedJSON(item, depth+1) {
				return false
			}
		}
		return true
	case map[string]any:
		for name, item := range v {
			if !utf8.ValidString(name) || !decodedJSON(item, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

// kindOf returns the JSON type of v, a value of a tree readTree found
// plain.
func kindOf(v *fastjson.Value) typeSet {
	switch v.Type() {
	case fastjson.TypeNull:
		return typeNull
	case fastjson.TypeTrue, fastjson.TypeFalse:
		return typeBoolean
	case fastjson.TypeNumber:
		return typeNumber
	case fastjson.TypeString:
		return typeString
	case fastjson.TypeArray:
		return typeArray
	case fastjson.TypeObject:
		return typeObject
	}
	return 0
}

// plainMembers reports whether every member name of o appears once.
func plainMembers(o *fastjson.Object) bool {
	if o.Len() > maxScannedMembers {
		return false
	}
	var buf [maxScannedMembers][]byte
	names := buf[:0]
	ok := true
	o.Visit(func(name []byte, _ *fastjson.Value) {
		if !ok {
			return
		}
		for _, seen := range names {
			if string(seen) == string(name) {
				ok = false
				return
			}
		}
		names = append(names, name)
	})
	return ok
}

// maxScannedMembers bounds the members of an object that plainMembers
// compares pairwise; a larger object is left to the library.
const maxScannedMembers = 64

// numberText returns v's decimal text as encoding/json's UseNumber decodes it.
func numberText(v *fastjson.Value) json.Number {
	return json.Number(v.String()) // a number's String is its text as parsed
}

// numberBytes appends v's decimal text to buf, which a walk of a document
// reuses for every number: numberText costs two allocations a number.
// Converted where it is read (json.Number(b) passed to a function that
// keeps no reference), a short text is copied on the stack.
func numberBytes(v *fastjson.Value, buf []byte) []byte {
	return v.MarshalTo(buf) // a number marshals as its text as parsed
}
