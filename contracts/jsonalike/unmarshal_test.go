package jsonalike_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/contracts/jsonalike"
)

// unmarshalTarget has the kinds of fields the contracts' Go types have.
type unmarshalTarget struct {
	Email     string            `json:"email,omitempty"`
	CreatedAt *time.Time        `json:"created_at,omitempty"`
	Score     *float64          `json:"score,omitempty"`
	Employees *int              `json:"employees,omitempty"`
	Status    map[string]status `json:"status"`
	Attrs     map[string]any    `json:"attributes,omitempty"`
	Tags      []string          `json:"tags,omitempty"`
	Nested    *unmarshalTarget  `json:"nested,omitempty"`
}

type status struct {
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
}

var unmarshalDocs = []string{
	`{"email":"ada@example.com","created_at":"2024-05-01T10:00:00.5+02:00","score":42.5,"employees":120}`,
	`{"email":"ada@example.com","status":{"hunter":{"state":"done"},"clearbit":{"state":"failed","reason":"429"}}}`,
	`{"attributes":{"n":12345678901234567890,"x":[1,{"y":null}],"s":"\u00e9"},"tags":["a","b"]}`,
	`{"nested":{"email":"b@example.com","nested":{"tags":[]}}}`,
	`{"EMAIL":"upper@example.com"}`,                            // member names match case-insensitively
	`{"email":"first@example.com","email":"last@example.com"}`, // the last one wins
	`{"email":"ada@example.com","unknown":{"deep":[1,2,3]}}`,
	`{"created_at":"2024-01-01T00:00:00,5Z"}`, // encoding/json takes a comma
	`{"created_at":"2024-01-01t00:00:00z"}`,   // and refuses lower case
	`{"created_at":"2024-01-01T24:00:00Z"}`,
	`{"created_at":" 2024-01-01T00:00:00Z"}`,
	`{"created_at":null,"score":null,"status":null}`,
	`{"score":1e400}`,
	`{"score":"5"}`,
	`{"employees":1.5}`,
	`{"email":12}`,
	`{"email":"ada@example.com"} trailing`,
	`{"email":"ada@example.com"`,
	`[]`,
	`null`,
	"{\"email\":\"bad\xff\"}",          // not UTF-8: encoding/json's, which writes U+FFFD
	`{"email":"a\ud800b@example.com"}`, // an unpaired surrogate: the same
	"{\"email\":\"tab\there\"}",        // a control character: refused
	`{"tags":["a",2]}`,
	`{"ſtatus":{"h":{"state":"done"}}}`,      // encoding/json folds ſ to s in names
	`{"\u017ftatus":{"h":{"state":"done"}}}`, // and when escaped
	`{"status":{"h":{"state":"done","reason":"ſ"}}}`, // a value beyond ASCII is no name
	`{"status":{"h":{"s\u0074ate":"done"}}}`,         // an escaped name
	`{"attributes":{"deep":` + strings.Repeat("[", maxDepthDoc) + strings.Repeat("]", maxDepthDoc) + `}}`,
	`{"attributes":{"deeper":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}}`, // past encoding/json's limit
}

// maxDepthDoc nests a document as deep as most real ones never go, and
// deeper than the fast decoder is given.
const maxDepthDoc = 100

// TestUnmarshal holds Unmarshal to encoding/json on documents it decodes
// alike and on those where the decoders differ: the same value, and the
// same error, word for word.
func TestUnmarshal(t *testing.T) {
	for _, doc := range unmarshalDocs {
		t.Run(docName(doc), func(t *testing.T) {
			var got, want unmarshalTarget
			gotErr := jsonalike.Unmarshal([]byte(doc), &got)
			wantErr := json.Unmarshal([]byte(doc), &want)
			if errText(gotErr) != errText(wantErr) {
				t.Fatalf("error %v, encoding/json %v", gotErr, wantErr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decoded %+v, encoding/json %+v", got, want)
			}
		})
	}
}

// TestUnmarshalKeepsWhatWasThere decodes into values set beforehand, as
// encoding/json does: members the document names replace them, the others
// stay, also when the fast decoder gave up halfway (encoding/json checks
// the whole document before it decodes any of it).
func TestUnmarshalKeepsWhatWasThere(t *testing.T) {
	for _, doc := range []string{`{"email":"new@example.com"}`, `{"email":"new@example.com","tags":["a",2]}`,
		`{"email":"new@example.com","tags":["a"]`} {
		got := unmarshalTarget{Email: "old@example.com", Tags: []string{"kept"}}
		want := got
		want.Tags = []string{"kept"}
		gotErr := jsonalike.Unmarshal([]byte(doc), &got)
		wantErr := json.Unmarshal([]byte(doc), &want)
		if errText(gotErr) != errText(wantErr) || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decoded %+v, %v; encoding/json %+v, %v", doc, got, gotErr, want, wantErr)
		}
	}
	if err := jsonalike.Unmarshal([]byte(`{}`), unmarshalTarget{}); err == nil {
		t.Error("Unmarshal into a non-pointer: no error")
	}
}

// FuzzUnmarshal holds Unmarshal to encoding/json on any document.
func FuzzUnmarshal(f *testing.F) {
	for _, doc := range unmarshalDocs {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got, want unmarshalTarget
		gotErr := jsonalike.Unmarshal(data, &got)
		wantErr := json.Unmarshal(data, &want)
		if errText(gotErr) != errText(wantErr) || !reflect.DeepEqual(got, want) {
			t.Fatalf("Unmarshal(%q) = %+v, %v; encoding/json %+v, %v", data, got, gotErr, want, wantErr)
		}
	})
}

// docName is doc, cut short for a test name.
func docName(doc string) string {
	if len(doc) > 60 {
		return doc[:60] + "..."
	}
	return doc
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func BenchmarkUnmarshal(b *testing.B) {
	doc := []byte(`{"email":"ada@example.com","created_at":"2024-05-01T10:00:00Z","score":42.5,"employees":120,` +
		`"status":{"hunter":{"state":"done"},"clearbit":{"state":"done"}},"tags":["a","b"],"nested":{"email":"b@example.com"}}`)
	for _, bc := range []struct {
		name string
		fn   func([]byte, any) error
	}{{"jsonalike", jsonalike.Unmarshal}, {"encoding-json", json.Unmarshal}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var v unmarshalTarget
				if err := bc.fn(doc, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
