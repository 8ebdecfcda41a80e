package signature

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
)

// DefaultSharedSecretHeader is the header the shared-secret scheme reads
// unless the source names another.
const DefaultSharedSecretHeader = "X-Webhook-Secret"

// SharedSecret is the scheme of senders that put a static secret in a
// header, as Clay's HTTP API action does. The header must equal one of the
// source's secrets; comparing SHA-256 digests in constant time keeps the
// timing independent of both the value and its length.
func SharedSecret() Scheme {
	return Scheme{
		Name:    "shared-secret",
		Summary: "a header must equal one of the source's secrets",
		New:     newSharedSecret,
	}
}

func newSharedSecret(p Params) (Verifier, error) {
	header := p.Header
	if header == "" {
		header = DefaultSharedSecretHeader
	}
	if !validHeaderName(header) {
		return nil, fmt.Errorf("invalid header name %q", header)
	}
	if len(p.Secrets) == 0 {
		return nil, errors.New("at least one secret is required")
	}
	v := &sharedSecret{header: http.CanonicalHeaderKey(header)}
	for i, s := range p.Secrets {
		if len(s) == 0 {
			return nil, fmt.Errorf("secret %d is empty", i+1)
		}
		v.digests = append(v.digests, sha256.Sum256(s))
	}
	return v, nil
}

type sharedSecret struct {
	header  string
	digests [][sha256.Size]byte
}

func (v *sharedSecret) Verify(r *Request) error {
	values := r.Header.Values(v.header)
	if len(values) == 0 || values[0] == "" {
		return fmt.Errorf("%w: no %s header", ErrMissing, v.header)
	}
	if len(values) > 1 {
		return fmt.Errorf("%w: %s header given %d times", ErrMismatch, v.header, len(values))
	}
	got := sha256.Sum256([]byte(values[0]))
	match := 0
	// Every secret is compared, matched or not, so the time taken does not
	// tell which one matched.
	for _, d := range v.digests {
		match |= subtle.ConstantTimeCompare(got[:], d[:])
	}
	if match != 1 {
		return fmt.Errorf("%w: %s header does not match", ErrMismatch, v.header)
	}
	return nil
}

func (v *sharedSecret) SecretHeaders() []string { return []string{v.header} }

// validHeaderName reports whether s is an RFC 9110 field name (a token).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !isTokenChar(c) {
			return false
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}
