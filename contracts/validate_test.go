package contracts_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gtmhub/gtmhub/contracts"
)

func TestInvalidExamples(t *testing.T) {
	tests := []struct {
		file     string
		typ      string
		pointers []string
	}{
		{"lead.captured.missing-email.json", contracts.TypeLeadCaptured,
			[]string{"/email"}},
		{"lead.captured.bad-fields.json", contracts.TypeLeadCaptured,
			[]string{"/attributes", "/created_at", "/email", "/fit_score", "/intent_score", "/nickname", "/signal_score", "/source"}},
		{"lead.captured.not-an-object.json", contracts.TypeLeadCaptured,
			[]string{""}},
		{"lead.enriched.missing-enrichment.json", contracts.TypeLeadEnriched,
			[]string{"/enrichment"}},
		{"lead.enriched.bad-enrichment.json", contracts.TypeLeadEnriched,
			[]string{
				"/enrichment/company/country", "/enrichment/company/employees", "/enrichment/company/revenue",
				"/enrichment/email_verification/score", "/enrichment/scored_at",
				"/enrichment/status/Clear Bit", "/enrichment/status/apollo/reason", "/enrichment/status/hunter/state",
			}},
		{"lead.rejected.no-reasons.json", contracts.TypeLeadRejected,
			[]string{"/reasons", "/signal_score"}},
		{"lead.rejected.bad-reason.json", contracts.TypeLeadRejected,
			[]string{"/reasons/1/code", "/reasons/1/field", "/reasons/1/message"}},
		{"contact.updated.bad.json", contracts.TypeContactUpdated,
			[]string{"/changes/0/new", "/contact/email", "/contact/updated_at", "/provenance/title/at", "/provenance/title/source"}},
		{"company.created.bad.json", contracts.TypeCompanyCreated,
			[]string{"/changes", "/company/domain", "/company/website"}},
		{"webhook.received.bad.json", contracts.TypeWebhookReceived,
			[]string{"/body", "/body_base64", "/headers/X-Hubspot-Signature", "/headers/a~1b c", "/type"}},
		{"notification.sent.bad.json", contracts.TypeNotificationSent,
			[]string{"/channel", "/dedupe_key", "/reason"}},
		{"knowledge.page.conflict.bad.json", contracts.TypeKnowledgePageConflict,
			[]string{"/direction", "/notion_id", "/path", "/resolution"}},
		{"knowledge.page.synced.resolution.json", contracts.TypeKnowledgePageSynced,
			[]string{"/resolution"}},
		// Valid RFC 3339 that time.Time cannot read: lowercase t and z, a leap second.
		{"knowledge.page.synced.bad-times.json", contracts.TypeKnowledgePageSynced,
			[]string{"/local_updated_at", "/remote_updated_at"}},
	}

	files, err := filepath.Glob(filepath.Join("testdata", "invalid", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(tests) {
		t.Errorf("%d files in testdata/invalid, %d in the table", len(files), len(tests))
	}

	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "invalid", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			err = contracts.Validate(tt.typ, data)
			var verr *contracts.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("Validate: err = %v, want a *ValidationError", err)
			}
			if verr.EventType != tt.typ {
				t.Errorf("EventType = %q, want %q", verr.EventType, tt.typ)
			}
			var got []string
			for _, f := range verr.Fields {
				got = append(got, f.Pointer)
				if f.Message == "" {
					t.Errorf("%q has no message", f.Pointer)
				}
			}
			if !slices.Equal(got, tt.pointers) {
				t.Errorf("pointers:\n got %q\nwant %q\nerror: %v", got, tt.pointers, err)
			}
			// The same data decoded by encoding/json fails the same way.
			var v any
			if err := json.Unmarshal(data, &v); err != nil {
				t.Fatal(err)
			}
			var vErr *contracts.ValidationError
			if err := contracts.ValidateValue(tt.typ, v); !errors.As(err, &vErr) || !reflect.DeepEqual(vErr.Fields, verr.Fields) {
				t.Errorf("ValidateValue = %v, want the fields Validate found", err)
			}
		})
	}
}

func TestValidationErrorMessages(t *testing.T) {
	data := []byte(`{
		"email": "ada.example.com",
		"source": "form",
		"signal_score": 140,
		"intent_score": "high",
		"nickname": "Countess"
	}`)
	err := contracts.Validate(contracts.TypeLeadCaptured, data)
	var verr *contracts.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("Validate: err = %v, want a *ValidationError", err)
	}
	want := []contracts.FieldError{
		{Pointer: "/email", Message: "is not a valid email: missing @"},
		{Pointer: "/intent_score", Message: "must be a number, not a string"},
		{Pointer: "/nickname", Message: "is not an allowed property"},
		{Pointer: "/signal_score", Message: "must be at most 100"},
	}
	if !slices.Equal(verr.Fields, want) {
		t.Errorf("Fields:\n got %+v\nwant %+v", verr.Fields, want)
	}

	const wantErr = "contracts: invalid com.gtmhub.lead.captured data: " +
		"/email: is not a valid email: missing @; /intent_score: must be a number, not a string; " +
		"/nickname: is not an allowed property; /signal_score: must be at most 100"
	if err.Error() != wantErr {
		t.Errorf("Error() =\n %s\nwant\n %s", err, wantErr)
	}

	body, err := json.Marshal(verr)
	if err != nil {
		t.Fatal(err)
	}
	const wantJSON = `{"event_type":"com.gtmhub.lead.captured","fields":[` +
		`{"pointer":"/email","message":"is not a valid email: missing @"},` +
		`{"pointer":"/intent_score","message":"must be a number, not a string"},` +
		`{"pointer":"/nickname","message":"is not an allowed property"},` +
		`{"pointer":"/signal_score","message":"must be at most 100"}]}`
	if string(body) != wantJSON {
		t.Errorf("JSON =\n %s\nwant\n %s", body, wantJSON)
	}
}

func TestValidationErrorRootMessage(t *testing.T) {
	err := contracts.Validate(contracts.TypeNotificationSent, []byte(`"sent"`))
	var verr *contracts.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("Validate: err = %v, want a *ValidationError", err)
	}
	want := []contracts.FieldError{{Pointer: "", Message: "must be an object, not a string"}}
	if !slices.Equal(verr.Fields, want) {
		t.Errorf("Fields = %+v, want %+v", verr.Fields, want)
	}
	if got, want := err.Error(), "contracts: invalid com.gtmhub.notification.sent data: (root): must be an object, not a string"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestDecode: Decode returns what encoding/json decodes a valid document to,
// for every example and for the JSON that the fast path must leave to the
// library, and Validate's errors for the rest.
func TestDecode(t *testing.T) {
	examples, err := filepath.Glob(filepath.Join("examples", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	updated, err := os.ReadFile(filepath.Join("examples", contracts.TypeContactUpdated+".json"))
	if err != nil {
		t.Fatal(err)
	}
	// change sets the new value of the example's first change, a free-form
	// JSON value, to value.
	change := func(value string) []byte {
		return []byte(strings.Replace(string(updated), `"new": "CTO"`, `"new": `+value, 1))
	}
	tests := []struct {
		name string
		typ  string
		data []byte
		want error // nil: the document as encoding/json decodes it
	}{
		{"escapes", contracts.TypeContactUpdated, change(`"caf\u00e9 \"q\" \\ \n \ud83d\ude00"`), nil},
		{"a large integer", contracts.TypeContactUpdated, change(`123456789012345678901234567890`), nil},
		{"an exponent", contracts.TypeContactUpdated, change(`-1.5e-7`), nil},
		{"a member twice", contracts.TypeContactUpdated, change(`{"a": 1, "a": 2}`), nil},
		{"invalid UTF-8", contracts.TypeContactUpdated, change("\"\xff\xfe\""), nil},
		{"deep nesting", contracts.TypeContactUpdated, change(strings.Repeat("[", 80) + strings.Repeat("]", 80)), nil},
		{"not JSON", contracts.TypeContactUpdated, []byte(`{"contact":`), contracts.ErrInvalidJSON},
		{"no data", contracts.TypeContactUpdated, nil, contracts.ErrInvalidJSON},
		{"an unknown type", "com.example.unknown", []byte(`{}`), contracts.ErrUnknownType},
	}
	for _, file := range examples {
		typ := strings.TrimSuffix(filepath.Base(file), ".json")
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		tests = append(tests, struct {
			name string
			typ  string
			data []byte
			want error
		}{"example " + typ, typ, data, nil})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := contracts.Decode(tt.typ, tt.data)
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("Decode() = %v, %v; want %v", got, err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var want any
			if err := json.Unmarshal(tt.data, &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Decode() = %#v\nencoding/json: %#v", got, want)
			}
		})
	}

	t.Run("invalid", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join("testdata", "invalid", "contact.updated.bad.json"))
		if err != nil {
			t.Fatal(err)
		}
		var verr *contracts.ValidationError
		if _, err := contracts.Decode(contracts.TypeContactUpdated, data); !errors.As(err, &verr) || len(verr.Fields) == 0 {
			t.Errorf("Decode() = %v, want a *ValidationError", err)
		}
	})
}
