package contracts

import (
	"encoding/json"
	"strconv"
	"strings"
)

// JSON puts no bound on a number; I-JSON (RFC 7493) and every consumer that
// decodes into a float64 (encoding/json, JavaScript) do. Data holding a
// number beyond a float64's range would be accepted where it is sent and
// then fail every consumer after it, so validation refuses it there, with
// its pointer. A number too small for a float64 reads as zero everywhere
// and is left alone.

// msgNumberRange is the field error of a number beyond a float64's range.
const msgNumberRange = "is a number beyond the range of a 64-bit float (about ±1.8e308)"

// fitsFloat64 reports whether n is within a float64's range. Without an
// exponent, a number of fewer than 309 digits always is.
func fitsFloat64(n json.Number) bool {
	if len(n) < 309 && !strings.ContainsAny(string(n), "eE") {
		return true
	}
	_, err := strconv.ParseFloat(string(n), 64)
	return err == nil
}

// rangeErrors adds a field error for every number in doc, a document
// decoded with its numbers as json.Number, that does not fit a float64.
func rangeErrors(doc any, loc []string, fields *[]FieldError) {
	switch v := doc.(type) {
	case json.Number:
		if !fitsFloat64(v) {
			*fields = append(*fields, FieldError{Pointer: pointer(loc), Message: msgNumberRange})
		}
	case map[string]any:
		for name, member := range v {
			rangeErrors(member, append(loc[:len(loc):len(loc)], name), fields)
		}
	case []any:
		for i, item := range v {
			rangeErrors(item, append(loc[:len(loc):len(loc)], strconv.Itoa(i)), fields)
		}
	}
}
