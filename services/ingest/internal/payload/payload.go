// Package payload reads webhook bodies: it decodes JSON and form-encoded
// bodies into fields, maps a source's fields onto the standard lead fields,
// and reduces a sender's event type to a subject token.
package payload

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
)

// Fields is a decoded body: field name to value. Values decoded from JSON are
// string, json.Number, bool, nil, []any or map[string]any; values decoded from
// a form are string, or []string for a repeated field.
type Fields map[string]any

// Errors returned by [Decode], wrapped.
var (
	// ErrUnsupportedMediaType means the body is neither JSON nor a form.
	ErrUnsupportedMediaType = errors.New("unsupported media type")
	// ErrUnsupportedCharset means the Content-Type names a charset that is
	// unknown, or that JSON cannot be in; it wraps ErrUnsupportedMediaType.
	ErrUnsupportedCharset = fmt.Errorf("%w: unsupported charset", ErrUnsupportedMediaType)
	// ErrMalformed means the body does not parse as its media type says.
	ErrMalformed = errors.New("malformed body")
)

// Media types Decode understands.
const (
	MediaJSON = "application/json"
	MediaForm = "application/x-www-form-urlencoded"
)

// MediaType returns the media type of a Content-Type header value, lowercase
// and without parameters. An empty header is taken to be JSON, the format of
// nearly every webhook sender.
func MediaType(contentType string) (string, error) {
	mt, _, err := parseContentType(contentType)
	return mt, err
}

// parseContentType returns the media type of a Content-Type header value,
// as [MediaType] does, and its charset parameter, "" when there is none.
func parseContentType(contentType string) (mt, charset string, err error) {
	if strings.TrimSpace(contentType) == "" {
		return MediaJSON, "", nil
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", "", fmt.Errorf("%w %q: %w", ErrUnsupportedMediaType, contentType, err)
	}
	switch {
	case mt == MediaJSON, mt == "text/json", strings.HasSuffix(mt, "+json"):
		return MediaJSON, params["charset"], nil
	case mt == MediaForm:
		return MediaForm, params["charset"], nil
	}
	return "", "", fmt.Errorf("%w %q: send %s or %s", ErrUnsupportedMediaType, mt, MediaJSON, MediaForm)
}

// Decode decodes body according to contentType. A JSON body must be one
// object in UTF-8 (a charset other than UTF-8 is unsupported); numbers keep
// their exact text as json.Number. A form is read in the charset its
// Content-Type declares, any the WHATWG Encoding Standard names (such as
// ISO-8859-1 or Shift_JIS), and its names and values are returned in UTF-8;
// a form in UTF-8, declared or not, whose text is not valid UTF-8 is
// malformed, naming the field. A "form" whose body is a JSON object is read
// as JSON: HTTP clients such as curl -d label JSON as a form unless told
// otherwise, and no real form body starts with '{'.
func Decode(contentType string, body []byte) (Fields, error) {
	mt, charset, err := parseContentType(contentType)
	if err != nil {
		return nil, err
	}
	enc, err := textEncoding(charset)
	if err != nil {
		return nil, err
	}
	if mt == MediaForm {
		return decodeFormOrJSON(body, enc)
	}
	if enc != nil && !asciiLabel(charset) {
		return nil, fmt.Errorf("%w %q: JSON is UTF-8; send charset=utf-8 or none", ErrUnsupportedCharset, charset)
	}
	return decodeJSON(body)
}

// decodeFormOrJSON decodes a body labelled as a form in enc (nil for
// UTF-8), which may be a JSON object.
func decodeFormOrJSON(body []byte, enc encoding.Encoding) (Fields, error) {
	if !looksLikeJSONObject(body) {
		return decodeForm(body, enc)
	}
	if enc != nil {
		utf, err := enc.NewDecoder().Bytes(body)
		if err != nil {
			return nil, fmt.Errorf("%w: not in its declared charset: %w", ErrMalformed, err)
		}
		body = utf
	}
	return decodeJSON(body)
}

// textEncoding returns the encoding a charset names, or nil for UTF-8
// (also when charset is empty).
func textEncoding(charset string) (encoding.Encoding, error) {
	if charset == "" {
		return nil, nil
	}
	enc, err := htmlindex.Get(charset)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrUnsupportedCharset, charset, err)
	}
	if name, _ := htmlindex.Name(enc); name == "utf-8" {
		return nil, nil
	}
	return enc, nil
}

// asciiLabel reports whether charset names US-ASCII, whose text is UTF-8
// (the Encoding Standard reads the label as windows-1252, a superset).
func asciiLabel(charset string) bool {
	switch strings.ToLower(strings.TrimSpace(charset)) {
	case "us-ascii", "ascii":
		return true
	}
	return false
}

func looksLikeJSONObject(body []byte) bool {
	b := bytes.TrimSpace(body)
	return len(b) > 0 && b[0] == '{' && json.Valid(b)
}

// decodeJSON decodes a body that must be one JSON object.
func decodeJSON(body []byte) (Fields, error) {
	if f, ok := decodeObjectInPlace(body); ok {
		return f, nil
	}
	return decodeJSONStd(body)
}

// decodeJSONStd decodes body with encoding/json, whose reading and error
// messages are the reference for every body.
func decodeJSONStd(body []byte) (Fields, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, fmt.Errorf("%w: the body is empty", ErrMalformed)
	}
	if !utf8.Valid(body) {
		// encoding/json would store U+FFFD in place of the bytes.
		return nil, fmt.Errorf("%w: the body is not valid UTF-8, as JSON must be", ErrMalformed)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: not JSON: %w", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON value", ErrMalformed)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: the body must be a JSON object, not %s", ErrMalformed, jsonKind(v))
	}
	return Fields(obj), nil
}

// decodeForm decodes a form whose percent-decoded text is in enc, or in
// UTF-8 when enc is nil.
func decodeForm(body []byte, enc encoding.Encoding) (Fields, error) {
	q, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("%w: not form-encoded: %w", ErrMalformed, err)
	}
	f := make(Fields, len(q))
	for k, vs := range q {
		name, err := formText(k, k, enc)
		if err != nil {
			return nil, err
		}
		for i, v := range vs {
			if vs[i], err = formText(k, v, enc); err != nil {
				return nil, err
			}
		}
		if len(vs) == 1 {
			f[name] = vs[0]
		} else {
			f[name] = vs
		}
	}
	return f, nil
}

// formText returns s, part of the form field named field, in UTF-8.
func formText(field, s string, enc encoding.Encoding) (string, error) {
	if enc == nil {
		if !utf8.ValidString(s) {
			return "", fmt.Errorf("%w: field %s is not valid UTF-8; declare the form's charset, such as "+
				"Content-Type: %s; charset=ISO-8859-1", ErrMalformed, quoteField(field), MediaForm)
		}
		return s, nil
	}
	out, err := enc.NewDecoder().String(s)
	if err != nil {
		return "", fmt.Errorf("%w: field %s is not in the declared charset: %w", ErrMalformed, quoteField(field), err)
	}
	return out, nil
}

// quoteField quotes a field name for messages, shortened, with the bytes
// that are not UTF-8 escaped.
func quoteField(name string) string {
	return strconv.Quote(truncate(name, 64))
}

// jsonKind names the JSON type of a decoded value, for messages.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case string, []string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
