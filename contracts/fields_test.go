package contracts_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/gtmhub/gtmhub/contracts"
)

func TestCheckPath(t *testing.T) {
	tests := []struct {
		name    string
		typ     string
		path    []string
		wantAt  int // -1: no error
		wantHas string
	}{
		{"a declared field", contracts.TypeContactCreated, []string{"contact", "signal_score"}, -1, ""},
		{"the data's root", contracts.TypeContactCreated, nil, -1, ""},
		{"a misspelled field", contracts.TypeContactCreated, []string{"contact", "signal_scor"}, 1, "signal_score"},
		{"a misspelled record", contracts.TypeContactUpdated, []string{"contat", "email"}, 0, "contact"},
		{"into a string", contracts.TypeContactCreated, []string{"contact", "email", "domain"}, 2, ""},
		{"a map of any field names", contracts.TypeContactUpdated, []string{"provenance", "email", "source"}, -1, ""},
		{"a value of any type", contracts.TypeWebhookReceived, []string{"body", "deal", "amount"}, -1, ""},
		{"a pattern property of the wrong shape", contracts.TypeWebhookReceived, []string{"headers", "X-Id", "first"}, 2, ""},
		{"a company field", contracts.TypeCompanyCreated, []string{"company", "employees"}, -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := contracts.CheckPath(tt.typ, tt.path...)
			if tt.wantAt < 0 {
				if err != nil {
					t.Fatalf("CheckPath(%v) = %v, want nil", tt.path, err)
				}
				return
			}
			var perr *contracts.PathError
			if !errors.As(err, &perr) {
				t.Fatalf("CheckPath(%v) = %v, want a *PathError", tt.path, err)
			}
			if perr.At != tt.wantAt {
				t.Errorf("At = %d, want %d (%v)", perr.At, tt.wantAt, err)
			}
			if tt.wantHas != "" && !slices.Contains(perr.Known, tt.wantHas) {
				t.Errorf("Known = %v, want it to name %q", perr.Known, tt.wantHas)
			}
			if tt.wantHas == "" && !strings.Contains(err.Error(), "not an object") {
				t.Errorf("error %q does not say the value is not an object", err)
			}
		})
	}
	if err := contracts.CheckPath("com.example.nope", "x"); !errors.Is(err, contracts.ErrUnknownType) {
		t.Errorf("unknown type: err = %v, want ErrUnknownType", err)
	}
}
