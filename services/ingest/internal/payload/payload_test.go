package payload

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/contracts"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		want        Fields
		wantErr     error
	}{
		{"json", "application/json", `{"email":"a@b.co","n":7}`, Fields{"email": "a@b.co", "n": json.Number("7")}, nil},
		{"json with charset", "application/json; charset=utf-8", `{"a":"b"}`, Fields{"a": "b"}, nil},
		{"vendor json", "application/vnd.clay+json", `{"a":"b"}`, Fields{"a": "b"}, nil},
		{"no content type is json", "", `{"a":"b"}`, Fields{"a": "b"}, nil},
		{"form", "application/x-www-form-urlencoded", "email=a%40b.co&first_name=Ada+L&tag=x&tag=y",
			Fields{"email": "a@b.co", "first_name": "Ada L", "tag": []string{"x", "y"}}, nil},
		{"json labelled as a form", "application/x-www-form-urlencoded", ` {"email":"a@b.co"}`, Fields{"email": "a@b.co"}, nil},
		{"form that starts with a brace", "application/x-www-form-urlencoded", `{x=1`, Fields{"{x": "1"}, nil},
		{"json array", "application/json", `[{"a":"b"}]`, nil, ErrMalformed},
		{"json string", "application/json", `"a"`, nil, ErrMalformed},
		{"truncated json", "application/json", `{"a":`, nil, ErrMalformed},
		{"two json values", "application/json", `{"a":1}{"b":2}`, nil, ErrMalformed},
		{"empty json", "application/json", ` `, nil, ErrMalformed},
		{"bad form escape", "application/x-www-form-urlencoded", "a=%zz", nil, ErrMalformed},
		{"xml", "application/xml", `<a/>`, nil, ErrUnsupportedMediaType},
		{"multipart", "multipart/form-data; boundary=x", `--x--`, nil, ErrUnsupportedMediaType},
		{"garbage content type", ";;;", `{}`, nil, ErrUnsupportedMediaType},
		{"latin-1 form is read into UTF-8", "application/x-www-form-urlencoded; charset=ISO-8859-1", "first_name=J%F6rg&city=K\xf6ln",
			Fields{"first_name": "Jörg", "city": "Köln"}, nil},
		{"windows-1252 form, quoted charset, names too", `application/x-www-form-urlencoded; charset="windows-1252"`, "Stra%DFe=%80+5",
			Fields{"Straße": "€ 5"}, nil},
		{"shift_jis form", "application/x-www-form-urlencoded; charset=Shift_JIS", "company=%93%FA%96%7B",
			Fields{"company": "日本"}, nil},
		{"repeated latin-1 field", "application/x-www-form-urlencoded; charset=iso-8859-1", "tag=%E9&tag=%E8",
			Fields{"tag": []string{"é", "è"}}, nil},
		{"utf-8 form", "application/x-www-form-urlencoded; charset=UTF-8", "first_name=J%C3%B6rg", Fields{"first_name": "Jörg"}, nil},
		{"undeclared form in utf-8", "application/x-www-form-urlencoded", "first_name=J%C3%B6rg", Fields{"first_name": "Jörg"}, nil},
		{"undeclared form not in utf-8", "application/x-www-form-urlencoded", "email=a%40b.co&first_name=J%F6rg", nil, ErrMalformed},
		{"utf-8 form not in utf-8", "application/x-www-form-urlencoded; charset=utf-8", "first_name=J\xf6rg", nil, ErrMalformed},
		{"form name not in utf-8", "application/x-www-form-urlencoded", "n%F6me=x", nil, ErrMalformed},
		{"form in an unknown charset", "application/x-www-form-urlencoded; charset=klingon", "a=b", nil, ErrUnsupportedCharset},
		{"latin-1 json labelled as a form", "application/x-www-form-urlencoded; charset=ISO-8859-1", "{\"first_name\":\"J\xf6rg\"}",
			Fields{"first_name": "Jörg"}, nil},
		{"json in us-ascii", "application/json; charset=us-ascii", `{"a":"b"}`, Fields{"a": "b"}, nil},
		{"json in latin-1", "application/json; charset=ISO-8859-1", `{"a":"b"}`, nil, ErrUnsupportedCharset},
		{"json in utf-16", "application/json; charset=utf-16", `{"a":"b"}`, nil, ErrUnsupportedCharset},
		{"json in an unknown charset", "application/json; charset=klingon", `{"a":"b"}`, nil, ErrUnsupportedCharset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.contentType, []byte(tt.body))
			if errors.Is(tt.wantErr, ErrUnsupportedCharset) && !errors.Is(err, ErrUnsupportedMediaType) {
				t.Errorf("an unsupported charset is not an unsupported media type: %v", err)
			}
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("Decode() error = %v, want %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Decode() = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestLeadMapper(t *testing.T) {
	clay := map[string]string{"Work Email": "email", "First Name": "first_name", "Last Name": "last_name",
		"Company Name": "company", "Job Title": "title"}
	tests := []struct {
		name       string
		mapping    map[string]string
		fields     Fields
		want       string // the lead as JSON
		wantFields []string
	}{
		{
			name:   "standard names need no mapping, values trimmed",
			fields: Fields{"email": "  Ada@Example.com ", "first_name": "Ada", "last_name": "Lovelace", "company": "Example Inc"},
			want:   `{"email":"Ada@Example.com","first_name":"Ada","last_name":"Lovelace","company":"Example Inc","source":"form"}`,
		},
		{
			name:    "clay mapping, unmapped fields to attributes verbatim",
			mapping: clay,
			fields: Fields{"Work Email": "ada@example.com", "First Name": "Ada", "Last Name": "Lovelace",
				"Company Name": "Example Inc", "Job Title": "CTO", "LinkedIn URL": "https://linkedin.com/in/ada ", "Employees": json.Number("40")},
			want: `{"email":"ada@example.com","first_name":"Ada","last_name":"Lovelace","company":"Example Inc","title":"CTO","source":"form",` +
				`"attributes":{"Employees":40,"LinkedIn URL":"https://linkedin.com/in/ada "}}`,
		},
		{
			name:   "scores become numbers",
			fields: Fields{"email": "a@b.co", "signal_score": "72", "intent_score": json.Number("64.5"), "fit_score": " 88% "},
			want:   `{"email":"a@b.co","source":"form","signal_score":72,"intent_score":64.5,"fit_score":88}`,
		},
		{
			name:       "scores that are not numbers",
			fields:     Fields{"email": "a@b.co", "signal_score": "high", "intent_score": true, "fit_score": "NaN"},
			want:       `{"email":"a@b.co","source":"form"}`,
			wantFields: []string{"/fit_score", "/intent_score", "/signal_score"},
		},
		{
			name:   "created_at from RFC 3339 and Unix seconds",
			fields: Fields{"email": "a@b.co", "created_at": "2025-11-20T09:14:03+01:00"},
			want:   `{"email":"a@b.co","created_at":"2025-11-20T09:14:03+01:00","source":"form"}`,
		},
		{
			name:   "created_at as Unix seconds",
			fields: Fields{"email": "a@b.co", "created_at": json.Number("1763630043")},
			want:   `{"email":"a@b.co","created_at":"2025-11-20T09:14:03Z","source":"form"}`,
		},
		{
			name:       "bad created_at",
			fields:     Fields{"email": "a@b.co", "created_at": "yesterday"},
			want:       `{"email":"a@b.co","source":"form"}`,
			wantFields: []string{"/created_at"},
		},
		{
			name:   "numbers and booleans as text",
			fields: Fields{"email": "a@b.co", "phone": json.Number("442079460958"), "status": false},
			want:   `{"email":"a@b.co","status":"false","phone":"442079460958","source":"form"}`,
		},
		{
			name:       "an object where text is expected",
			mapping:    clay,
			fields:     Fields{"Work Email": map[string]any{"value": "a@b.co"}},
			want:       `{"source":"form"}`,
			wantFields: []string{"/email"},
		},
		{
			name:    "an explicit mapping beats a same-named field, which is kept",
			mapping: clay,
			fields:  Fields{"Work Email": "work@b.co", "email": "home@b.co"},
			want:    `{"email":"work@b.co","source":"form","attributes":{"email":"home@b.co"}}`,
		},
		{
			name:   "the sender's source field is an attribute",
			fields: Fields{"email": "a@b.co", "source": "newsletter"},
			want:   `{"email":"a@b.co","source":"form","attributes":{"source":"newsletter"}}`,
		},
		{
			name:   "empty values are absent, repeated form fields take the first",
			fields: Fields{"email": []string{" ", "a@b.co"}, "first_name": "  ", "last_name": nil},
			want:   `{"email":"a@b.co","source":"form"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewLeadMapper(tt.mapping)
			if err != nil {
				t.Fatal(err)
			}
			lead, problems := m.Map(tt.fields, "form")
			checkMapped(t, lead, problems, tt.want, tt.wantFields)
		})
	}
}

func TestLeadMapperPaths(t *testing.T) {
	clay := map[string]string{"Work Email": "email", "Company Name": "company", "company_name": "company"}
	tests := []struct {
		name       string
		mapping    map[string]string
		fieldsAt   string
		fields     Fields
		want       string // the lead as JSON
		wantFields []string
	}{
		{
			name:    "a dotted path reads a nested field, the rest of its object goes to attributes",
			mapping: map[string]string{"row_data.email": "email", "row_data.company_name": "company"},
			fields: Fields{"event": "row_updated", "row_data": map[string]any{"email": "ada@example.com",
				"company_name": "Example Inc", "enrichment_data": map[string]any{"employees": json.Number("40")}}},
			want: `{"email":"ada@example.com","company":"Example Inc","source":"clay",` +
				`"attributes":{"event":"row_updated","row_data":{"enrichment_data":{"employees":40}}}}`,
		},
		{
			name:    "an object emptied by the mapping is left out",
			mapping: map[string]string{"contact.properties.email": "email"},
			fields:  Fields{"contact": map[string]any{"properties": map[string]any{"email": "a@b.co"}}},
			want:    `{"email":"a@b.co","source":"clay"}`,
		},
		{
			name:    "a field named with dots is read before a path",
			mapping: map[string]string{"user.email": "email"},
			fields:  Fields{"user.email": "form@b.co", "user": map[string]any{"email": "nested@b.co"}},
			want:    `{"email":"form@b.co","source":"clay","attributes":{"user":{"email":"nested@b.co"}}}`,
		},
		{
			name:    "a path through something other than an object finds nothing",
			mapping: map[string]string{"user.email": "email"},
			fields:  Fields{"user": "ada", "email": "a@b.co"},
			want:    `{"email":"a@b.co","source":"clay","attributes":{"user":"ada"}}`,
		},
		{
			name:       "a nested value that cannot be converted names its path",
			mapping:    map[string]string{"row_data.score": "signal_score"},
			fields:     Fields{"email": "a@b.co", "row_data": map[string]any{"score": "lots"}},
			want:       `{"email":"a@b.co","source":"clay"}`,
			wantFields: []string{"/signal_score"},
		},
		{
			name:     "fields at row_data: its fields are the lead's, the body's others attributes",
			mapping:  clay,
			fieldsAt: "row_data",
			fields: Fields{"event": "row_updated", "table_id": "t_1", "row_data": map[string]any{
				"email": "ada@example.com", "company_name": "Example Inc", "first_name": "Ada",
				"enrichment_data": map[string]any{"employees": json.Number("40")}}},
			want: `{"email":"ada@example.com","first_name":"Ada","company":"Example Inc","source":"clay",` +
				`"attributes":{"enrichment_data":{"employees":40},"event":"row_updated","table_id":"t_1"}}`,
		},
		{
			name:     "fields at row_data: a field of row_data beats the body's field of the same name",
			fieldsAt: "row_data",
			fields: Fields{"event": "row_updated", "email": "outer@b.co",
				"row_data": map[string]any{"email": "a@b.co", "event": "inner"}},
			want: `{"email":"a@b.co","source":"clay","attributes":{"email":"outer@b.co","event":"inner"}}`,
		},
		{
			name:     "fields at row_data: a body without it is read as a whole",
			mapping:  clay,
			fieldsAt: "row_data",
			fields:   Fields{"Work Email": "ada@example.com", "Company Name": "Example Inc"},
			want:     `{"email":"ada@example.com","company":"Example Inc","source":"clay"}`,
		},
		{
			name:     "fields at row_data: row_data that is not an object is an ordinary field",
			fieldsAt: "row_data",
			fields:   Fields{"email": "a@b.co", "row_data": "none"},
			want:     `{"email":"a@b.co","source":"clay","attributes":{"row_data":"none"}}`,
		},
		{
			name:    "of two fields mapped to one lead field, the first by name that holds a value wins",
			mapping: clay,
			fields:  Fields{"Company Name": "First Inc", "company_name": "Second Inc", "email": "a@b.co"},
			want:    `{"email":"a@b.co","company":"First Inc","source":"clay","attributes":{"company_name":"Second Inc"}}`,
		},
		{
			name:    "an empty mapped field leaves the lead field to the next",
			mapping: clay,
			fields:  Fields{"Company Name": " ", "company_name": "Second Inc", "email": "a@b.co"},
			want:    `{"email":"a@b.co","company":"Second Inc","source":"clay"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewLeadMapper(tt.mapping, FieldsAt(tt.fieldsAt))
			if err != nil {
				t.Fatal(err)
			}
			before, err := json.Marshal(tt.fields)
			if err != nil {
				t.Fatal(err)
			}
			lead, problems := m.Map(tt.fields, "clay")
			checkMapped(t, lead, problems, tt.want, tt.wantFields)
			if after, _ := json.Marshal(tt.fields); string(after) != string(before) {
				t.Errorf("Map changed its input:\n%s\n%s", before, after)
			}
		})
	}
}

func TestLeadMapperFrom(t *testing.T) {
	m, err := NewLeadMapper(map[string]string{"Company Name": "company", "company_name": "company", "Work Email": "email"})
	if err != nil {
		t.Fatal(err)
	}
	for lead, want := range map[string]string{
		"email":   `field "Work Email"`,
		"company": `fields "Company Name" or "company_name"`,
		"title":   "",
	} {
		if got := m.From(lead); got != want {
			t.Errorf("From(%q) = %q, want %q", lead, got, want)
		}
	}
}

func TestLeadMapperNamesTheSendersField(t *testing.T) {
	m, err := NewLeadMapper(map[string]string{"Score": "signal_score"})
	if err != nil {
		t.Fatal(err)
	}
	_, problems := m.Map(Fields{"Score": "lots"}, "clay")
	if len(problems) != 1 || problems[0].Pointer != "/signal_score" {
		t.Fatalf("problems = %v", problems)
	}
	if want := `(from field "Score")`; !strings.Contains(problems[0].Message, want) {
		t.Fatalf("message %q does not say %s", problems[0].Message, want)
	}
}

func TestNewLeadMapperReportsEveryBadTarget(t *testing.T) {
	_, err := NewLeadMapper(map[string]string{"a": "emial", "b": "source", "c": "email", "": "title"})
	if err == nil {
		t.Fatal("NewLeadMapper accepted bad targets")
	}
	for _, want := range []string{`"emial"`, `"source"`, `empty source field`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestStringAt(t *testing.T) {
	tests := []struct {
		name, body, path, want string
	}{
		{"top-level field", `{"type":"deal.created"}`, "type", "deal.created"},
		{"nested field", `{"event":{"type":"message","n":1}}`, "event.type", "message"},
		{"a number is not a string", `{"event":{"type":"message","n":1}}`, "event.n", ""},
		{"missing field", `{"type":"deal.created"}`, "missing", ""},
		{"path beyond a string", `{"event":{"type":"message"}}`, "event.type.x", ""},
		{"not JSON", `not json`, "type", ""},
		{"empty path", `{"type":"x"}`, "", ""},
		{"array whose elements share the value", `[{"subscriptionType":"contact.creation","objectId":1},{"subscriptionType":"contact.creation","objectId":2}]`,
			"subscriptionType", "contact.creation"},
		{"array of one", `[{"subscriptionType":"deal.propertyChange"}]`, "subscriptionType", "deal.propertyChange"},
		{"array whose elements differ", `[{"subscriptionType":"contact.creation"},{"subscriptionType":"contact.deletion"}]`, "subscriptionType", ""},
		{"array with an element lacking it", `[{"subscriptionType":"contact.creation"},{"objectId":2}]`, "subscriptionType", ""},
		{"empty array", `[]`, "subscriptionType", ""},
		{"array of strings", `["contact.creation"]`, "subscriptionType", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StringAt([]byte(tt.body), tt.path); got != tt.want {
				t.Errorf("StringAt(%s, %q) = %q, want %q", tt.body, tt.path, got, tt.want)
			}
		})
	}
}

// FuzzParseLead decodes arbitrary bodies as JSON and as forms and maps them
// onto leads. It must never panic; whatever it builds must marshal to valid
// JSON, and a lead the contract accepts must read back as the same lead.
func FuzzParseLead(f *testing.F) {
	f.Add("application/json", `{"email":"Ada@Example.com","first_name":"Ada","last_name":"Lovelace","company":"Example Inc"}`)
	f.Add("application/json", `{"Work Email":"a@b.co","signal_score":"1e999","created_at":"2025-11-20T09:14:03Z","x":{"y":[1,2]}}`)
	f.Add("application/json", `{"email":"a@b.co","fit_score":-0,"created_at":253402300800}`)
	f.Add("application/x-www-form-urlencoded", "email=a%40b.co&intent_score=55.5%25&tag=a&tag=b")
	f.Add("application/x-www-form-urlencoded", "Work+Email=%ff%fe&source=x")
	f.Add("text/plain", "email=a")
	m, err := NewLeadMapper(map[string]string{"Work Email": "email", "Score": "signal_score"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, contentType, body string) {
		fields, err := Decode(contentType, []byte(body))
		if err != nil {
			return
		}
		lead, _ := m.Map(fields, "form")
		data, err := json.Marshal(lead)
		if err != nil {
			t.Fatalf("marshal lead: %v", err)
		}
		if !json.Valid(data) {
			t.Fatalf("invalid JSON: %s", data)
		}
		if contracts.Validate(contracts.TypeLeadCaptured, data) != nil {
			return
		}
		var back contracts.LeadCaptured
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatalf("accepted lead does not read back: %v\n%s", err, data)
		}
		again, err := json.Marshal(back)
		if err != nil || !jsonEqual(t, data, again) {
			t.Fatalf("accepted lead changes on a round trip:\n%s\n%s", data, again)
		}
	})
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

func TestIDAt(t *testing.T) {
	tests := []struct {
		body, path, want string
	}{
		{`{"event_id":"Ev0PV52K21"}`, "event_id", "Ev0PV52K21"},
		{`{"event":{"id":" evt_1 "}}`, "event.id", "evt_1"},
		{`[{"eventId":1},{"eventId":12345678901234567890}]`, "eventId", "1,12345678901234567890"},
		{`[{"eventId":1},{"other":2}]`, "eventId", ""},
		{`{"id":true}`, "id", ""},
		{`{"id":"x"}`, "", ""},
		{`not json`, "id", ""},
	}
	for _, tt := range tests {
		if got := IDAt([]byte(tt.body), tt.path); got != tt.want {
			t.Errorf("IDAt(%s, %q) = %q, want %q", tt.body, tt.path, got, tt.want)
		}
	}
}

func FuzzIDAt(f *testing.F) {
	f.Add([]byte(`[{"eventId":1}]`), "eventId")
	f.Add([]byte(`{"a":{"b":"c"}}`), "a.b")
	f.Fuzz(func(t *testing.T, body []byte, path string) {
		id := IDAt(body, path)
		if id != "" && path == "" {
			t.Fatalf("IDAt(%q, \"\") = %q", body, id)
		}
	})
}

func TestSetTime(t *testing.T) {
	tests := []struct {
		name    string
		value   any
		want    string // RFC 3339; "" for an error
		wantErr string
	}{
		{name: "RFC 3339 with an offset", value: "2025-11-20T09:14:03+01:00", want: "2025-11-20T09:14:03+01:00"},
		{name: "RFC 3339 with fractions", value: "2025-11-20T09:14:03.250Z", want: "2025-11-20T09:14:03.25Z"},
		{name: "date only is midnight UTC", value: "2026-02-26", want: "2026-02-26T00:00:00Z"},
		{name: "date only, trimmed", value: " 2026-02-26 ", want: "2026-02-26T00:00:00Z"},
		{name: "date from a repeated form field", value: []string{"", "2026-02-26"}, want: "2026-02-26T00:00:00Z"},
		{name: "Unix seconds", value: json.Number("1763630043"), want: "2025-11-20T09:14:03Z"},
		{name: "Unix milliseconds", value: json.Number("1700000000000"), want: "2023-11-14T22:13:20Z"},
		{name: "Unix milliseconds keep their fraction", value: json.Number("1700000000123"), want: "2023-11-14T22:13:20.123Z"},
		{name: "last number read as seconds", value: json.Number("99999999999"), want: "5138-11-16T09:46:39Z"},
		{name: "first number read as milliseconds", value: json.Number("100000000000"), want: "1973-03-03T09:46:40Z"},
		{name: "zero", value: json.Number("0"), want: "1970-01-01T00:00:00Z"},
		{name: "last millisecond of year 9999", value: json.Number("253402300799999"), want: "9999-12-31T23:59:59.999Z"},
		{name: "beyond year 9999 in milliseconds", value: json.Number("253402300800000"), wantErr: "milliseconds"},
		{name: "negative", value: json.Number("-1"), wantErr: "Unix seconds"},
		{name: "fractional seconds", value: json.Number("1700000000.5"), wantErr: "Unix seconds"},
		{name: "invalid date", value: "2026-02-30", wantErr: "2025-11-20"},
		{name: "date with a slash", value: "2026/02/26", wantErr: "a date such as"},
		{name: "words", value: "yesterday", wantErr: "RFC 3339"},
		{name: "an object", value: map[string]any{}, wantErr: "string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *time.Time
			ok, err := setTime(&got, tt.value)
			if tt.wantErr != "" {
				if err == nil || ok || got != nil {
					t.Fatalf("setTime(%v) = %v, %v, %v; want an error", tt.value, got, ok, err)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !ok || got == nil {
				t.Fatalf("setTime(%v) = %v, %v, %v", tt.value, got, ok, err)
			}
			if s := got.Format(time.RFC3339Nano); s != tt.want {
				t.Errorf("setTime(%v) = %s, want %s", tt.value, s, tt.want)
			}
		})
	}
}

func TestDecodeNamesTheFieldNotInUTF8(t *testing.T) {
	_, err := Decode("application/x-www-form-urlencoded", []byte("email=a%40b.co&first_name=J%F6rg"))
	if err == nil {
		t.Fatal("Decode accepted a form that is not UTF-8")
	}
	for _, want := range []string{`field "first_name"`, "not valid UTF-8", "charset=ISO-8859-1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %s", err, want)
		}
	}
}

// TestDecodeRefusesJSONNotInUTF8: a JSON body with bytes that are not UTF-8
// is refused, not stored with U+FFFD in their place.
func TestDecodeRefusesJSONNotInUTF8(t *testing.T) {
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", ""} {
		_, err := Decode(ct, []byte("{\"email\":\"a@b.co\",\"first_name\":\"J\xf6rg\"}"))
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "not valid UTF-8") {
			t.Errorf("Content-Type %q: error %v, want ErrMalformed saying the body is not valid UTF-8", ct, err)
		}
	}
}

// checkMapped compares a mapped lead, as JSON, with want, and its problems'
// pointers with wantFields.
func checkMapped(t *testing.T, lead any, problems []contracts.FieldError, want string, wantFields []string) {
	t.Helper()
	got, err := json.Marshal(lead)
	if err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(t, got, []byte(want)) {
		t.Errorf("lead = %s\nwant   %s", got, want)
	}
	var ptrs []string
	for _, p := range problems {
		ptrs = append(ptrs, p.Pointer)
	}
	if !slices.Equal(ptrs, wantFields) {
		t.Errorf("problems = %v, want pointers %v", problems, wantFields)
	}
}
