package payload

import "github.com/gtmhub/gtmhub/contracts/jsonalike"

// A webhook body is read by fastjson where it can be: fastjson parses in
// one pass without building intermediate values, where encoding/json scans
// every byte twice and goes through reflection. jsonalike takes only a body
// both read alike; every other body, and every error, is encoding/json's.
// FuzzDecodeJSON holds the two readings to each other.

// decodeObjectInPlace returns body decoded as encoding/json with UseNumber
// decodes it, and true, when body is a JSON object that fastjson reads as
// encoding/json does.
func decodeObjectInPlace(body []byte) (Fields, bool) {
	doc, ok := jsonalike.Decode(body)
	m, isObject := doc.(map[string]any)
	return Fields(m), ok && isObject
}
