// Package signature verifies that a webhook comes from the sender it claims
// to come from. Each verification scheme (none, shared-secret, a generic
// HMAC-SHA256, and the published schemes of Standard Webhooks, GitHub, Slack,
// HubSpot, Airtable, Notion and Stripe) is a [Scheme]: a name and a
// constructor that turns a source's settings into a [Verifier]. A [Registry]
// holds the schemes a service accepts by name.
//
// Every scheme accepts several secrets, any one of which may match, so that
// a secret can be rotated without downtime. Schemes that sign a timestamp
// reject requests whose timestamp is further than a tolerance (default
// [DefaultTolerance]) from when the request arrived.
//
// Errors returned by a Verifier describe what was wrong with the request in
// words safe to send back to the caller and to store with the quarantined
// request; they never contain secret material.
package signature

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// Request is what a scheme may look at: the request line, the headers, the
// raw body exactly as received, and when it arrived (for schemes that reject
// old timestamps).
type Request struct {
	Method   string
	URL      *url.URL
	Header   http.Header
	Body     []byte
	Received time.Time
}

// Verifier checks one request for one source.
type Verifier interface {
	// Verify returns nil when the request is authentic, or an error that
	// wraps [ErrMissing], [ErrMismatch] or [ErrStale] when it is not.
	Verify(r *Request) error
	// SecretHeaders names the request headers that carry secret material
	// under this scheme, so that copies of the request can redact them.
	SecretHeaders() []string
}

// Params are a source's settings for its scheme. Secrets are already
// resolved (read from the environment where the configuration says so).
type Params struct {
	// Header is the request header the scheme reads; empty selects the
	// scheme's default.
	Header string
	// Secrets are every currently accepted secret; more than one allows a
	// rotation without downtime.
	Secrets [][]byte
	// Prefix comes before the encoded signature in the header, such as
	// "sha256="; for hmac-sha256 only.
	Prefix string
	// Encoding is how the signature is written, hex or base64; for
	// hmac-sha256 only, default hex.
	Encoding string
	// Tolerance is how far a signed timestamp may be from the time the
	// request arrived; for timestamped schemes only, default
	// [DefaultTolerance].
	Tolerance time.Duration
	// PublicURL is the scheme and authority the sender addresses, such as
	// https://hooks.example.com, for schemes that sign the URL (hubspot-v3).
	PublicURL string
}

// Scheme is one verification scheme.
type Scheme struct {
	// Name is how configuration selects the scheme, e.g. "shared-secret".
	Name string
	// Summary says in one line what the scheme checks.
	Summary string
	// New returns a Verifier for params, or an error that says what is
	// wrong with them.
	New func(p Params) (Verifier, error)
}

// Failure reasons. Verifier errors wrap one of them.
var (
	// ErrMissing means the request lacks what the scheme needs, such as the
	// secret or signature header.
	ErrMissing = errors.New("credentials missing")
	// ErrMismatch means the request carries credentials that match no
	// accepted secret.
	ErrMismatch = errors.New("credentials do not match")
	// ErrStale means the signed timestamp is outside the tolerance: an old
	// request replayed, or a clock far off.
	ErrStale = errors.New("timestamp outside the tolerance")
)

// Registry holds the schemes a service accepts, by name. It is immutable
// once built and safe for concurrent use.
type Registry struct {
	schemes map[string]Scheme
}

// NewRegistry returns a registry of schemes. Names must be unique and every
// scheme needs a constructor.
func NewRegistry(schemes ...Scheme) (*Registry, error) {
	r := &Registry{schemes: make(map[string]Scheme, len(schemes))}
	for _, s := range schemes {
		switch {
		case s.Name == "":
			return nil, errors.New("signature: scheme without a name")
		case s.New == nil:
			return nil, fmt.Errorf("signature: scheme %q has no constructor", s.Name)
		}
		if _, dup := r.schemes[s.Name]; dup {
			return nil, fmt.Errorf("signature: scheme %q registered twice", s.Name)
		}
		r.schemes[s.Name] = s
	}
	return r, nil
}

// Builtin returns a registry of every scheme this package implements.
func Builtin() *Registry {
	r := &Registry{schemes: make(map[string]Scheme)}
	for _, s := range []Scheme{None(), SharedSecret(), HMACSHA256(), StandardWebhooks(), GitHub(), Slack(),
		HubSpotV3(), Airtable(), Notion(), Stripe()} {
		r.schemes[s.Name] = s
	}
	return r
}

// Lookup returns the scheme called name.
func (r *Registry) Lookup(name string) (Scheme, bool) {
	s, ok := r.schemes[name]
	return s, ok
}

// Names returns the registered scheme names, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.schemes))
	for n := range r.schemes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// New looks up the scheme called name and builds its Verifier for p.
func (r *Registry) New(name string, p Params) (Verifier, error) {
	s, ok := r.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("unknown scheme %q (known: %v)", name, r.Names())
	}
	v, err := s.New(p)
	if err != nil {
		return nil, fmt.Errorf("scheme %s: %w", name, err)
	}
	return v, nil
}
