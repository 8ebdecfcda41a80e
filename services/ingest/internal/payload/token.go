package payload

import (
	"bytes"
	"encoding/json"
	"strings"
)

// StringAt returns the string at a dotted path such as "event.type" in a
// JSON object body, or "" when the path does not lead to a string. For a
// JSON array body (HubSpot sends a batch of events) it returns the string
// its elements share: "" when the array is empty, when an element has none,
// or when they differ, since no one value then describes the batch.
func StringAt(body []byte, path string) string {
	var v any
	if path == "" || json.Unmarshal(body, &v) != nil {
		return ""
	}
	list, ok := v.([]any)
	if !ok {
		return stringAt(v, path)
	}
	shared := ""
	for i, elem := range list {
		s := stringAt(elem, path)
		if s == "" || (i > 0 && s != shared) {
			return ""
		}
		shared = s
	}
	return shared
}

// stringAt returns the string at path in a decoded JSON value.
func stringAt(v any, path string) string {
	s, _ := walk(v, strings.Split(path, ".")).(string)
	return s
}

// IDAt returns the delivery id at a dotted path in a JSON body: a string or
// a number. For a JSON array body (HubSpot sends a batch of events) it
// returns the ids of all elements joined by commas, or "" when one has none.
func IDAt(body []byte, path string) string {
	if path == "" {
		return ""
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return ""
	}
	if list, ok := v.([]any); ok {
		ids := make([]string, 0, len(list))
		for _, elem := range list {
			id := idAt(elem, path)
			if id == "" {
				return ""
			}
			ids = append(ids, id)
		}
		return strings.Join(ids, ",")
	}
	return idAt(v, path)
}

// idAt returns the id, a string or a number, at path in a decoded JSON
// value.
func idAt(v any, path string) string {
	switch id := walk(v, strings.Split(path, ".")).(type) {
	case string:
		return strings.TrimSpace(id)
	case json.Number:
		return id.String()
	}
	return ""
}
