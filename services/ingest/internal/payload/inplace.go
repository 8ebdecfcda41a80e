package payload

import (
	"encoding/json"

	"github.com/valyala/fastjson"

	"github.com/gtmhub/gtmhub/contracts/jsonalike"
)

// A webhook body is read by fastjson where it can be: fastjson parses in
// one pass without building intermediate values, where encoding/json scans
// every byte twice and goes through reflection. jsonalike takes only a body
// both read alike; every other body, and every error, is encoding/json's.
// FuzzDecodeJSON holds the two readings to each other.

// decodeObjectInPlace returns body decoded as encoding/json with UseNumber
// decodes it, and true, when body is a JSON object that fastjson reads as
// encoding/json does.
func decodeObjectInPlace(body []byte) (Fields, bool) {
	var f Fields
	jsonalike.Parse(body, func(v *fastjson.Value) {
		if v.Type() == fastjson.TypeObject {
			f = objectValue(v.GetObject())
		}
	})
	return f, f != nil
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
