package contracts_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gtmhub/gtmhub/contracts"
)

// newData returns a pointer to the Go type that mirrors eventType's data.
func newData(t *testing.T, eventType string) any {
	t.Helper()
	switch eventType {
	case contracts.TypeLeadCaptured:
		return new(contracts.LeadCaptured)
	case contracts.TypeLeadEnriched:
		return new(contracts.LeadEnriched)
	case contracts.TypeLeadRejected:
		return new(contracts.LeadRejected)
	case contracts.TypeContactCreated, contracts.TypeContactUpdated:
		return new(contracts.ContactChanged)
	case contracts.TypeCompanyCreated, contracts.TypeCompanyUpdated:
		return new(contracts.CompanyChanged)
	case contracts.TypeWebhookReceived:
		return new(contracts.WebhookReceived)
	case contracts.TypeNotificationSent:
		return new(contracts.Notification)
	case contracts.TypeKnowledgePageSynced, contracts.TypeKnowledgePageConflict:
		return new(contracts.KnowledgePage)
	}
	t.Fatalf("no Go type for %s", eventType)
	return nil
}

func readExample(t *testing.T, eventType string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("examples", eventType+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeAny(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return v
}

func TestExamplesValidate(t *testing.T) {
	for _, e := range contracts.Catalog() {
		t.Run(e.Type, func(t *testing.T) {
			data := readExample(t, e.Type)
			if err := contracts.Validate(e.Type, data); err != nil {
				t.Fatalf("example does not validate: %v", err)
			}
			var v any
			if err := json.Unmarshal(data, &v); err != nil {
				t.Fatal(err)
			}
			if err := contracts.ValidateValue(e.Type, v); err != nil {
				t.Fatalf("decoded example does not validate: %v", err)
			}
		})
	}
}

// TestExamplesRoundTrip proves the Go types mirror the schemas: every field
// of every example decodes into the Go type (unknown fields are an error),
// and marshals back to the same JSON, which still validates.
func TestExamplesRoundTrip(t *testing.T) {
	for _, e := range contracts.Catalog() {
		t.Run(e.Type, func(t *testing.T) {
			in := readExample(t, e.Type)
			v := newData(t, e.Type)
			dec := json.NewDecoder(bytes.NewReader(in))
			dec.DisallowUnknownFields()
			if err := dec.Decode(v); err != nil {
				t.Fatalf("decoding into %T: %v", v, err)
			}
			out, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("marshalling %T: %v", v, err)
			}
			if got, want := decodeAny(t, out), decodeAny(t, in); !reflect.DeepEqual(got, want) {
				t.Errorf("round trip through %T changed the data\n got: %s\nwant: %s", v, out, in)
			}
			if err := contracts.Validate(e.Type, out); err != nil {
				t.Errorf("marshalled %T does not validate: %v", v, err)
			}
		})
	}
}

func TestWebhookBodyBase64RoundTrip(t *testing.T) {
	in := []byte(`{"source":"slack","type":"form_post","headers":{"Content-Type":["application/x-www-form-urlencoded"]},"body_base64":"cGF5bG9hZD0lN0IlN0Q="}`)
	if err := contracts.Validate(contracts.TypeWebhookReceived, in); err != nil {
		t.Fatal(err)
	}
	var w contracts.WebhookReceived
	if err := json.Unmarshal(in, &w); err != nil {
		t.Fatal(err)
	}
	if got, want := string(w.BodyBase64), "payload=%7B%7D"; got != want {
		t.Errorf("BodyBase64 = %q, want %q", got, want)
	}
	if got := w.Headers.Get("content-type"); got != "application/x-www-form-urlencoded" {
		t.Errorf("Headers.Get(content-type) = %q", got)
	}
	out, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(decodeAny(t, out), decodeAny(t, in)) {
		t.Errorf("round trip changed the data\n got: %s\nwant: %s", out, in)
	}
}

func TestEveryExampleIsForACatalogType(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("examples", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		typ := strings.TrimSuffix(filepath.Base(f), ".json")
		if _, ok := contracts.Lookup(typ); !ok {
			t.Errorf("%s: %s is not in the catalog", f, typ)
		}
	}
	if got, want := len(files), len(contracts.Catalog()); got != want {
		t.Errorf("%d examples for %d catalog types", got, want)
	}
}

// defsFile holds the shared definitions; it is the one schema file that is
// not an event type.
const defsFile = "com.gtmhub.defs.v1.json"

func TestCatalogMatchesSchemaFiles(t *testing.T) {
	fsys := contracts.SchemaFS()
	files, err := fs.Glob(fsys, "*.json")
	if err != nil {
		t.Fatal(err)
	}
	// The embedded files are the ones on disk.
	onDisk, err := filepath.Glob(filepath.Join("schemas", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range onDisk {
		onDisk[i] = filepath.Base(onDisk[i])
	}
	if !slices.Equal(files, onDisk) {
		t.Fatalf("embedded schemas %v, on disk %v", files, onDisk)
	}

	inCatalog := map[string]contracts.Entry{}
	for _, e := range contracts.Catalog() {
		if prev, dup := inCatalog[e.Schema]; dup {
			t.Errorf("%s and %s share schema %s", prev.Type, e.Type, e.Schema)
		}
		inCatalog[e.Schema] = e
	}
	for _, f := range files {
		if _, ok := inCatalog[f]; !ok && f != defsFile {
			t.Errorf("schema %s is not in the catalog", f)
		}
	}
	for name, e := range inCatalog {
		if !slices.Contains(files, name) {
			t.Errorf("%s: schema file %s does not exist", e.Type, name)
		}
	}
	if !slices.Contains(files, defsFile) {
		t.Errorf("shared definitions %s missing", defsFile)
	}
}

func TestSchemaFilesDeclareTheirID(t *testing.T) {
	fsys := contracts.SchemaFS()
	files, err := fs.Glob(fsys, "*.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			t.Fatal(err)
		}
		var s struct {
			Schema string `json:"$schema"`
			ID     string `json:"$id"`
		}
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if s.Schema != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("%s: $schema = %q", f, s.Schema)
		}
		if want := "https://schemas.gtmhub.dev/" + f; s.ID != want {
			t.Errorf("%s: $id = %q, want %q", f, s.ID, want)
		}
	}
}

func TestCatalogEntries(t *testing.T) {
	types := []string{
		contracts.TypeLeadCaptured, contracts.TypeLeadEnriched, contracts.TypeLeadRejected,
		contracts.TypeContactCreated, contracts.TypeContactUpdated,
		contracts.TypeCompanyCreated, contracts.TypeCompanyUpdated,
		contracts.TypeWebhookReceived, contracts.TypeNotificationSent,
		contracts.TypeKnowledgePageSynced, contracts.TypeKnowledgePageConflict,
	}
	var got []string
	for _, e := range contracts.Catalog() {
		got = append(got, e.Type)
		if e.Subject == "" || e.Stream == "" || e.Description == "" {
			t.Errorf("%s: incomplete entry %+v", e.Type, e)
		}
		if want := "https://schemas.gtmhub.dev/" + e.Schema; e.DataSchema != want {
			t.Errorf("%s: DataSchema = %q, want %q", e.Type, e.DataSchema, want)
		}
		if !strings.HasPrefix(e.Subject, "gtm.") {
			t.Errorf("%s: subject %q outside gtm.>", e.Type, e.Subject)
		}
		looked, ok := contracts.Lookup(e.Type)
		if !ok || looked != e {
			t.Errorf("Lookup(%s) = %+v, %v; want %+v", e.Type, looked, ok, e)
		}
		b, err := contracts.Schema(e.Type)
		if err != nil {
			t.Errorf("Schema(%s): %v", e.Type, err)
		} else if !bytes.Contains(b, []byte(e.DataSchema)) {
			t.Errorf("Schema(%s) does not declare $id %s", e.Type, e.DataSchema)
		}
	}
	if !slices.Equal(got, types) {
		t.Errorf("catalog types = %v, want %v", got, types)
	}

	// The caller owns the returned slice.
	c := contracts.Catalog()
	c[0].Subject = "changed"
	if contracts.Catalog()[0].Subject == "changed" {
		t.Error("modifying Catalog's result changed the catalog")
	}
}

func TestUnknownType(t *testing.T) {
	const typ = "com.gtmhub.lead.captured.v9"
	err := contracts.Validate(typ, []byte(`{}`))
	if !errors.Is(err, contracts.ErrUnknownType) {
		t.Errorf("Validate: err = %v, want ErrUnknownType", err)
	}
	if !strings.Contains(err.Error(), typ) {
		t.Errorf("Validate: error %q does not name the type", err)
	}
	var verr *contracts.ValidationError
	if errors.As(err, &verr) {
		t.Errorf("Validate: unknown type reported as a ValidationError")
	}
	if _, err := contracts.Schema(typ); !errors.Is(err, contracts.ErrUnknownType) {
		t.Errorf("Schema: err = %v, want ErrUnknownType", err)
	}
	if _, ok := contracts.Lookup(typ); ok {
		t.Errorf("Lookup(%s) found an entry", typ)
	}
}

func TestInvalidJSON(t *testing.T) {
	for _, data := range []string{``, `   `, `{"email":`, `{"email":"ada@example.com"} {}`, `email=ada@example.com`} {
		err := contracts.Validate(contracts.TypeLeadCaptured, []byte(data))
		if !errors.Is(err, contracts.ErrInvalidJSON) {
			t.Errorf("Validate(%q): err = %v, want ErrInvalidJSON", data, err)
			continue
		}
		var verr *contracts.ValidationError
		if errors.As(err, &verr) {
			t.Errorf("Validate(%q): malformed JSON reported as a ValidationError", data)
		}
		if !strings.Contains(err.Error(), contracts.TypeLeadCaptured) {
			t.Errorf("Validate(%q): error %q does not name the type", data, err)
		}
	}
}

func TestValidateConcurrently(t *testing.T) {
	var wg sync.WaitGroup
	for _, e := range contracts.Catalog() {
		data := readExample(t, e.Type)
		for range 4 {
			wg.Go(func() {
				if err := contracts.Validate(e.Type, data); err != nil {
					t.Errorf("%s: %v", e.Type, err)
				}
				if err := contracts.Validate(e.Type, []byte(`[]`)); err == nil {
					t.Errorf("%s: an array validated", e.Type)
				}
			})
		}
	}
	wg.Wait()
}

// TestSchemasAvoidPropertyNames guards against a jsonschema v6.0.3 bug: the
// errors of propertyNames carry an instance location that later validation
// overwrites, so their pointers would be wrong.
func TestSchemasAvoidPropertyNames(t *testing.T) {
	fsys := contracts.SchemaFS()
	files, err := fs.Glob(fsys, "*.json")
	if err != nil {
		t.Fatal(err)
	}
	var walk func(file string, v any)
	walk = func(file string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				if k == "propertyNames" {
					t.Errorf("%s uses propertyNames; use patternProperties with additionalProperties: false", file)
				}
				walk(file, child)
			}
		case []any:
			for _, child := range v {
				walk(file, child)
			}
		}
	}
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			t.Fatal(err)
		}
		walk(f, decodeAny(t, b))
	}
}
