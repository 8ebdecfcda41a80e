package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// DefaultTolerance is how far a signed timestamp may be from the time the
// request arrived, unless the source says otherwise: the five minutes that
// Slack, Stripe, HubSpot and Standard Webhooks recommend.
const DefaultTolerance = 5 * time.Minute

// Signature encodings of the hmac-sha256 scheme.
const (
	EncodingHex    = "hex"
	EncodingBase64 = "base64"
)

// keyring holds the HMAC-SHA256 keys of a source.
type keyring [][]byte

// newKeyring checks the secrets and turns each into a key with decode
// (nil keeps the secret's bytes as they are).
func newKeyring(secrets [][]byte, decode func([]byte) ([]byte, error)) (keyring, error) {
	if len(secrets) == 0 {
		return nil, errors.New("at least one secret is required")
	}
	keys := make(keyring, 0, len(secrets))
	for i, s := range secrets {
		if len(s) == 0 {
			return nil, fmt.Errorf("secret %d is empty", i+1)
		}
		key := s
		if decode != nil {
			var err error
			if key, err = decode(s); err != nil {
				return nil, fmt.Errorf("secret %d: %w", i+1, err)
			}
			if len(key) == 0 {
				return nil, fmt.Errorf("secret %d is empty", i+1)
			}
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// match reports whether any of sigs is the HMAC-SHA256 of the concatenated
// parts under any key. Every pair is compared, so the time taken does not
// tell which key or signature matched.
func (k keyring) match(sigs [][]byte, parts ...[]byte) bool {
	ok := 0
	for _, key := range k {
		m := hmac.New(sha256.New, key)
		for _, p := range parts {
			m.Write(p)
		}
		sum := m.Sum(nil)
		for _, s := range sigs {
			ok |= subtle.ConstantTimeCompare(sum, s)
		}
	}
	return ok == 1
}

// Sign returns the HMAC-SHA256 of the concatenated parts under key. Tests
// and tools use it to sign requests as a sender would.
func Sign(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// decodeBase64 reads standard base64, padded or not.
func decodeBase64(s []byte) ([]byte, error) {
	str := strings.TrimRight(string(s), "=")
	b, err := base64.RawStdEncoding.DecodeString(str)
	if err != nil {
		return nil, errors.New("not base64")
	}
	return b, nil
}

// decodeSignature reads one signature in encoding; a signature that does
// not decode is returned as nil, which matches nothing.
func decodeSignature(s, encoding string) []byte {
	var b []byte
	var err error
	switch encoding {
	case EncodingBase64:
		b, err = decodeBase64([]byte(s))
	default:
		b, err = hex.DecodeString(s)
	}
	if err != nil || len(b) != sha256.Size {
		return nil
	}
	return b
}

// singleHeader returns the one value of header, or an error wrapping
// ErrMissing (absent or empty) or ErrMismatch (given more than once).
func singleHeader(r *Request, header string) (string, error) {
	values := r.Header.Values(header)
	switch {
	case len(values) == 0 || strings.TrimSpace(values[0]) == "":
		return "", fmt.Errorf("%w: no %s header", ErrMissing, header)
	case len(values) > 1:
		return "", fmt.Errorf("%w: %s header given %d times", ErrMismatch, header, len(values))
	}
	return strings.TrimSpace(values[0]), nil
}

// ParseTimestamp reads a decimal Unix timestamp counted in unit (time.Second
// or time.Millisecond), written as senders write one: digits only, with no
// sign and no leading zero.
func ParseTimestamp(s string, unit time.Duration) (time.Time, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/int64(unit) || s != strconv.FormatInt(n, 10) {
		return time.Time{}, errors.New("not a Unix timestamp")
	}
	return time.Unix(0, n*int64(unit)), nil
}

// checkTimestamp checks the timestamp header value s, in unit, against the
// time the request arrived.
func checkTimestamp(r *Request, header, s string, unit, tolerance time.Duration) error {
	ts, err := ParseTimestamp(s, unit)
	if err != nil {
		return fmt.Errorf("%w: %s header: %w", ErrMismatch, header, err)
	}
	received := r.Received
	if received.IsZero() {
		received = time.Now()
	}
	if d := received.Sub(ts); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %s is %s from the time the request arrived, more than %s", ErrStale, header,
			d.Round(time.Second), tolerance)
	}
	return nil
}

// options checks the Params a fixed scheme does not take, and returns the
// tolerance to apply.
func options(p Params, timestamped, publicURL bool) (time.Duration, error) {
	var errs []error
	if p.Header != "" {
		errs = append(errs, errors.New("takes no header setting: the sender fixes it"))
	}
	if p.Prefix != "" || p.Encoding != "" {
		errs = append(errs, errors.New("takes no prefix or encoding setting: the sender fixes them"))
	}
	if p.Tolerance < 0 {
		errs = append(errs, fmt.Errorf("tolerance %s must be positive", p.Tolerance))
	}
	if p.Tolerance != 0 && !timestamped {
		errs = append(errs, errors.New("takes no tolerance: the sender signs no timestamp"))
	}
	if p.PublicURL != "" && !publicURL {
		errs = append(errs, errors.New("takes no public_url: the sender does not sign the URL"))
	}
	tolerance := p.Tolerance
	if tolerance == 0 {
		tolerance = DefaultTolerance
	}
	return tolerance, errors.Join(errs...)
}
