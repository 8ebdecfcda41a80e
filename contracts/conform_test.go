package contracts

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestPlanAgreesWithLibrary checks the plan against the library on every
// example, every invalid document in testdata, and thousands of variants
// of the examples: each leaf replaced by an edge value, each property
// removed, an unknown property added. Wherever the plan gives a verdict it
// must be the library's, for numbers decoded as json.Number (Validate) and
// as float64 (ValidateValue).
func TestPlanAgreesWithLibrary(t *testing.T) {
	schemas, err := compiledSchemas()
	if err != nil {
		t.Fatal(err)
	}
	docs := corpus(t)
	var decided, total int
	for typ, list := range docs {
		sch := schemas[typ]
		for _, raw := range list {
			for i, doc := range decodings(t, raw) {
				total++
				got := sch.plan.conformsValue(doc)
				if i == 0 {
					// Validate's path: the plan reads the data itself.
					if fromData := sch.plan.conformsData(raw); fromData != got {
						t.Errorf("%s: plan says %v of the data, %v of its decoding, for %s", typ, fromData, got, raw)
					}
				}
				if got == unknown {
					continue
				}
				decided++
				if want := either(sch.schema.Validate(doc) == nil); got != want {
					t.Errorf("%s: plan says %v, library %v, for %s", typ, got, want, raw)
				}
			}
		}
	}
	t.Logf("%d documents, the plan decided %d", total, decided)
	if decided < total*3/4 {
		t.Errorf("the plan decided only %d of %d documents", decided, total)
	}
}

// TestPlanDecidesTheHotTypes fails if the plan leaves a type the pipeline
// validates on every lead to the library: the fast path would be lost
// without anything else failing.
func TestPlanDecidesTheHotTypes(t *testing.T) {
	schemas, err := compiledSchemas()
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{TypeLeadCaptured, TypeLeadEnriched, TypeContactCreated, TypeContactUpdated,
		TypeCompanyCreated, TypeCompanyUpdated, TypeNotificationSent} {
		raw := example(t, typ)
		if got := schemas[typ].plan.conformsData(raw); got != conforming {
			t.Errorf("%s: plan says %v of its example's data", typ, got)
		}
		for _, doc := range decodings(t, raw) {
			if got := schemas[typ].plan.conformsValue(doc); got != conforming {
				t.Errorf("%s: plan says %v of its example", typ, got)
			}
		}
	}
}

func TestPlanNumbers(t *testing.T) {
	c := jsonschema.NewCompiler()
	for name, s := range map[string]map[string]any{
		"score.json":   {"type": "number", "minimum": 0, "maximum": 100},
		"ceiling.json": {"type": "number", "maximum": 10},
		"floor.json":   {"type": "number", "minimum": 10},
	} {
		if err := c.AddResource(name, s); err != nil {
			t.Fatal(err)
		}
	}
	compile := func(name string) *jsonschema.Schema {
		s, err := c.Compile(name)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// A bound alone is checked too.
	for _, one := range []struct {
		schema string
		in     json.Number
		want   verdict
	}{
		{"ceiling.json", "11", nonconforming}, {"ceiling.json", "-11", conforming},
		{"floor.json", "9", nonconforming}, {"floor.json", "11", conforming},
	} {
		if got := newPlan(compile(one.schema)).conformsValue(one.in); got != one.want {
			t.Errorf("%s %v: got %v, want %v", one.schema, one.in, got, one.want)
		}
	}
	score := compile("score.json")
	p := newPlan(score)
	tests := []struct {
		in   any
		want verdict
	}{
		{json.Number("0"), conforming},
		{json.Number("100"), conforming},
		{json.Number("64.5"), conforming},
		{json.Number("101"), nonconforming},
		{json.Number("-1"), nonconforming},
		{json.Number("-0.5"), nonconforming},
		{json.Number("100.5"), nonconforming},
		// Its nearest float64 is the bound: only exact arithmetic can tell.
		{json.Number("100.00000000000000001"), unknown},
		{json.Number("100.0"), unknown},
		{json.Number("1e400"), unknown},
		{0.0, conforming},
		{100.0, conforming},
		{100.00000000000001, nonconforming},
		{-1e-300, nonconforming},
		{"50", nonconforming},
	}
	for _, tt := range tests {
		if got := p.conformsValue(tt.in); got != tt.want {
			t.Errorf("%v: got %v, want %v", tt.in, got, tt.want)
		}
		if tt.want != unknown {
			if lib := either(score.Validate(tt.in) == nil); lib != tt.want {
				t.Errorf("%v: the library says %v, the table %v", tt.in, lib, tt.want)
			}
		}
	}
}

// TestPlanEdgeSchemas covers schemas the catalog does not use today: the
// plan must not call conforming what the library rejects, and must give up
// at once on a schema that recurses on the same value.
func TestPlanEdgeSchemas(t *testing.T) {
	tests := []struct {
		name   string
		schema map[string]any
		doc    any
	}{
		{"empty enum allows nothing", map[string]any{"enum": []any{}}, "a"},
		{"empty enum under not", map[string]any{"not": map[string]any{"enum": []any{}}}, "a"},
		{"recursion through allOf", map[string]any{"allOf": []any{map[string]any{"$ref": "#"}, map[string]any{"$ref": "#"}}}, "a"},
		{"recursion through anyOf", map[string]any{"anyOf": []any{map[string]any{"$ref": "#"}, map[string]any{"$ref": "#"}}}, "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := jsonschema.NewCompiler()
			if err := c.AddResource("s.json", tt.schema); err != nil {
				t.Fatal(err)
			}
			s, err := c.Compile("s.json")
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan verdict, 1)
			go func() { done <- newPlan(s).conformsValue(tt.doc) }()
			select {
			case got := <-done:
				if lib := either(s.Validate(tt.doc) == nil); got != unknown && got != lib {
					t.Errorf("plan says %v, library %v", got, lib)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the plan did not answer within 5 s")
			}
		})
	}
}

func (v verdict) String() string {
	return [...]string{"unknown", "conforming", "nonconforming"}[v]
}

// corpus returns documents by event type: the examples, testdata's invalid
// documents and the examples' variants.
func corpus(t *testing.T) map[string][][]byte {
	t.Helper()
	docs := map[string][][]byte{}
	for _, e := range Catalog() {
		raw := example(t, e.Type)
		docs[e.Type] = append(docs[e.Type], raw)
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		for _, variant := range variants(v) {
			b, err := json.Marshal(variant)
			if err != nil {
				t.Fatal(err)
			}
			docs[e.Type] = append(docs[e.Type], b)
		}
	}
	files, err := filepath.Glob("testdata/invalid/*.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name, _, _ := strings.Cut(filepath.Base(f), ".bad")
		name, _, _ = strings.Cut(name, ".missing")
		name, _, _ = strings.Cut(name, ".not-")
		for _, e := range Catalog() {
			if strings.HasPrefix(name, strings.TrimPrefix(e.Type, "com.gtmhub.")) {
				docs[e.Type] = append(docs[e.Type], b)
			}
		}
	}
	return docs
}

func example(t testing.TB, typ string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("examples", typ+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// decodings returns raw decoded as Validate decodes it (json.Number) and as
// encoding/json does by default (float64).
func decodings(t testing.TB, raw []byte) []any {
	t.Helper()
	asNumber, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	var asFloat any
	if err := json.Unmarshal(raw, &asFloat); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return []any{asNumber, asFloat}
}

// edges are the values each leaf of an example is replaced with.
var edges = []any{
	nil, true, false, "", "x", strings.Repeat("é", 300), strings.Repeat("a", 6000),
	json.Number("0"), json.Number("-1"), json.Number("1.5"), json.Number("100"), json.Number("101"),
	json.Number("1e2"), json.Number("12345678901234567890"), json.Number("99.99999999999999999"),
	"ada@example.com", "not an email", "example.com", "-bad-.example", "https://example.com/x", "::",
	"2025-11-20T09:14:03Z", "2025-11-20T09:14:03.5+01:00", "2025-11-20t09:14:03z", "2025-13-01T00:00:00Z",
	"2016-12-31T23:59:60Z", "2024-02-29T00:00:00Z", "2025-02-29T00:00:00Z", "2025-11-20T09:14:03+24:00", "valid", "sent", "email", "slack", "form", "Web Form", "first_name", "First",
	[]any{}, []any{"x"}, map[string]any{}, map[string]any{"x": 1},
}

// variants returns copies of doc with one change each.
func variants(doc any) []any {
	var out []any
	var walk func(path []any)
	walk = func(path []any) {
		at := lookup(doc, path)
		switch v := at.(type) {
		case map[string]any:
			for k := range v {
				out = append(out, edit(doc, path, func(parent any) any {
					m := clone(parent).(map[string]any)
					delete(m, k)
					return m
				}))
				walk(append(slices.Clone(path), k))
			}
			out = append(out, edit(doc, path, func(parent any) any {
				m := clone(parent).(map[string]any)
				m["unknown_property"] = "x"
				return m
			}))
		case []any:
			for i := range v {
				walk(append(slices.Clone(path), i))
			}
		}
		for _, e := range edges {
			out = append(out, edit(doc, path, func(any) any { return e }))
		}
	}
	walk(nil)
	return out
}

func lookup(doc any, path []any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			doc = doc.(map[string]any)[k]
		case int:
			doc = doc.([]any)[k]
		}
	}
	return doc
}

// edit returns a deep copy of doc with the value at path replaced by f's
// result.
func edit(doc any, path []any, f func(any) any) any {
	if len(path) == 0 {
		return f(doc)
	}
	c := clone(doc)
	switch k := path[0].(type) {
	case string:
		m := c.(map[string]any)
		m[k] = edit(m[k], path[1:], f)
	case int:
		a := c.([]any)
		a[k] = edit(a[k], path[1:], f)
	}
	return c
}

func clone(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = clone(x)
		}
		return m
	case []any:
		a := make([]any, len(v))
		for i, x := range v {
			a[i] = clone(x)
		}
		return a
	}
	return v
}

// TestPlanReadsDataAsTheDecoderDoes covers what fastjson and encoding/json
// read differently. Where the plan gives a verdict on the data it must be
// the library's on the data as encoding/json decodes it; a document that is
// not JSON to encoding/json gets no verdict at all.
func TestPlanReadsDataAsTheDecoderDoes(t *testing.T) {
	schemas, err := compiledSchemas()
	if err != nil {
		t.Fatal(err)
	}
	sch := schemas[TypeLeadCaptured]
	tests := []struct {
		name string
		data string
		want verdict // the plan's verdict; unknown leaves it to the library
	}{
		{"plain", `{"email": "ada@example.com", "source": "form"}`, conforming},
		{"escaped name and value", `{"em\u0061il": "ada@ex\u0061mple.com", "source": "form"}`, conforming},
		{"escaped pair", `{"email": "ada@example.com", "source": "form", "first_name": "\ud83d\ude00"}`, unknown},
		{"lone surrogate", `{"email": "ada@example.com", "source": "form", "first_name": "\ud83d"}`, unknown},
		{"surrogate then letter", `{"email": "ada@example.com", "source": "form", "first_name": "\ud83d\u0041"}`, unknown},
		{"name twice, last bad", `{"email": "ada@example.com", "source": "form", "email": "not an email"}`, unknown},
		{"name twice, last good", `{"email": "x", "source": "form", "email": "ada@example.com"}`, unknown},
		{"invalid UTF-8 value", "{\"email\": \"ada@example.com\", \"source\": \"form\", \"first_name\": \"A\xffa\"}", unknown},
		{"invalid UTF-8 name", "{\"email\": \"ada@example.com\", \"source\": \"form\", \"\xff\": 1}", unknown},
		{"missing email", `{"source": "form"}`, nonconforming},
		{"number fastjson reads", `{"email": "ada@example.com", "source": "form", "signal_score": 01}`, unknown},
		{"NaN", `{"email": "ada@example.com", "source": "form", "signal_score": NaN}`, unknown},
		{"control character", "{\"email\": \"ada@example.com\", \"source\": \"form\", \"first_name\": \"A\tda\"}", unknown},
		{"unknown escape", `{"email": "ada@example.com", "source": "form", "first_name": "A\qda"}`, unknown},
		{"trailing data", `{"email": "ada@example.com", "source": "form"} {}`, unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.data)
			got := sch.plan.conformsData(data)
			if got != tt.want {
				t.Errorf("plan says %v, want %v", got, tt.want)
			}
			if !json.Valid(data) {
				return
			}
			lib := either(sch.schema.Validate(decodings(t, data)[0]) == nil)
			if got != unknown && got != lib {
				t.Errorf("plan says %v, library %v", got, lib)
			}
			if err := Validate(TypeLeadCaptured, data); (err == nil) != (lib == conforming) {
				t.Errorf("Validate: %v, library says %v", err, lib)
			}
		})
	}
}

// TestValidateValueTakesOnlyDecodedJSON checks that ValidateValue leaves to
// the library what encoding/json would not have decoded, even when encoding
// it gives a conforming document.
func TestValidateValueTakesOnlyDecodedJSON(t *testing.T) {
	tests := []struct {
		name string
		v    any
		ok   bool
	}{
		{"decoded map", map[string]any{"email": "ada@example.com", "source": "form"}, true},
		{"map of strings", map[string]string{"email": "ada@example.com", "source": "form"}, false},
		{"struct", struct {
			Email  string `json:"email"`
			Source string `json:"source"`
		}{"ada@example.com", "form"}, false},
		{"invalid UTF-8", map[string]any{"email": "ada@example.com", "source": "form", "first_name": "A\xffa"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateValue(TypeLeadCaptured, tt.v)
			if (err == nil) != tt.ok {
				t.Errorf("ValidateValue() = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

// FuzzPlanAgreesWithLibrary holds the plan to the library on any document:
// whenever the plan gives a verdict for a contact change event, the
// library, reading the document as encoding/json does, gives the same.
func FuzzPlanAgreesWithLibrary(f *testing.F) {
	schemas, err := compiledSchemas()
	if err != nil {
		f.Fatal(err)
	}
	sch := schemas[TypeContactCreated]
	f.Add(example(f, TypeContactCreated))
	f.Add([]byte(`{"contact":{"email":"a@b.co","email":"x"},"changes":[{"field":"email","old":null,"new":"a@b.co"}]}`))
	f.Add([]byte(`{"contact":{"email":"a@b.co","signal_score":1e999},"changes":[{"field":"email","old":null,"new":1}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got := sch.plan.conformsData(data)
		if got == unknown {
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("plan says %v of %q, which does not decode: %v", got, data, err)
		}
		if lib := either(sch.schema.Validate(doc) == nil); lib != got {
			t.Fatalf("plan says %v of %q, library %v", got, data, lib)
		}
	})
}
