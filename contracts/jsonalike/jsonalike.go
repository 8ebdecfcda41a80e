// Package jsonalike parses JSON in place with fastjson where fastjson reads
// it exactly as encoding/json does, so a hot path can skip encoding/json's
// reflection and leave every other document, and every error, to it.
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
	"unicode/utf8"

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

// plainStrings reports whether no string of data, read as JSON, holds a
// control character or a \u escape of a UTF-16 surrogate. fastjson's
// validator misses a control character in a string that has an escape
// after it.
func plainStrings(data []byte) bool {
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

// surrogate reports whether hex, the digits of a \u escape, starts with D8
// to DF: half of a UTF-16 surrogate pair, or an unpaired one.
func surrogate(hex []byte) bool {
	if len(hex) < 2 || hex[0]|0x20 != 'd' {
		return false
	}
	h := hex[1] | 0x20
	return h >= '8' && h <= '9' || h >= 'a' && h <= 'f'
}
