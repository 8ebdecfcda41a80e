package jsonalike_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/valyala/fastjson"

	"github.com/gtmhub/gtmhub/contracts/jsonalike"
)

// TestParse checks which documents Parse and Decode take, that Parse calls
// its function only for those, and that Decode reads each of them as
// encoding/json does.
func TestParse(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 400) + `1` + strings.Repeat(`}`, 400)
	tests := []struct {
		name   string
		doc    string
		parsed bool
	}{
		{"object", `{"email":"a@b.co","n":7,"ok":true,"no":false,"x":null}`, true},
		{"nested with spaces", ` {"a":{"b":[1,"2",{"c":[]}]},"d":{}} ` + "\n", true},
		{"array", `[{"a":1},2]`, true},
		{"string", `"a"`, true},
		{"numbers", `{"a":-0,"b":1.50,"c":1e999,"d":12345678901234567890,"e":2E-3}`, true},
		{"member named twice", `{"a":1,"b":2,"a":{"z":3}}`, true},
		{"empty object", `{}`, true},
		{"empty array", `[]`, true},
		{"null", `null`, true},
		{"escapes", `{"q":"a\"b\\c\/d\b\f\n\r\t","k\"ey":"v"}`, true},
		{"utf-8", `{"name":"José Müller 名前 🙂"}`, true},
		{"unicode escape", `{"name":"Jos\u00e9","k\u00E9y":"\u0041\u20ac"}`, true},
		{"escaped backslash before a u", `{"a":"\\ud800"}`, true},
		{"quote and backslash escapes", `{"a\\\\":"\\\"\\\\"}`, true},
		{"surrogate pair", `{"e":"\ud83d\ude00"}`, false},
		{"upper-case surrogate", `{"e":"\uDBFF\uDFFF"}`, false},
		{"unpaired surrogate", `{"name":"\ud800x"}`, false},
		{"invalid utf-8", "{\"name\":\"\xff\"}", false},
		{"control character", "{\"a\":\"x\ty\"}", false},
		{"control character before an escape", "{\"\":\"\x00\\b\"}", false},
		{"control character in a name", "{\"a\x01\":1}", false},
		{"control character in a name before an escape", "{\"\\n\x01\\n\":1}", false},
		{"trailing value", `{"a":1}{"b":2}`, false},
		{"trailing comma", `{"a":1,}`, false},
		{"leading zero", `{"a":01}`, false},
		{"nan", `{"a":NaN}`, false},
		{"bare word", `{"a":tru}`, false},
		{"exponent without digits", `{"a":1e}`, false},
		{"form feed as space", "{\"a\":\f1}", false},
		{"empty", ``, false},
		{"deeper than fastjson nests", deep, false},
		{"deeper than encoding/json nests", strings.Repeat("[", 20000), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			if ok := jsonalike.Parse([]byte(tt.doc), func(*fastjson.Value) { called = true }); ok != tt.parsed || called != ok {
				t.Fatalf("Parse() = %v and called its function: %v, want %v", ok, called, tt.parsed)
			}
			got, ok := jsonalike.Decode([]byte(tt.doc))
			if ok != tt.parsed {
				t.Fatalf("Decode() ok = %v, want %v", ok, tt.parsed)
			}
			if want, err := decodeStd([]byte(tt.doc)); ok && (err != nil || !reflect.DeepEqual(got, want)) {
				t.Fatalf("Decode() = %#v, encoding/json %#v, %v", got, want, err)
			}
		})
	}
}

// FuzzParse holds Decode, and so Parse, to encoding/json: every document it
// takes is valid JSON to encoding/json and reads the same.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`{"a":[1,"x",{"b":null}]}`, `"\u00e9"`, `{"a":"\\u"}`, "\"\x7f\"", `[1e5,-0.0]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := jsonalike.Decode(data)
		if !ok {
			return
		}
		want, err := decodeStd(data)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("Decode(%q) read %#v, encoding/json %#v, %v", data, got, want, err)
		}
	})
}

func decodeStd(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, json.Unmarshal(data, &v) // reports the trailing data
	}
	return v, nil
}

// BenchmarkParse parses a change event as the store writes it (compact) and
// as a person would (indented).
func BenchmarkParse(b *testing.B) {
	compact := []byte(`{"contact":{"email":"lead1@co1.example","first_name":"Ada","last_name":"Lovelace","company":"Example Inc",` +
		`"created_at":"2026-12-07T17:16:58.116887023Z","domain":"co1.example","source":"form","signal_score":6,"intent_score":15,` +
		`"fit_score":0,"updated_at":"2026-12-07T17:16:58.116887023Z"},"changes":[{"field":"email","old":null,"new":"lead1@co1.example"},` +
		`{"field":"first_name","old":null,"new":"Ada"},{"field":"signal_score","old":null,"new":6}],"provenance":{` +
		strings.Repeat(`"f`+`":{"source":"form","event_id":"11738545-bb93-562b-82cf-fb25f6ba9dca","at":"2026-12-07T17:16:58.116887023Z"},`, 8) +
		`"g":{"source":"enrich","event_id":"11738545-bb93-562b-82cf-fb25f6ba9dca","at":"2026-12-07T17:16:58.116887023Z"}}}`)
	var indented bytes.Buffer
	if err := json.Indent(&indented, compact, "", "  "); err != nil {
		b.Fatal(err)
	}
	for name, doc := range map[string][]byte{"compact": compact, "indented": indented.Bytes()} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				if !jsonalike.Parse(doc, func(*fastjson.Value) {}) {
					b.Fatal("not parsed")
				}
			}
		})
	}
}
