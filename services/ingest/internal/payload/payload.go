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
	"strings"
)

// Fields is a decoded body: field name to value. Values decoded from JSON are
// string, json.Number, bool, nil, []any or map[string]any; values decoded from
// a form are string, or []string for a repeated field.
type Fields map[string]any

// Errors returned by [Decode], wrapped.
var (
	// ErrUnsupportedMediaType means the body is neither JSON nor a form.
	ErrUnsupportedMediaType = errors.New("unsupported media type")
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
	if strings.TrimSpace(contentType) == "" {
		return MediaJSON, nil
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", fmt.Errorf("%w %q: %w", ErrUnsupportedMediaType, contentType, err)
	}
	switch {
	case mt == MediaJSON, mt == "text/json", strings.HasSuffix(mt, "+json"):
		return MediaJSON, nil
	case mt == MediaForm:
		return MediaForm, nil
	}
	return "", fmt.Errorf("%w %q: send %s or %s", ErrUnsupportedMediaType, mt, MediaJSON, MediaForm)
}

// Decode decodes body according to contentType. A JSON body must be one
// object; numbers keep their exact text as json.Number. A "form" whose body
// is a JSON object is read as JSON: HTTP clients such as curl -d label JSON
// as a form unless told otherwise, and no real form body starts with '{'.
func Decode(contentType string, body []byte) (Fields, error) {
	mt, err := MediaType(contentType)
	if err != nil {
		return nil, err
	}
	if mt == MediaForm && !looksLikeJSONObject(body) {
		return decodeForm(body)
	}
	return decodeJSON(body)
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

func decodeForm(body []byte) (Fields, error) {
	q, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("%w: not form-encoded: %w", ErrMalformed, err)
	}
	f := make(Fields, len(q))
	for k, vs := range q {
		if len(vs) == 1 {
			f[k] = vs[0]
		} else {
			f[k] = vs
		}
	}
	return f, nil
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
