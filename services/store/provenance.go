package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/valyala/fastjson"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/contracts/jsonalike"
)

// A record's provenance is stored in its row's provenance column as a JSON
// object of its fields, each the event that set it, that event's time and
// its source: {"first_name": ["evt-1", "2025-11-20T09:14:03.000000000Z",
// "form"], ...}. One column keeps a write of a record to one row, and
// json_extract (SQLite) or ->> (PostgreSQL) still reads it in SQL.

// encodeProvenance returns prov as the provenance column holds it, the
// fields in name order.
func encodeProvenance(prov map[string]contracts.Provenance) string {
	b := make([]byte, 0, 96*len(prov)+2)
	b = append(b, '{')
	var (
		last time.Time
		at   string
	)
	var names [16]string // a record's fields, sorted without an allocation
	fields := names[:0]
	for f := range prov {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	for i, f := range fields {
		p := prov[f]
		if i > 0 {
			b = append(b, ',')
		}
		if at == "" || !p.At.Equal(last) { // the fields one event set share its time
			last, at = p.At, formatTime(p.At)
		}
		b = append(appendJSONString(b, f), ":["...)
		b = append(appendJSONString(b, p.EventID), ',')
		b = append(appendJSONString(b, at), ',')
		b = append(appendJSONString(b, p.Source), ']')
	}
	return string(append(b, '}'))
}

// appendJSONString appends s as a JSON string. The strings of provenance
// (field names, event ids, times, sources) are plain ASCII in practice and
// are copied as they are; anything else is left to encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// decodeProvenance adds the provenance in doc, as encodeProvenance writes
// it, to prov.
func decodeProvenance(doc string, prov map[string]contracts.Provenance) error {
	var fields map[string][3]string
	if !jsonalike.Parse([]byte(doc), func(v *fastjson.Value) { fields = plainProvenance(v) }) || fields == nil {
		// Not as encodeProvenance writes it: encoding/json reads it, or
		// explains what is wrong.
		var loose map[string][]*string
		if err := json.Unmarshal([]byte(doc), &loose); err != nil {
			return fmt.Errorf("provenance: %w", err)
		}
		if loose == nil {
			return errors.New("provenance: null, want an object")
		}
		fields = make(map[string][3]string, len(loose))
		for f, v := range loose {
			if len(v) != 3 || slices.Contains(v, nil) {
				return fmt.Errorf("provenance of %s: want three strings, event id, time and source", f)
			}
			fields[f] = [3]string{*v[0], *v[1], *v[2]}
		}
	}
	var (
		text   string
		at     time.Time
		parsed bool
	)
	for f, v := range fields {
		if !parsed || v[1] != text { // the fields one event set share its time
			t, err := parseTime(v[1])
			if err != nil {
				return fmt.Errorf("provenance of %s: %w", f, err)
			}
			text, at, parsed = v[1], t, true
		}
		prov[f] = contracts.Provenance{EventID: v[0], At: at, Source: v[2]}
	}
	return nil
}

// plainProvenance returns the fields of v when it is an object of arrays of
// three strings, and nil otherwise. A name is the record field's own
// string, and a value equal to the field's before it is that string: the
// fields one event set share its id, its time and its source.
func plainProvenance(v *fastjson.Value) map[string][3]string {
	o, err := v.Object()
	if err != nil {
		return nil
	}
	fields := make(map[string][3]string, o.Len())
	var prev [3]string
	o.Visit(func(name []byte, member *fastjson.Value) {
		items, err := member.Array()
		if fields == nil || err != nil || len(items) != 3 {
			fields = nil
			return
		}
		for i, item := range items {
			s, err := item.StringBytes()
			if err != nil {
				fields = nil
				return
			}
			if string(s) != prev[i] {
				prev[i] = string(s)
			}
		}
		fields[fieldName(name)] = prev
	})
	return fields
}

// fieldName returns name as a string: the field's own name when it is one
// of a record's fields, a copy otherwise.
func fieldName(name []byte) string {
	for _, s := range recordSchemas {
		if string(name) == s.key {
			return s.key
		}
		for _, c := range s.fields {
			if string(name) == c.name {
				return c.name
			}
		}
	}
	return string(name)
}
