package signature

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

// standardKeys returns a whsk_ signing key and its whpk_ public key.
func standardKeys(t *testing.T) (signing, public string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return StandardSigningKeyPrefix + base64.StdEncoding.EncodeToString(priv),
		StandardPublicKeyPrefix + base64.StdEncoding.EncodeToString(pub)
}

// TestStandardWebhooksV1a verifies Ed25519 (v1a) signatures under whpk_
// public keys, alone and beside whsec_ secrets.
func TestStandardWebhooksV1a(t *testing.T) {
	c := schemeCase{scheme: "standard-webhooks"}
	body := []byte(`{"type":"contact.created","data":{"email":"ada@example.com"}}`)
	now := time.Now()
	signing, public := standardKeys(t)
	otherSigning, otherPublic := standardKeys(t)
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("a-key-of-24-bytes-or-more"))
	seed := StandardSigningKeyPrefix + base64.StdEncoding.EncodeToString(
		ed25519.PrivateKey(mustDecode(t, strings.TrimPrefix(signing, StandardSigningKeyPrefix))).Seed())
	tampered := c.signed(t, signing, body, now)
	tampered.Body = []byte(strings.Replace(string(body), "ada", "adb", 1))

	tests := []struct {
		name    string
		keys    []string
		req     *Request
		want    error
		wantMsg string
	}{
		{name: "signed with the private key", keys: []string{public}, req: c.signed(t, signing, body, now)},
		{name: "signed with the 32-byte seed", keys: []string{public}, req: c.signed(t, seed, body, now)},
		{name: "rotation: either public key", keys: []string{otherPublic, public}, req: c.signed(t, signing, body, now)},
		{name: "another sender's key", keys: []string{public}, req: c.signed(t, otherSigning, body, now), want: ErrMismatch},
		{name: "one byte of the body changed", keys: []string{public}, req: tampered, want: ErrMismatch},
		{name: "v1 under a secret beside a public key", keys: []string{secret, public}, req: c.signed(t, secret, body, now)},
		{name: "v1a beside a secret", keys: []string{secret, public}, req: c.signed(t, signing, body, now)},
		{name: "v1 with only a public key configured", keys: []string{public}, req: c.signed(t, secret, body, now),
			want: ErrMismatch, wantMsg: "no v1a signature"},
		{name: "v1a with only a secret configured", keys: []string{secret}, req: c.signed(t, signing, body, now),
			want: ErrMismatch, wantMsg: "no v1 signature"},
		{name: "stale", keys: []string{public}, req: func() *Request {
			r := c.signed(t, signing, body, now.Add(-6*time.Minute))
			r.Received = now
			return r
		}(), want: ErrStale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.verifier(t, tt.keys...).Verify(tt.req)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) || !strings.Contains(errString(err), tt.wantMsg) {
				t.Fatalf("Verify() = %v, want %v %q", err, tt.want, tt.wantMsg)
			}
		})
	}
}

func TestStandardWebhooksPublicKeyChecked(t *testing.T) {
	for _, key := range []string{"whpk_not base64!", "whpk_" + base64.StdEncoding.EncodeToString([]byte("short"))} {
		_, err := Builtin().New("standard-webhooks", Params{Secrets: [][]byte{[]byte(key)}})
		if err == nil || !strings.Contains(err.Error(), "public key 1") {
			t.Errorf("public key %q: %v, want a configuration error", key, err)
		}
	}
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
