package fakenotion

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

// valueTypes are the property types whose values the fake writes, as
// create and update page requests carry them.
var valueTypes = []string{"title", "rich_text", "select", "multi_select", "status", "number", "checkbox",
	"date", "url", "email", "phone_number"}

// schemaTypes are the property types a database may have; the fake refuses
// writes to those not in valueTypes.
var schemaTypes = append(slices.Clone(valueTypes), "people", "files", "relation", "formula", "rollup",
	"created_time", "created_by", "last_edited_time", "last_edited_by", "unique_id", "button", "verification")

// defaultStatusOptions are the options Notion gives a new status property.
var defaultStatusOptions = []string{"Not started", "In progress", "Done"}

// AddProperty adds a property of type typ to a database's schema, as a
// person editing the database does. A select, multi_select or status
// property starts with options; a status property without any gets
// Notion's three.
func (s *Server) AddProperty(databaseID, name, typ string, options ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	db, ok := s.databases[normID(databaseID)]
	if !ok {
		return fmt.Errorf("no database %s", databaseID)
	}
	if !slices.Contains(schemaTypes, typ) || typ == "title" {
		return fmt.Errorf("property type %q cannot be added", typ)
	}
	if _, dup := db.schema[name]; dup {
		return fmt.Errorf("database already has a property %q", name)
	}
	if typ == "status" && len(options) == 0 {
		options = defaultStatusOptions
	}
	db.schema[name] = typ
	db.options[name] = slices.Clone(options)
	for _, id := range db.pageIDs {
		s.pages[id].Properties[name] = emptyValue(name, typ)
	}
	return nil
}

// SetProperties sets property values of a page, as a person editing it in
// Notion does: the values are checked as an update request's are.
func (s *Server) SetProperties(pageID string, props map[string]notion.Property) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pages[normID(pageID)]
	if !ok {
		return fmt.Errorf("no page %s", pageID)
	}
	raw, err := rawProperties(props)
	if err != nil {
		return err
	}
	checked, err := s.checkProperties(s.databases[p.Parent.DatabaseID], raw)
	if err != nil {
		return err
	}
	for name, v := range checked {
		p.Properties[name] = v
	}
	p.LastEditedTime, p.LastEditedBy = s.stamp(), partial(s.person)
	return nil
}

// rawProperties encodes property values as a request carries them.
func rawProperties(props map[string]notion.Property) (map[string]json.RawMessage, error) {
	out := make(map[string]json.RawMessage, len(props))
	for name, v := range props {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		out[name] = b
	}
	return out, nil
}

// emptyValue is a property as Notion shows it on a page that never set it.
func emptyValue(name, typ string) notion.Property {
	v := notion.Property{ID: name, Type: typ}
	if typ == "checkbox" {
		f := false
		v.Checkbox = &f
	}
	return v
}

// retrieveDatabase answers GET /v1/databases/{id} with the database's
// properties: id, name, type and the type's configuration.
func (s *Server) retrieveDatabase(r *http.Request) (any, error) {
	db, ok := s.databases[normID(r.PathValue("id"))]
	if !ok {
		return nil, notFound(r.PathValue("id"))
	}
	props := map[string]any{}
	for name, typ := range db.schema {
		config := map[string]any{}
		if opts, ok := db.options[name]; ok && (typ == "select" || typ == "multi_select" || typ == "status") {
			list := []any{}
			for _, o := range opts {
				list = append(list, map[string]any{"id": o, "name": o, "color": "default"})
			}
			config["options"] = list
		}
		props[name] = map[string]any{"id": name, "name": name, "type": typ, typ: config}
	}
	return map[string]any{"object": "database", "id": db.id, "title": []any{}, "properties": props}, nil
}

// checkProperties validates property values, as a request carries them,
// against the database schema and the shape Notion documents for each
// type, and returns them with their ids and types set. New select and
// multi_select options join the schema, as in Notion; a status option must
// exist.
func (s *Server) checkProperties(db *database, in map[string]json.RawMessage) (map[string]notion.Property, error) {
	out := map[string]notion.Property{}
	for _, name := range sortedKeys(in) {
		typ, ok := db.schema[name]
		if !ok {
			return nil, validation("%s is not a property that exists.", name)
		}
		body, err := valueOf(name, typ, in[name])
		if err != nil {
			return nil, err
		}
		path := "body.properties." + name + "." + typ
		if err := checkValue(path, typ, body, db.options[name]); err != nil {
			return nil, err
		}
		var v notion.Property
		if err := json.Unmarshal(fmt.Appendf(nil, `{%q:%s}`, typ, body), &v); err != nil {
			return nil, validation("%s should be a valid %s value.", path, typ)
		}
		v.ID, v.Type = name, typ
		v.Title = withPlainText(v.Title)
		v.RichText = withPlainText(v.RichText)
		if v.Date != nil {
			v.Date.Start, v.Date.End = shownDate(v.Date.Start), shownEnd(v.Date.End)
		}
		if typ == "select" || typ == "multi_select" {
			db.options[name] = addOptions(db.options[name], v)
		}
		out[name] = v
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// valueOf returns the type object of a property value: the JSON under the
// key naming the property's type. A value keyed by another type is
// refused as Notion refuses it.
func valueOf(name, typ string, raw json.RawMessage) (json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, validation("body failed validation: body.properties.%s should be an object, instead was `%s`.",
			name, shorten(raw))
	}
	if t, ok := obj["type"]; ok && string(t) != fmt.Sprintf("%q", typ) {
		return nil, validation("%s is expected to be %s.", name, typ)
	}
	body, ok := obj[typ]
	if !ok {
		for _, other := range schemaTypes {
			if _, has := obj[other]; has {
				return nil, validation("%s is expected to be %s.", name, typ)
			}
		}
		return nil, validation("body failed validation: body.properties.%s.%s should be defined, instead was `undefined`.",
			name, typ)
	}
	switch typ {
	case "people", "files", "relation":
		return nil, validation("%s is a %s property, which the fake does not write.", name, typ)
	}
	if !slices.Contains(valueTypes, typ) {
		return nil, validation("%s is a %s property, which the API cannot write.", name, typ)
	}
	return body, nil
}

// checkValue checks the type object of one property value.
func checkValue(path, typ string, body json.RawMessage, options []string) error {
	switch typ {
	case "title", "rich_text":
		return checkTextValue(path, body)
	case "select", "status":
		return checkOptionValue(path, typ, body, options)
	case "multi_select":
		return checkMultiSelect(path, body)
	case "number":
		return checkJSONKind(path, body, "a number or `null`", func(v any) bool { _, ok := v.(float64); return ok || v == nil })
	case "checkbox":
		return checkJSONKind(path, body, "a boolean", func(v any) bool { _, ok := v.(bool); return ok })
	case "date":
		return checkDateValue(path, body)
	case "url":
		return checkStringValue(path, body, notion.MaxURLLength)
	case "email":
		return checkStringValue(path, body, notion.MaxEmailLength)
	case "phone_number":
		return checkStringValue(path, body, notion.MaxPhoneLength)
	}
	return nil
}

// shouldBe is Notion's message for a value of the wrong shape.
func shouldBe(path, want string, body json.RawMessage) error {
	return validation("body failed validation: %s should be %s, instead was `%s`.", path, want, shorten(body))
}

func shorten(b json.RawMessage) string {
	s := string(bytes.TrimSpace(b))
	if utf8.RuneCountInString(s) > 40 {
		s = string([]rune(s)[:37]) + "..."
	}
	return s
}

func checkJSONKind(path string, body json.RawMessage, want string, ok func(any) bool) error {
	var v any
	if err := json.Unmarshal(body, &v); err != nil || !ok(v) {
		return shouldBe(path, want, body)
	}
	return nil
}

func checkTextValue(path string, body json.RawMessage) error {
	var rts []json.RawMessage
	if err := json.Unmarshal(body, &rts); err != nil || rts == nil {
		return shouldBe(path, "an array", body)
	}
	if len(rts) > notion.MaxRichTextElements {
		return validation("body failed validation: %s.length should be ≤ `%d`, instead was `%d`.",
			path, notion.MaxRichTextElements, len(rts))
	}
	for i, raw := range rts {
		var rt notion.RichText
		if err := json.Unmarshal(raw, &rt); err != nil {
			return shouldBe(fmt.Sprintf("%s[%d]", path, i), "a rich text object", raw)
		}
		if err := checkRichText(fmt.Sprintf("%s[%d]", path, i), rt); err != nil {
			return err
		}
	}
	return nil
}

// checkOptionValue checks a select or status value: an option by name (or
// id), or null for a select. A status option must exist.
func checkOptionValue(path, typ string, body json.RawMessage, options []string) error {
	if string(bytes.TrimSpace(body)) == "null" {
		if typ == "status" {
			return shouldBe(path, "an object", body)
		}
		return nil
	}
	var o map[string]any
	if err := json.Unmarshal(body, &o); err != nil || o == nil {
		want := "an object or `null`"
		if typ == "status" {
			want = "an object"
		}
		return shouldBe(path, want, body)
	}
	name, err := optionName(path, o, body)
	if err != nil {
		return err
	}
	if typ == "status" && !slices.Contains(options, name) {
		return validation("Invalid status option. Status option %q does not exist for property.", name)
	}
	return nil
}

// optionName checks one option object and returns its name.
func optionName(path string, o map[string]any, body json.RawMessage) (string, error) {
	name, isString := o["name"].(string)
	if _, hasID := o["id"]; hasID && o["name"] == nil {
		id, _ := o["id"].(string)
		return id, nil
	}
	switch {
	case !isString:
		return "", shouldBe(path+".name", "a string", body)
	case strings.TrimSpace(name) == "":
		return "", validation("body failed validation: %s.name should be populated, instead was `%q`.", path, name)
	case strings.Contains(name, ","):
		return "", validation("Invalid select option, commas not allowed: %s", name)
	case utf8.RuneCountInString(name) > notion.MaxOptionLength:
		return "", validation("body failed validation: %s.name.length should be ≤ `%d`, instead was `%d`.",
			path, notion.MaxOptionLength, utf8.RuneCountInString(name))
	}
	return name, nil
}

func checkMultiSelect(path string, body json.RawMessage) error {
	var opts []map[string]any
	if err := json.Unmarshal(body, &opts); err != nil || opts == nil {
		return shouldBe(path, "an array", body)
	}
	if len(opts) > notion.MaxOptions {
		return validation("body failed validation: %s.length should be ≤ `%d`, instead was `%d`.",
			path, notion.MaxOptions, len(opts))
	}
	for i, o := range opts {
		if _, err := optionName(fmt.Sprintf("%s[%d]", path, i), o, body); err != nil {
			return err
		}
	}
	return nil
}

// checkDateValue checks a date value: null, or a start date or date and
// time in ISO 8601, with an optional end.
func checkDateValue(path string, body json.RawMessage) error {
	if string(bytes.TrimSpace(body)) == "null" {
		return nil
	}
	var d struct {
		Start *string `json:"start"`
		End   *string `json:"end"`
	}
	if err := json.Unmarshal(body, &d); err != nil {
		return shouldBe(path, "an object or `null`", body)
	}
	if d.Start == nil {
		return validation("body failed validation: %s.start should be defined, instead was `undefined`.", path)
	}
	for field, v := range map[string]*string{"start": d.Start, "end": d.End} {
		if v != nil && notion.ParseDate(*v).IsZero() {
			return validation("body failed validation: %s.%s should be a valid ISO 8601 date string, instead was `%q`.",
				path, field, *v)
		}
	}
	return nil
}

// shownDate is a date as Notion shows it: a date as written, a date and
// time with milliseconds and an offset.
func shownDate(s string) string {
	if _, err := time.Parse(time.DateOnly, s); err == nil {
		return s
	}
	return notion.ParseDate(s).Format("2006-01-02T15:04:05.000-07:00")
}

func shownEnd(s *string) *string {
	if s == nil {
		return nil
	}
	v := shownDate(*s)
	return &v
}

// checkStringValue checks a url, email or phone_number value: a non-empty
// string of at most max characters, or null.
func checkStringValue(path string, body json.RawMessage, max int) error {
	var v *string
	if err := json.Unmarshal(body, &v); err != nil {
		return shouldBe(path, "a string or `null`", body)
	}
	switch {
	case v == nil:
		return nil
	case *v == "":
		return validation("body failed validation: %s should be populated or `null`, instead was `\"\"`.", path)
	case utf8.RuneCountInString(*v) > max:
		return validation("body failed validation: %s.length should be ≤ `%d`, instead was `%d`.",
			path, max, utf8.RuneCountInString(*v))
	}
	return nil
}

// addOptions adds the options of a select or multi_select value to the
// schema's.
func addOptions(options []string, v notion.Property) []string {
	names := []string{}
	if v.Select != nil {
		names = append(names, v.Select.Name)
	}
	for _, o := range v.MultiSelect {
		names = append(names, o.Name)
	}
	for _, n := range names {
		if n != "" && !slices.Contains(options, n) {
			options = append(options, n)
		}
	}
	return options
}
