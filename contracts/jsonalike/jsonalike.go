// Package jsonalike parses JSON in place with fastjson where fastjson reads
// it exactly as encoding/json does, so a hot path can skip encoding/json's
// reflection and leave every other document, and every error, to it.
// [Parse] hands the parsed value to a function; [Decode] builds from it the
// Go values encoding/json with UseNumber would. [Unmarshal] fills a Go value
// as encoding/json.Unmarshal does, with segmentio's decoder, which reads
// structs without most of encoding/json's reflection, where it succeeds on
// such a document, and with encoding/json for everything else and every
// error.
//
// fastjson is more lenient than encoding/json and rewrites less: it accepts
// a control character in a string that has an escape after it, keeps bytes
// that are not valid UTF-8 (encoding/json replaces them with U+FFFD), and
// keeps a \u escape of an unpaired UTF-16 surrogate as written (encoding/json
// replaces it with U+FFFD). A document is parsed only when none of these can
// arise: it is valid JSON, valid UTF-8 throughout, and no string in it holds
// a control character or a \u escape of a surrogate.
package jsonalike

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"reflect"
	"unicode/utf8"

	segjson "github.com/segmentio/encoding/json"
	"github.com/valyala/fastjson"
)

// parsers lends fastjson parsers, each reused for many documents.
var parsers fastjson.ParserPool

// Parse calls fn with data parsed in place and returns true when fastjson
// and encoding/json read data alike; otherwise it returns false without
// calling fn. v, and every value reached from it, is valid only during fn.
// The parser nests at most fastjson.MaxDepth deep, which bounds the
// recursion of whatever walks v.
func Parse(data []byte, fn func(v *fastjson.Value)) bool {
	if !utf8.Valid(data) || !plainStrings(data) {
		return false
	}
	p := parsers.Get()
	defer parsers.Put(p)
	// The parser, which stops at fastjson.MaxDepth, goes first: the
	// validator has no such bound and takes minutes on a long run of
	// brackets.
	v, err := p.ParseBytes(data)
	if err != nil || fastjson.ValidateBytes(data) != nil {
		return false
	}
	fn(v)
	return true
}

// Decode returns what encoding/json with UseNumber decodes data to (a
// map[string]any, []any, string, json.Number, bool or nil), and true, when
// fastjson reads data as encoding/json does; otherwise nil and false, and
// data is encoding/json's to decode or to explain. A member named twice
// keeps its last value, as with encoding/json.
func Decode(data []byte) (any, bool) {
	var doc any
	ok := Parse(data, func(v *fastjson.Value) { doc = decodedValue(v) })
	return doc, ok
}

// Unmarshal decodes data into v, a non-nil pointer, as encoding/json's
// Unmarshal does and with its result. Into a zero value, a document that
// segmentio's decoder reads alike (see [segmentioAlike]) is decoded by it
// first; any other document or value, and a document that decoder refuses,
// is left to encoding/json (after setting v back to zero), so that errors
// and what is refused are encoding/json's own. segmentio's errors quote the
// input, which may hold personal data.
func Unmarshal(data []byte, v any) error {
	p := reflect.ValueOf(v)
	if p.Kind() != reflect.Pointer || p.IsNil() || !p.Elem().IsZero() ||
		!utf8.Valid(data) || !plainStrings(data) || !segmentioAlike(data) {
		return json.Unmarshal(data, v)
	}
	if segjson.Unmarshal(data, v) == nil {
		return nil
	}
	p.Elem().SetZero()
	return json.Unmarshal(data, v)
}

// maxUnmarshalDepth is the deepest nesting Unmarshal leaves to segmentio's
// decoder, which has no bound of its own (encoding/json stops at 10,000
// levels) and slows down far faster than the document grows on deep
// arrays: a second for 10,000 levels, where encoding/json takes 2 ms.
const maxUnmarshalDepth = 64

// segmentioAlike reports whether data is shallow enough for segmentio's
// decoder (maxUnmarshalDepth) and has no member name holding a byte beyond
// ASCII or an escape: encoding/json matches names to fields with Unicode
// case folding ("ſtatus" is "status", "\u212Aey" is "key"), segmentio's
// decoder with ASCII case folding only.
func segmentioAlike(data []byte) bool {
	depth := 0
	inString, escaped, special := false, false, false
	for i, c := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped, special = true, true
			case c == '"':
				inString = false
				if special && memberName(data[i+1:]) {
					return false
				}
			case c >= utf8.RuneSelf:
				special = true
			}
			continue
		}
		switch c {
		case '"':
			inString, special = true, false
		case '{', '[':
			if depth++; depth > maxUnmarshalDepth {
				return false
			}
		case '}', ']':
			depth--
		}
	}
	return true
}

// memberName reports whether the string that rest follows is a member
// name: a colon comes next.
func memberName(rest []byte) bool {
	for _, c := range rest {
		switch c {
		case ' ', '\t', '\n', '\r':
		case ':':
			return true
		default:
			return false
		}
	}
	return false
}

// decodedValue builds what encoding/json with UseNumber decodes v to.
func decodedValue(v *fastjson.Value) any {
	switch v.Type() {
	case fastjson.TypeObject:
		o := v.GetObject()
		m := make(map[string]any, o.Len())
		o.Visit(func(name []byte, member *fastjson.Value) {
			m[string(name)] = decodedValue(member)
		})
		return m
	case fastjson.TypeArray:
		items := v.GetArray()
		out := make([]any, len(items))
		for i, item := range items {
			out[i] = decodedValue(item)
		}
		return out
	case fastjson.TypeString:
		return string(v.GetStringBytes())
	case fastjson.TypeNumber:
		return json.Number(v.String()) // a number's text as written
	case fastjson.TypeTrue:
		return true
	case fastjson.TypeFalse:
		return false
	}
	return nil
}

// plainStrings reports whether no string of data, read as JSON, holds a
// control character or a \u escape of a UTF-16 surrogate. fastjson's
// validator misses a control character in a string that has an escape
// after it.
func plainStrings(data []byte) bool {
	if bytes.IndexByte(data, '\\') < 0 && !hasControl(data) {
		return true // compact JSON without escapes, the usual event
	}
	var inString, escaped bool
	for i, c := range data {
		switch {
		case escaped:
			if c == 'u' && surrogate(data[i+1:]) {
				return false
			}
			escaped = false
		case c == '"':
			inString = !inString
		case !inString:
		case c == '\\':
			escaped = true
		case c < 0x20:
			return false
		}
	}
	return true
}

// hasControl reports whether data holds a byte below 0x20, eight bytes at a
// time: a word's byte below 0x20 borrows in x-0x20…20 and sets its top bit
// where x's own top bit is clear. A borrow only runs on from a byte that was
// below 0x20 already, so the answer is exact.
func hasControl(data []byte) bool {
	const ones, tops = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(data); i += 8 {
		x := binary.LittleEndian.Uint64(data[i:])
		if (x-ones*0x20)&^x&tops != 0 {
			return true
		}
	}
	for _, c := range data[i:] {
		if c < 0x20 {
			return true
		}
	}
	return false
}

// surrogate reports whether hex, the digits of a \u escape, starts with D8
// to DF: half of a UTF-16 surrogate pair, or an unpaired one.
func surrogate(hex []byte) bool {
	if len(hex) < 2 || hex[0]|0x20 != 'd' {
		return false
	}
	h := hex[1] | 0x20
	return h >= '8' && h <= '9' || h >= 'a' && h <= 'f'
}
