package signature

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestRegistry(t *testing.T) {
	r := Builtin()
	if got, want := r.Names(), []string{"airtable", "github", "hmac-sha256", "hubspot-v3", "none", "notion", "shared-secret", "slack", "standard-webhooks", "stripe"}; !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	if _, err := r.New("hmac-sha999", Params{}); err == nil {
		t.Fatal("New(unknown scheme) succeeded")
	}
	if _, err := NewRegistry(None(), None()); err == nil {
		t.Fatal("NewRegistry accepted a scheme twice")
	}
	if _, err := NewRegistry(Scheme{Name: "x"}); err == nil {
		t.Fatal("NewRegistry accepted a scheme without a constructor")
	}
	if _, err := r.New("none", Params{Secrets: [][]byte{[]byte("s")}}); err == nil {
		t.Fatal("none accepted a secret")
	}
}

func TestSharedSecret(t *testing.T) {
	secrets := [][]byte{[]byte("old-secret"), []byte("new-secret")}
	tests := []struct {
		name   string
		header string // configured header; "" for the default
		sent   http.Header
		want   error
	}{
		{"first secret", "", http.Header{"X-Webhook-Secret": {"old-secret"}}, nil},
		{"second secret (rotation)", "", http.Header{"X-Webhook-Secret": {"new-secret"}}, nil},
		{"wrong secret", "", http.Header{"X-Webhook-Secret": {"guess"}}, ErrMismatch},
		{"prefix of a secret", "", http.Header{"X-Webhook-Secret": {"new-"}}, ErrMismatch},
		{"secret with a suffix", "", http.Header{"X-Webhook-Secret": {"new-secret2"}}, ErrMismatch},
		{"missing header", "", http.Header{}, ErrMissing},
		{"empty header", "", http.Header{"X-Webhook-Secret": {""}}, ErrMissing},
		{"header twice", "", http.Header{"X-Webhook-Secret": {"guess", "new-secret"}}, ErrMismatch},
		{"custom header", "x-clay-token", http.Header{"X-Clay-Token": {"old-secret"}}, nil},
		{"custom header, secret in default header", "X-Clay-Token", http.Header{"X-Webhook-Secret": {"old-secret"}}, ErrMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Builtin().New("shared-secret", Params{Header: tt.header, Secrets: secrets})
			if err != nil {
				t.Fatal(err)
			}
			err = v.Verify(&Request{Header: tt.sent})
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Verify() = %v, want %v", err, tt.want)
			}
			if err != nil {
				for _, s := range secrets {
					if strings.Contains(err.Error(), string(s)) {
						t.Fatalf("error %q reveals a secret", err)
					}
				}
			}
			want := "X-Webhook-Secret"
			if tt.header != "" {
				want = http.CanonicalHeaderKey(tt.header)
			}
			if got := v.SecretHeaders(); !slices.Equal(got, []string{want}) {
				t.Fatalf("SecretHeaders() = %v, want [%s]", got, want)
			}
		})
	}
}

func TestSharedSecretParams(t *testing.T) {
	tests := []struct {
		name string
		p    Params
	}{
		{"no secret", Params{}},
		{"empty secret", Params{Secrets: [][]byte{[]byte("a"), {}}}},
		{"bad header name", Params{Header: "X Secret", Secrets: [][]byte{[]byte("a")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := SharedSecret().New(tt.p); err == nil {
				t.Fatal("New succeeded")
			}
		})
	}
}

func FuzzSharedSecret(f *testing.F) {
	f.Add("s3cret", "s3cret")
	f.Add("s3cret", "s3cre")
	f.Add("s3cret", "")
	f.Fuzz(func(t *testing.T, secret, sent string) {
		v, err := SharedSecret().New(Params{Secrets: [][]byte{[]byte(secret)}})
		if secret == "" {
			if err == nil {
				t.Fatal("empty secret accepted")
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		err = v.Verify(&Request{Header: http.Header{"X-Webhook-Secret": {sent}}})
		if (err == nil) != (sent == secret) {
			t.Fatalf("Verify(%q) with secret %q = %v", sent, secret, err)
		}
	})
}
