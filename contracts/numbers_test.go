package contracts_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/gtmhub/gtmhub/contracts"
)

// TestNumberRange: a number beyond a float64's range is refused by Validate,
// Decode and ValidateValue alike, at its pointer and next to the schema's
// own errors, and everything a float64 holds (or reads as zero) is not.
func TestNumberRange(t *testing.T) {
	const tooLarge = "is a number beyond the range of a 64-bit float (about ±1.8e308)"
	lead := func(attributes string) []byte {
		return []byte(`{"email":"ada@example.com","attributes":` + attributes + `}`)
	}
	tests := []struct {
		name string
		data []byte
		want []contracts.FieldError // nil: valid
	}{
		{"an exponent too large", lead(`{"budget":1e400}`),
			[]contracts.FieldError{{Pointer: "/attributes/budget", Message: tooLarge}}},
		{"negative, in an array", lead(`{"list":[1,-1E+309]}`),
			[]contracts.FieldError{{Pointer: "/attributes/list/1", Message: tooLarge}}},
		{"310 digits", lead(`{"n":1` + strings.Repeat("0", 309) + `}`),
			[]contracts.FieldError{{Pointer: "/attributes/n", Message: tooLarge}}},
		{"next to a schema error", []byte(`{"email":"ada","attributes":{"a/b":1e999},"fit_score":1e999}`),
			[]contracts.FieldError{
				{Pointer: "/attributes/a~1b", Message: tooLarge},
				{Pointer: "/email", Message: "is not a valid email: missing @"},
				{Pointer: "/fit_score", Message: tooLarge},
				{Pointer: "/fit_score", Message: "must be at most 100"},
			}},
		{"too small reads as zero", lead(`{"tiny":1e-400}`), nil},
		{"308 digits", lead(`{"n":1` + strings.Repeat("0", 307) + `}`), nil},
		{"the largest float64", lead(`{"n":1.7976931348623157e308}`), nil},
		{"a string", lead(`{"budget":"1e400"}`), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := func(fn string, err error) {
				t.Helper()
				if tt.want == nil {
					if err != nil {
						t.Errorf("%s: %v, want nil", fn, err)
					}
					return
				}
				var verr *contracts.ValidationError
				if !errors.As(err, &verr) {
					t.Fatalf("%s: %v, want a *ValidationError", fn, err)
				}
				if !slices.Equal(verr.Fields, tt.want) {
					t.Errorf("%s: fields\n got %+v\nwant %+v", fn, verr.Fields, tt.want)
				}
			}
			check("Validate", contracts.Validate(contracts.TypeLeadCaptured, tt.data))
			_, err := contracts.Decode(contracts.TypeLeadCaptured, tt.data)
			check("Decode", err)

			dec := json.NewDecoder(bytes.NewReader(tt.data))
			dec.UseNumber()
			var v any
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			check("ValidateValue", contracts.ValidateValue(contracts.TypeLeadCaptured, v))
		})
	}
}

// TestTimestampRange: a timestamp is refused when converting it to UTC
// leaves the years 0000 to 9999, which Go's time.Time (and RFC 3339) cannot
// write, on the plan's path and on the library's alike.
func TestTimestampRange(t *testing.T) {
	tests := []struct {
		createdAt string
		wantErr   bool
	}{
		{"9999-12-31T23:59:59-01:00", true},
		{"9999-12-31T23:00:00-00:59", false},
		{"9999-12-31T23:59:59.999999999Z", false},
		{"9999-12-31T23:59:59+01:00", false},
		{"0000-01-01T00:30:00+01:00", true},
		{"0000-01-01T00:30:00-01:00", false},
		{"0000-01-01T00:00:00Z", false},
		{"2025-11-20T09:14:03-23:59", false},
	}
	for _, tt := range tests {
		t.Run(tt.createdAt, func(t *testing.T) {
			for _, doc := range []struct{ path, data string }{
				{"plan", `{"email":"ada@example.com","created_at":"` + tt.createdAt + `"}`},
				{"library", `{"created_at":"` + tt.createdAt + `"}`}, // no email: the library is asked
			} {
				var want []string
				if doc.path == "library" {
					want = append(want, "/email")
				}
				if tt.wantErr {
					want = append([]string{"/created_at"}, want...)
				}
				var got []string
				var verr *contracts.ValidationError
				if err := contracts.Validate(contracts.TypeLeadCaptured, []byte(doc.data)); errors.As(err, &verr) {
					for _, f := range verr.Fields {
						got = append(got, f.Pointer)
					}
				} else if err != nil {
					t.Fatalf("%s: %v", doc.path, err)
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s: fields %v (%v), want %v", doc.path, got, verr, want)
				}
			}
		})
	}
}
