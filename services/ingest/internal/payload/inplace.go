package payload

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// A webhook body is read by fastjson where it can be: fastjson parses in
// one pass without building intermediate values, where encoding/json scans
// every byte twice and goes through reflection. fastjson is more lenient
// and rewrites less, so it is used only for a body both read alike: valid
// JSON, valid UTF-8 throughout (encoding/json replaces invalid bytes with
// U+FFFD) and without a \u escape of a UTF-16 surrogate (encoding/json
// replaces an unpaired one with U+FFFD, fastjson keeps it as written).
// Every other body, and every error, is encoding/json's. FuzzDecodeJSON
// holds the two readings to each other.

// parsers lends fastjson parsers, each reused for many bodies.
var parsers fastjson.ParserPool

// decodeObjectInPlace returns body decoded as encoding/json with UseNumber
// decodes it, and true, when body is a JSON object that fastjson reads as
// encoding/json does.
func decodeObjectInPlace(body []byte) (Fields, bool) {
	if !utf8.Valid(body) || !plainStrings(body) {
		return nil, false
	}
	p := parsers.Get()
	defer parsers.Put(p)
	// The parser is lenient but nests at most fastjson.MaxDepth deep, which
	// bounds the recursion of the validator after it. A body it
	// refuses, deeper or not an object, is left to encoding/json to explain.
	v, err := p.ParseBytes(body)
	if err != nil || v.Type() != fastjson.TypeObject || fastjson.ValidateBytes(body) != nil {
		return nil, false
	}
	return Fields(objectValue(v.GetObject())), true
}

// plainStrings reports whether no string of body, read as JSON, holds a
// control character or a \u escape of a UTF-16 surrogate. fastjson's
// validator misses a control character in a string that has an escape
// after it.
func plainStrings(body []byte) bool {
	var inString, escaped bool
	for i, c := range body {
		switch {
		case escaped:
			if c == 'u' && surrogate(body[i+1:]) {
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

// surrogate reports whether hex, the digits of a \u escape, starts with D8
// to DF: half of a UTF-16 surrogate pair, or an unpaired one.
func surrogate(hex []byte) bool {
	if len(hex) < 2 || hex[0]|0x20 != 'd' {
		return false
	}
	h := hex[1] | 0x20
	return h >= '8' && h <= '9' || h >= 'a' && h <= 'f'
}

// objectValue builds the map encoding/json decodes o to: a member named
// twice keeps its last value.
func objectValue(o *fastjson.Object) map[string]any {
	m := make(map[string]any, o.Len())
	o.Visit(func(name []byte, v *fastjson.Value) {
		m[string(name)] = decodedValue(v)
	})
	return m
}

// decodedValue builds what encoding/json with UseNumber decodes v to.
func decodedValue(v *fastjson.Value) any {
	switch v.Type() {
	case fastjson.TypeObject:
		return objectValue(v.GetObject())
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
