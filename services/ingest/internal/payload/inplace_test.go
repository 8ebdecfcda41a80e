package payload

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// TestDecodeObjectInPlace holds the fastjson reading to encoding/json's on
// the bodies it takes, and checks it leaves to encoding/json those the two
// could read differently.
func TestDecodeObjectInPlace(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 400) + `1` + strings.Repeat(`}`, 400)
	tests := []struct {
		name    string
		body    string
		inPlace bool // read by fastjson rather than left to encoding/json
	}{
		{"flat", `{"email":"a@b.co","n":7,"ok":true,"no":false,"x":null}`, true},
		{"nested", ` {"a":{"b":[1,"2",{"c":[]}]},"d":{}} ` + "\n", true},
		{"numbers keep their text", `{"a":-0,"b":1.50,"c":1e999,"d":12345678901234567890,"e":2E-3}`, true},
		{"member named twice keeps the last", `{"a":1,"b":2,"a":{"z":3}}`, true},
		{"escapes", `{"q":"a\"b\\c\/d\b\f\n\r\t","k\"ey":"v"}`, true},
		{"utf-8", `{"name":"José Müller 名前 🙂"}`, true},
		{"empty object", `{}`, true},
		{"unicode escape", `{"name":"Jos\u00e9","k\u00E9y":"\u0041\u20ac"}`, true},
		{"escaped backslash before a u", `{"a":"\\ud800"}`, true},
		{"surrogate pair", `{"e":"\ud83d\ude00"}`, false},
		{"upper-case surrogate", `{"e":"\uDBFF\uDFFF"}`, false},
		{"unpaired surrogate", `{"name":"\ud800x"}`, false},
		{"invalid utf-8", "{\"name\":\"\xff\"}", false},
		{"array", `[{"a":1}]`, false},
		{"string", `"a"`, false},
		{"trailing value", `{"a":1}{"b":2}`, false},
		{"trailing comma", `{"a":1,}`, false},
		{"control character", "{\"a\":\"x\ty\"}", false},
		{"control character before an escape", "{\"\":\"\x00\\b\"}", false},
		{"control character in a name before an escape", "{\"\\n\x01\\n\":1}", false},
		{"quote and backslash escapes", `{"a\\\\":"\\\"\\\\"}`, true},
		{"leading zero", `{"a":01}`, false},
		{"nan", `{"a":NaN}`, false},
		{"empty", ``, false},
		{"deeper than fastjson nests", deep, false},
		{"deeper than encoding/json nests", strings.Repeat("[", 20000), false},
		{"control character in a name", "{\"a\x01\":1}", false},
		{"bare word", `{"a":tru}`, false},
		{"exponent without digits", `{"a":1e}`, false},
		{"form feed as space", "{\"a\":\f1}", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := decodeObjectInPlace([]byte(tt.body))
			if ok != tt.inPlace {
				t.Fatalf("decodeObjectInPlace() ok = %v, want %v", ok, tt.inPlace)
			}
			want, err := decodeJSONStd([]byte(tt.body))
			if ok && (err != nil || !reflect.DeepEqual(got, want)) {
				t.Fatalf("decodeObjectInPlace() = %#v, encoding/json: %#v, %v", got, want, err)
			}
			viaDecode, decodeErr := decodeJSON([]byte(tt.body))
			if (decodeErr == nil) != (err == nil) || !reflect.DeepEqual(viaDecode, want) {
				t.Fatalf("decodeJSON() = %#v, %v; encoding/json: %#v, %v", viaDecode, decodeErr, want, err)
			}
			if err != nil && decodeErr.Error() != err.Error() {
				t.Fatalf("decodeJSON() error %q, encoding/json's %q", decodeErr, err)
			}
		})
	}
}

// FuzzDecodeJSON holds decodeJSON to encoding/json's reading of any body:
// the same fields or the same error.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"email":"a@b.co","n":7}`, `{"a":{"b":[1,"2",{"c":[]}]},"d":{}}`, `{"a":1,"a":2}`,
		`{"q":"a\"b\\c\/d\b\f\n\r\t"}`, `{"name":"Jos\u00e9"}`, `{"a":-0.0e+1}`, "{\"a\":\"\xff\"}",
		`{"a":1}{}`, `[1]`, ` `, `{"a":[tru]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := decodeJSON(body)
		want, wantErr := decodeJSONStd(body)
		if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
			t.Fatalf("decodeJSON(%q) error %v, encoding/json's %v", body, err, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeJSON(%q) = %#v, encoding/json: %#v", body, got, want)
		}
	})
}

func BenchmarkDecodeJSON(b *testing.B) {
	lead := map[string]any{"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace",
		"company": "Example Inc", "title": "Head of Engineering", "phone": "+44 20 7946 0958",
		"utm":     map[string]any{"source": "newsletter", "medium": "email", "campaign": "launch-2026"},
		"consent": true, "score": 72.5, "notes": strings.Repeat("Interested in the enterprise plan. ", 20)}
	body, err := json.Marshal(lead)
	if err != nil {
		b.Fatal(err)
	}
	for _, bench := range []struct {
		name   string
		decode func([]byte) (Fields, error)
	}{
		{"decodeJSON", decodeJSON},
		{"encoding-json", decodeJSONStd},
	} {
		b.Run(bench.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := bench.decode(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
