package contracts_test

import (
	"testing"

	"github.com/gtmhub/gtmhub/contracts"
)

func TestToken(t *testing.T) {
	tests := map[string]string{
		"contact.creation":   "contact_creation",
		"Star":               "star",
		" pull_request ":     "pull_request",
		"deal/stage-changed": "deal_stage-changed",
		"":                   "",
		"...":                "",
		"日本":                 "",
		"a日b":                "a_b",
	}
	for in, want := range tests {
		if got := contracts.Token(in); got != want {
			t.Errorf("Token(%q) = %q, want %q", in, got, want)
		}
	}
	long := contracts.Token(string(make([]byte, 100)) + "abc")
	if len(long) > 64 {
		t.Errorf("Token of a long string has %d bytes", len(long))
	}
}

func TestSourceToken(t *testing.T) {
	tests := map[string]string{
		"/crm/import":          "import",
		"/gtmhub/ingest/clay/": "clay",
		"https://Acme.io/CRM":  "crm",
		"urn:acme:sync":        "urn_acme_sync",
		"/":                    "",
		"":                     "",
		"/crm/--":              "",
	}
	for in, want := range tests {
		if got := contracts.SourceToken(in); got != want {
			t.Errorf("SourceToken(%q) = %q, want %q", in, got, want)
		}
	}
}
