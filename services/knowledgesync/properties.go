package knowledgesync

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

// ErrPropertyMapping is wrapped by the problem of a knowledge.properties
// entry the database cannot back: its property is missing or of a type the
// sync does not write. The other entries are synced.
var ErrPropertyMapping = errors.New("property not synced")

// ErrPropertyValue is wrapped by the error of a page whose front matter
// holds a value its mapped property cannot take (a word for a number, a
// list for a select, a tag with a comma, a status that is not one of the
// property's options...), or one Notion refused. That property is left as
// it is on both sides until the value is fixed; the rest of the page is
// synced.
var ErrPropertyValue = errors.New("front-matter value does not fit its Notion property")

// PropertyTypes are the Notion property types a front-matter key may be
// mapped to.
var PropertyTypes = []string{"select", "multi_select", "status", "rich_text", "number", "checkbox", "date",
	"url", "email", "phone_number"}

// unsupportedWhy says why a property type cannot be mapped.
func unsupportedWhy(typ string) string {
	switch typ {
	case "people":
		return "people are Notion user ids, not names a file could hold; map a rich_text property instead"
	case "relation", "files":
		return "its values are Notion page or file ids"
	case "formula", "rollup", "created_time", "created_by", "last_edited_time", "last_edited_by", "unique_id":
		return "Notion computes it, so the sync could not write it back"
	case "title":
		return "the title is knowledge.title_property's"
	}
	return "the sync does not support it"
}

// mapping is one front-matter key synced with a database property.
type mapping struct {
	key, name, typ string
	// options are a status property's options, which the API cannot add
	// to; nil when the schema does not list them.
	options []string
}

// stateKey names the mapping in [pageState.Properties]: a key mapped to
// another property has no last synced value.
func (m mapping) stateKey() string { return m.key + ":" + m.name }

// resolveMappings pairs knowledge.properties with the database's schema:
// an entry whose property is missing, or of a type the sync cannot write,
// is a problem and is left out.
func resolveMappings(props map[string]string, schema notion.Database) ([]mapping, []error) {
	var out []mapping
	var problems []error
	for _, key := range sortedKeys(props) {
		name := props[key]
		ps, ok := schema.Properties[name]
		switch {
		case !ok:
			problems = append(problems, fmt.Errorf("knowledge.properties.%s: %w: the database has no property %q",
				key, ErrPropertyMapping, name))
		case !slices.Contains(PropertyTypes, ps.Type):
			problems = append(problems, fmt.Errorf("knowledge.properties.%s: %w: Notion property %q is of type %s: %s",
				key, ErrPropertyMapping, name, ps.Type, unsupportedWhy(ps.Type)))
		default:
			m := mapping{key: key, name: name, typ: ps.Type}
			if ps.Type == "status" {
				m.options = ps.OptionNames()
			}
			out = append(out, m)
		}
	}
	return out, problems
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// propValue is one mapped property's value on one side of a page.
type propValue struct {
	// canon is the value in a form both sides compare by; "" when empty.
	canon string
	// front is the value as the file's front matter holds it; nil when
	// empty.
	front any
	// prop is the value as Notion takes it.
	prop notion.Property
}

// propValues are a page's mapped property values on one side, by key.
type propValues map[string]propValue

// textTypes are the property types holding text: they take a front-matter
// value as written, 007 as "007", not as the number YAML reads.
var textTypes = []string{"select", "status", "multi_select", "rich_text", "url", "email", "phone_number"}

// frontValue is the value of the mapping's key in front matter, as YAML
// decoded it, or as written (texts, [Document.Texts]) for a property
// holding text.
func (m mapping) frontValue(front, texts map[string]any) any {
	if text, ok := texts[m.key]; ok && slices.Contains(textTypes, m.typ) {
		return text
	}
	return front[m.key]
}

// localValues reads the mapped keys of a file's front matter (texts: its
// values as written, [Document.Texts]). A value its property cannot take
// is left out of the values, and its error, wrapping [ErrPropertyValue],
// is one of errs.
func localValues(ms []mapping, front, texts map[string]any) (values propValues, errs []error) {
	out := propValues{}
	for _, m := range ms {
		v := m.frontValue(front, texts)
		p, err := toNotion(m.typ, v)
		if err == nil {
			err = m.checkOption(p)
		}
		if err != nil {
			errs = append(errs, m.refused(err))
			continue
		}
		c := canon(p)
		if c == "" {
			v = nil
		}
		out[m.key] = propValue{canon: c, front: v, prop: p}
	}
	return out, errs
}

// refused wraps the reason a value of the mapping cannot be synced.
func (m mapping) refused(err error) error {
	return fmt.Errorf("front matter %s (Notion %s %q): %w: %w", m.key, m.typ, m.name, ErrPropertyValue, err)
}

// checkOption refuses a status value that is not one of the property's
// options: the API cannot add a status option, so Notion would refuse it.
func (m mapping) checkOption(p notion.Property) error {
	if m.typ != "status" || p.Status == nil || m.options == nil || slices.Contains(m.options, p.Status.Name) {
		return nil
	}
	quoted := make([]string, len(m.options))
	for i, o := range m.options {
		quoted[i] = strconv.Quote(o)
	}
	return fmt.Errorf("status %q is not one of the property's options (%s); the API cannot add one",
		p.Status.Name, strings.Join(quoted, ", "))
}

// remoteValues reads the mapped properties of a page.
func remoteValues(ms []mapping, page notion.Page) propValues {
	out := propValues{}
	for _, m := range ms {
		p, ok := page.Properties[m.name]
		if !ok || p.Type != m.typ {
			p = notion.Property{Type: m.typ}
		}
		out[m.key] = propValue{canon: canon(p), front: fromNotion(p), prop: p}
	}
	return out
}

// canons are the canonical values by the mappings' state keys, as the state
// records them.
func (v propValues) canons(ms []mapping) map[string]string {
	if len(ms) == 0 {
		return nil
	}
	out := make(map[string]string, len(ms))
	for _, m := range ms {
		out[m.stateKey()] = v[m.key].canon
	}
	return out
}

// fingerprint is the values in a fixed order, for the page's hash.
func (v propValues) fingerprint(ms []mapping) string {
	var b strings.Builder
	for _, m := range ms {
		b.WriteString(m.key)
		b.WriteByte('=')
		b.WriteString(v[m.key].canon)
		b.WriteByte(0)
	}
	return b.String()
}

// toNotion converts a front-matter value, as YAML decoded it (nil when the
// key is missing), into a value of a property of type typ. A missing or
// empty value clears the property.
func toNotion(typ string, v any) (notion.Property, error) {
	p := notion.Property{Type: typ}
	if typ == "multi_select" {
		names, err := listValue(v)
		if err != nil {
			return p, err
		}
		if len(names) > notion.MaxOptions {
			return p, fmt.Errorf("%d options, Notion takes at most %d", len(names), notion.MaxOptions)
		}
		for _, n := range names {
			if err := checkOption(n); err != nil {
				return p, err
			}
		}
		p.MultiSelect = notion.MultiSelectProperty(names).MultiSelect
		return p, nil
	}
	s, err := scalarValue(v)
	if text, ok := v.(string); ok && typ == "rich_text" {
		s = text // as written: blanks around a text are the text's
	}
	if err == nil && s != "" {
		p, err = setScalar(p, s, v)
	}
	if typ == "checkbox" && p.Checkbox == nil {
		unchecked := false
		p.Checkbox = &unchecked // a checkbox is never empty in Notion
	}
	return p, err
}

// setScalar sets p, of a type holding one value, from its front-matter
// text s and the value v as YAML decoded it.
func setScalar(p notion.Property, s string, v any) (notion.Property, error) {
	switch p.Type {
	case "select", "status":
		if err := checkOption(s); err != nil {
			return p, err
		}
		o := &notion.SelectOption{Name: s}
		if p.Type == "select" {
			p.Select = o
		} else {
			p.Status = o
		}
	case "rich_text":
		p.RichText = notion.Text(s)
		if n := len(p.RichText); n > notion.MaxRichTextElements {
			return p, fmt.Errorf("%d characters, over the %d × %d a Notion rich_text holds",
				utf8.RuneCountInString(s), notion.MaxRichTextElements, notion.MaxTextLength)
		}
	case "number":
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return p, fmt.Errorf("want a number, not %q", s)
		}
		p.Number = &f
	case "checkbox":
		b, ok := v.(bool)
		if !ok {
			return p, fmt.Errorf("want true or false, not %q", s)
		}
		p.Checkbox = &b
	case "date":
		d, err := dateValue(s)
		if err != nil {
			return p, err
		}
		p.Date = d
	case "url", "email", "phone_number":
		return stringProperty(p, s)
	}
	return p, nil
}

// stringProperty sets a url, email or phone_number value within Notion's
// length limits.
func stringProperty(p notion.Property, s string) (notion.Property, error) {
	limit := map[string]int{"url": notion.MaxURLLength, "email": notion.MaxEmailLength,
		"phone_number": notion.MaxPhoneLength}[p.Type]
	if n := utf8.RuneCountInString(s); n > limit {
		return p, fmt.Errorf("%d characters, Notion takes at most %d", n, limit)
	}
	switch p.Type {
	case "url":
		p.URL = &s
	case "email":
		p.Email = &s
	default:
		p.PhoneNumber = &s
	}
	return p, nil
}

// scalarValue gives a YAML scalar as text; "" for nil.
func scalarValue(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return strings.TrimSpace(v), nil
	case bool, int, int64, uint64, float64:
		return fmt.Sprint(v), nil
	case time.Time:
		return v.Format(time.RFC3339Nano), nil
	default:
		return "", fmt.Errorf("want one value, not a %s", yamlKind(v))
	}
}

// listValue gives a YAML list of scalars, or one string of comma-separated
// names, as names.
func listValue(v any) ([]string, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case []any:
		var out []string
		for i, e := range v {
			s, err := scalarValue(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			if s != "" {
				out = append(out, s)
			}
		}
		return out, nil
	case string:
		var out []string
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out, nil
	}
	s, err := scalarValue(v)
	if err != nil || s == "" {
		return nil, err
	}
	return []string{s}, nil
}

func yamlKind(v any) string {
	switch v.(type) {
	case []any:
		return "list"
	case map[string]any:
		return "mapping"
	}
	return fmt.Sprintf("%T", v)
}

// checkOption refuses an option name Notion refuses.
func checkOption(name string) error {
	switch {
	case strings.Contains(name, ","):
		return fmt.Errorf("option %q holds a comma, which Notion's options cannot", name)
	case utf8.RuneCountInString(name) > notion.MaxOptionLength:
		return fmt.Errorf("option %q is over Notion's %d characters", name, notion.MaxOptionLength)
	}
	return nil
}

// dateValue reads a date (2006-01-02), a date and time (RFC 3339), or a
// range of either as start/end.
func dateValue(s string) (*notion.Date, error) {
	start, end, isRange := strings.Cut(s, "/")
	for _, part := range []string{start, end} {
		if (part != "" || isRange) && notion.ParseDate(part).IsZero() {
			return nil, fmt.Errorf("want a date (2006-01-02), a date and time (2006-01-02T15:04:05Z) or a range start/end, not %q", s)
		}
	}
	d := &notion.Date{Start: strings.TrimSpace(start)}
	if isRange {
		e := strings.TrimSpace(end)
		d.End = &e
	}
	return d, nil
}

// canonDate gives a date as written and a date and time as the instant in
// UTC, so that Notion's "2024-05-01T10:00:00.000+00:00" is the file's
// "2024-05-01T10:00:00Z".
func canonDate(s string) string {
	if _, err := time.Parse(time.DateOnly, s); err == nil {
		return s
	}
	if t := notion.ParseDate(s); !t.IsZero() {
		return t.UTC().Format(time.RFC3339Nano)
	}
	return s
}

// canon is a property value in the form both sides compare by: "" when
// empty, an unchecked checkbox included. A file's option names, urls,
// emails and phone numbers lose their surrounding blanks, so Notion's lose
// them too: a value differing only by them is the same; a rich_text is
// compared as it is.
func canon(p notion.Property) string {
	switch p.Type {
	case "select":
		return strings.TrimSpace(optionName(p.Select))
	case "status":
		return strings.TrimSpace(optionName(p.Status))
	case "multi_select":
		names := make([]string, len(p.MultiSelect))
		for i, o := range p.MultiSelect {
			names[i] = strings.TrimSpace(o.Name)
		}
		return strings.Join(names, "\x1f")
	case "rich_text":
		return notion.PlainText(p.RichText)
	case "number":
		if p.Number == nil {
			return ""
		}
		return strconv.FormatFloat(*p.Number, 'g', -1, 64)
	case "checkbox":
		if p.Checkbox != nil && *p.Checkbox {
			return "true"
		}
		return ""
	case "date":
		if p.Date == nil {
			return ""
		}
		c := canonDate(p.Date.Start)
		if p.Date.End != nil {
			c += "/" + canonDate(*p.Date.End)
		}
		return c
	case "url":
		return strings.TrimSpace(deref(p.URL))
	case "email":
		return strings.TrimSpace(deref(p.Email))
	case "phone_number":
		return strings.TrimSpace(deref(p.PhoneNumber))
	}
	return ""
}

func optionName(o *notion.SelectOption) string {
	if o == nil {
		return ""
	}
	return o.Name
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// fromNotion converts a page property into a front-matter value: nil when
// empty, a whole number as an integer, a date and time as RFC 3339 in
// Notion's offset, a multi_select as a list.
func fromNotion(p notion.Property) any {
	c := canon(p)
	if c == "" {
		return nil
	}
	switch p.Type {
	case "multi_select":
		return strings.Split(c, "\x1f")
	case "number":
		if f := *p.Number; f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f)
		}
		return *p.Number
	case "checkbox":
		return true
	case "date":
		s := frontDate(p.Date.Start)
		if p.Date.End != nil {
			s += "/" + frontDate(*p.Date.End)
		}
		return s
	}
	return c
}

// frontDate writes a date and time from Notion without its milliseconds
// when they are zero.
func frontDate(s string) string {
	if _, err := time.Parse(time.DateOnly, s); err == nil {
		return s
	}
	if t := notion.ParseDate(s); !t.IsZero() {
		return t.Format(time.RFC3339Nano)
	}
	return s
}

// propPlan is how one write settles a page's mapped properties.
type propPlan struct {
	// merged are the values both sides get.
	merged propValues
	// toNotion are the values Notion lacks, by property name.
	toNotion map[string]notion.Property
	// front is the file's front matter besides title, notion_id and tags,
	// with the merged values of the mapped keys: a value equal to the
	// file's stays as the file writes it, an empty one removes its key.
	front map[string]any
	// fileChanged says front differs from the file's.
	fileChanged bool
	// conflicted are the keys changed on both sides to different values,
	// settled by the later edit.
	conflicted []string
}

// edits says which sides of a page changed since the last sync, and
// whether the file's edit is the later.
type edits struct {
	local, remote, localNewer bool
}

// planProps merges the mapped properties of a file (front, its front
// matter, and texts, its values as written; nil for a page without a file)
// and its page. A value changed on one side since the last sync (base) is
// taken from that side; one changed on both sides to different values from
// the later edit. A value with no last synced value (a key newly mapped)
// is taken from the side holding one if the other is empty, else from the
// side that changed since the last sync (ed), else from the later edit:
// a file's edit time says nothing of a value the sync itself may have
// written. A file's value its property cannot take is left as it is on
// both sides.
func planProps(ms []mapping, front, texts map[string]any, remote propValues, base map[string]string, ed edits) propPlan {
	local, _ := localValues(ms, front, texts) // the values refused are reported by the caller
	plan := propPlan{merged: propValues{}, toNotion: map[string]notion.Property{}, front: map[string]any{}}
	for k, v := range front {
		plan.front[k] = v
	}
	for _, m := range ms {
		l, ok := local[m.key]
		r := remote[m.key]
		if !ok {
			plan.merged[m.key] = r
			continue
		}
		won := l
		if l.canon != r.canon {
			b, known := base[m.stateKey()]
			switch {
			case known && l.canon == b:
				won = r
			case known && r.canon == b:
			case !known && (l.canon == "" || r.canon == ""):
				// First sync of the key: the side holding a value gives it.
				if l.canon == "" {
					won = r
				}
			case !known && !ed.local:
				won = r
			case !known && !ed.remote:
			default:
				plan.conflicted = append(plan.conflicted, m.key)
				if !ed.localNewer {
					won = r
				}
			}
		}
		if m.typ == "status" && won.canon == "" {
			won = r // the API cannot empty a status: Notion's stays, and goes back into the file
		}
		plan.merged[m.key] = won
		if won.canon != r.canon {
			plan.toNotion[m.name] = won.prop
		}
		if won.canon == l.canon && l.front != nil {
			plan.front[m.key] = l.front // as written, should the file be written
		}
		if won.canon != l.canon {
			plan.fileChanged = true
			if won.front == nil {
				delete(plan.front, m.key)
			} else {
				plan.front[m.key] = won.front
			}
		}
	}
	if len(plan.front) == 0 {
		plan.front = nil
	}
	return plan
}
