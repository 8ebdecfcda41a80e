package payload

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gtmhub/gtmhub/contracts"
)

// LeadFields returns the standard lead fields a source field can be mapped
// to. source is not among them: ingest sets it from the source's name.
func LeadFields() []string {
	return []string{
		"email", "first_name", "last_name", "company", "status", "created_at",
		"domain", "title", "phone", "signal_score", "intent_score", "fit_score",
	}
}

// IsLeadField reports whether name is one of [LeadFields].
func IsLeadField(name string) bool {
	switch name {
	case "email", "first_name", "last_name", "company", "status", "created_at",
		"domain", "title", "phone", "signal_score", "intent_score", "fit_score":
		return true
	}
	return false
}

// LeadMapper turns one source's fields into a captured lead.
type LeadMapper struct {
	mapping  map[string]string   // source field → lead field
	sources  []string            // the mapping's source fields, sorted
	from     map[string][]string // lead field → source fields, sorted, for messages
	fieldsAt []string            // the path of the object holding the fields
}

// MapperOption adjusts [NewLeadMapper].
type MapperOption func(*LeadMapper)

// FieldsAt makes the mapper read the fields from the JSON object at a
// dotted path, such as Clay's row_data, when the body has one there. The
// body's other fields then go to attributes, unless the object has a field
// of the same name; a body without the object is read as a whole.
func FieldsAt(path string) MapperOption {
	return func(m *LeadMapper) {
		if path != "" {
			m.fieldsAt = strings.Split(path, ".")
		}
	}
}

// NewLeadMapper returns a mapper for mapping, source field to standard lead
// field. A source field is a field's name or, when the body has no field of
// that name, a dotted path into nested objects, such as row_data.email.
// Several source fields may map to one lead field (a column renamed over
// time, two shapes of the same sender). Fields the mapping does not name
// keep their name: a field called email is the lead's email. Every target
// that is not a standard field is reported.
func NewLeadMapper(mapping map[string]string, opts ...MapperOption) (*LeadMapper, error) {
	m := &LeadMapper{mapping: maps.Clone(mapping), sources: slices.Sorted(maps.Keys(mapping)),
		from: make(map[string][]string, len(mapping))}
	for _, opt := range opts {
		opt(m)
	}
	var errs []error
	for _, src := range m.sources {
		dst := mapping[src]
		switch {
		case src == "":
			errs = append(errs, fmt.Errorf("mapping: empty source field name (to %q)", dst))
		case !IsLeadField(dst):
			errs = append(errs, fmt.Errorf("mapping %q: unknown lead field %q (known: %s)", src, dst, strings.Join(LeadFields(), ", ")))
		default:
			m.from[dst] = append(m.from[dst], src)
		}
	}
	return m, errors.Join(errs...)
}

// From names the source fields mapped to a lead field, for messages, such
// as `field "Work Email"`; "" when the mapping names none.
func (m *LeadMapper) From(leadField string) string {
	srcs := m.from[leadField]
	if len(srcs) == 0 {
		return ""
	}
	quoted := make([]string, len(srcs))
	for i, s := range srcs {
		quoted[i] = strconv.Quote(s)
	}
	if len(quoted) == 1 {
		return "field " + quoted[0]
	}
	return "fields " + strings.Join(quoted, " or ")
}

// Map builds the lead in f for the named source. Mapped and same-named
// fields fill the standard fields, trimmed; scores become numbers and
// created_at a time. Every other field goes to attributes verbatim (an
// object one of whose fields was mapped by its path without that field),
// and so does a value that loses to another for the same lead field (an
// explicit mapping beats a same-named field; of several mapped fields, the
// first in the order of their names that holds a value wins). Values that
// cannot be converted are reported with the JSON pointer of their lead
// field; the lead is not otherwise validated.
func (m *LeadMapper) Map(f Fields, source string) (contracts.LeadCaptured, []contracts.FieldError) {
	b := leadBuilder{lead: contracts.LeadCaptured{Lead: contracts.Lead{Source: source}}, set: map[string]bool{}}
	fields, rest := m.split(f)
	consumed := map[string][][]string{} // top-level field → mapped paths within it; nil path: all of it
	for _, k := range m.sources {
		v, path, ok := lookup(fields, k)
		if !ok {
			continue
		}
		consumed[path[0]] = append(consumed[path[0]], path[1:])
		b.assign(m.mapping[k], k, v)
	}
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		v, keep := without(fields[k], consumed[k])
		switch {
		case !keep:
		case len(consumed[k]) == 0 && IsLeadField(k):
			b.assign(k, k, v)
		default:
			b.attribute(k, v)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(rest)) {
		if _, taken := b.lead.Attributes[k]; !taken {
			b.attribute(k, rest[k])
		}
	}
	for i, fe := range b.errs {
		if from := m.From(strings.TrimPrefix(fe.Pointer, "/")); from != "" {
			b.errs[i].Message += " (from " + from + ")"
		}
	}
	return b.lead, b.errs
}

// split returns the fields to map and, when they are read from the object
// at the mapper's fieldsAt, the rest of the body.
func (m *LeadMapper) split(f Fields) (fields, rest Fields) {
	if len(m.fieldsAt) == 0 {
		return f, nil
	}
	obj, ok := walk(map[string]any(f), m.fieldsAt).(map[string]any)
	if !ok {
		return f, nil
	}
	remaining, _ := without(map[string]any(f), [][]string{m.fieldsAt})
	rest, _ = remaining.(map[string]any)
	return Fields(obj), rest
}

// lookup finds the source field k in f: the field named k, else the value
// at k as a dotted path. It returns the value and its path from the top.
func lookup(f Fields, k string) (any, []string, bool) {
	if v, ok := f[k]; ok {
		return v, []string{k}, true
	}
	if !strings.Contains(k, ".") {
		return nil, nil, false
	}
	path := strings.Split(k, ".")
	parent, ok := walk(map[string]any(f), path[:len(path)-1]).(map[string]any)
	if !ok {
		return nil, nil, false
	}
	v, ok := parent[path[len(path)-1]]
	return v, path, ok
}

// walk returns the value at path in v, or nil.
func walk(v any, path []string) any {
	for _, key := range path {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = obj[key]
	}
	return v
}

// without returns v without the values at paths, copying the objects it
// changes and leaving out those emptied; keep is false when nothing is
// left, as when a path is empty (v itself was taken).
func without(v any, paths [][]string) (rest any, keep bool) {
	if len(paths) == 0 {
		return v, true
	}
	byKey := map[string][][]string{}
	for _, p := range paths {
		if len(p) == 0 {
			return nil, false
		}
		byKey[p[0]] = append(byKey[p[0]], p[1:])
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return v, true
	}
	out := make(map[string]any, len(obj))
	for k, child := range obj {
		if sub, ok := byKey[k]; ok {
			if child, keep = without(child, sub); !keep {
				continue
			}
		}
		out[k] = child
	}
	return out, len(out) > 0
}

type leadBuilder struct {
	lead contracts.LeadCaptured
	set  map[string]bool
	errs []contracts.FieldError
}

func (b *leadBuilder) attribute(k string, v any) {
	if b.lead.Attributes == nil {
		b.lead.Attributes = make(map[string]any)
	}
	b.lead.Attributes[k] = v
}

// assign sets lead field dst from the source field k.
func (b *leadBuilder) assign(dst, k string, v any) {
	if b.set[dst] {
		b.attribute(k, v)
		return
	}
	filled, err := setLeadField(&b.lead.Lead, dst, v)
	if err != nil {
		b.errs = append(b.errs, contracts.FieldError{Pointer: "/" + dst, Message: err.Error()})
	}
	if filled || err != nil {
		b.set[dst] = true
	}
}

// setLeadField converts v for the lead field name and sets it, reporting
// whether it held a value.
func setLeadField(l *contracts.Lead, name string, v any) (bool, error) {
	switch name {
	case "signal_score":
		return setScore(&l.SignalScore, v)
	case "intent_score":
		return setScore(&l.IntentScore, v)
	case "fit_score":
		return setScore(&l.FitScore, v)
	case "created_at":
		return setTime(&l.CreatedAt, v)
	}
	s, err := text(v)
	if err != nil || s == "" {
		return false, err
	}
	switch name {
	case "email":
		l.Email = s
	case "first_name":
		l.FirstName = s
	case "last_name":
		l.LastName = s
	case "company":
		l.Company = s
	case "status":
		l.Status = s
	case "domain":
		l.Domain = s
	case "title":
		l.Title = s
	case "phone":
		l.Phone = s
	default:
		return false, fmt.Errorf("is not a lead field")
	}
	return true, nil
}

// text returns v as a trimmed string. Numbers and booleans keep their JSON
// text; the first non-empty value of a repeated form field is used.
func text(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return strings.TrimSpace(v), nil
	case []string:
		for _, s := range v {
			if s = strings.TrimSpace(s); s != "" {
				return s, nil
			}
		}
		return "", nil
	case json.Number:
		return v.String(), nil
	case bool:
		return strconv.FormatBool(v), nil
	}
	return "", fmt.Errorf("must be a string, not %s", jsonKind(v))
}

// setScore parses a score given as a number or as text such as "72" or
// "72.5%".
func setScore(dst **float64, v any) (bool, error) {
	var s string
	switch v := v.(type) {
	case json.Number:
		s = v.String()
	case string, []string, nil:
		s, _ = text(v)
		s = strings.TrimSpace(strings.TrimSuffix(s, "%"))
		if s == "" {
			return false, nil
		}
	default:
		return false, fmt.Errorf("must be a number, not %s", jsonKind(v))
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return false, fmt.Errorf("must be a number from 0 to 100, not %q", truncate(s, 32))
	}
	*dst = &f
	return true, nil
}

// maxUnix is the last second of year 9999, the last instant RFC 3339 can
// write.
const maxUnix = 253402300799

// minEpochMillis is the smallest number read as Unix milliseconds: 1e11,
// which as seconds would be year 5138 and as milliseconds is March 1973.
// A number below it is Unix seconds, one from it on Unix milliseconds, so
// that both of the epochs senders write are read as the time they mean.
const minEpochMillis = 100_000_000_000

// timeHint names the forms created_at accepts, for messages.
const timeHint = "an RFC 3339 date-time such as 2025-11-20T09:14:03Z, a date such as 2025-11-20, " +
	"or Unix seconds or milliseconds as a number"

// setTime parses an RFC 3339 date-time, a date (YYYY-MM-DD, midnight UTC),
// or a Unix epoch given as a JSON number: seconds below [minEpochMillis],
// milliseconds from it on.
func setTime(dst **time.Time, v any) (bool, error) {
	if n, ok := v.(json.Number); ok {
		t, err := epoch(n)
		if err != nil {
			return false, err
		}
		*dst = &t
		return true, nil
	}
	s, err := text(v)
	if err != nil || s == "" {
		return false, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t, err = time.Parse(time.DateOnly, s)
	}
	if err != nil {
		return false, fmt.Errorf("must be %s, not %q", timeHint, truncate(s, 40))
	}
	*dst = &t
	return true, nil
}

// epoch reads a Unix time in seconds or, from [minEpochMillis] on, in
// milliseconds; the time must be from 1970 to year 9999.
func epoch(n json.Number) (time.Time, error) {
	v, err := n.Int64()
	switch {
	case err != nil || v < 0 || v > maxUnix*1000+999:
		return time.Time{}, fmt.Errorf("must be %s, not %s", timeHint, truncate(n.String(), 32))
	case v >= minEpochMillis:
		return time.UnixMilli(v).UTC(), nil
	}
	return time.Unix(v, 0).UTC(), nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
