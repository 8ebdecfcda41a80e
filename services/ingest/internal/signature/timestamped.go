package signature

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Standard Webhooks headers and key prefixes.
const (
	HeaderWebhookID        = "Webhook-Id"
	HeaderWebhookTimestamp = "Webhook-Timestamp"
	HeaderWebhookSignature = "Webhook-Signature"
	// StandardSecretPrefix starts a symmetric secret (v1 signatures).
	StandardSecretPrefix = "whsec_"
	// StandardPublicKeyPrefix starts an Ed25519 public key, which verifies
	// v1a signatures; StandardSigningKeyPrefix starts its private key, which
	// only the sender holds.
	StandardPublicKeyPrefix  = "whpk_"
	StandardSigningKeyPrefix = "whsk_"
)

// StandardWebhooks verifies both schemes of the Standard Webhooks
// specification. webhook-signature holds space-separated "version,<base64>"
// entries over "{webhook-id}.{webhook-timestamp}.{body}": "v1" entries are
// its HMAC-SHA256 under the base64 part of a "whsec_" secret, "v1a" entries
// its Ed25519 signature under the base64 part of a "whpk_" public key. A
// source lists secrets, public keys or both (while a sender moves from one
// to the other); webhook-timestamp is Unix seconds within the tolerance.
func StandardWebhooks() Scheme {
	return Scheme{
		Name: "standard-webhooks",
		Summary: "Standard Webhooks: webhook-signature v1,<base64 HMAC-SHA256 of id.timestamp.body> under a whsec_ secret, " +
			"or v1a,<base64 Ed25519 signature> under a whpk_ public key",
		New: func(p Params) (Verifier, error) {
			tolerance, optErr := options(p, true, false)
			var secrets, public [][]byte
			for _, s := range p.Secrets {
				if strings.HasPrefix(string(s), StandardPublicKeyPrefix) {
					public = append(public, s)
				} else {
					secrets = append(secrets, s)
				}
			}
			v := &standardWebhooks{tolerance: tolerance}
			var err error
			if len(secrets) > 0 || len(public) == 0 {
				v.keys, err = newKeyring(secrets, func(s []byte) ([]byte, error) {
					return decodeBase64([]byte(strings.TrimPrefix(string(s), StandardSecretPrefix)))
				})
			}
			var keyErr error
			v.public, keyErr = publicKeys(public)
			if err := errors.Join(optErr, err, keyErr); err != nil {
				return nil, err
			}
			return v, nil
		},
	}
}

// publicKeys decodes whpk_ keys and says what is wrong with any that are
// not base64 Ed25519 public keys.
func publicKeys(keys [][]byte) ([]ed25519.PublicKey, error) {
	var (
		out  []ed25519.PublicKey
		errs []error
	)
	for i, k := range keys {
		b, err := decodeBase64([]byte(strings.TrimPrefix(string(k), StandardPublicKeyPrefix)))
		if err == nil && len(b) != ed25519.PublicKeySize {
			err = fmt.Errorf("%d bytes, want %d", len(b), ed25519.PublicKeySize)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("public key %d: not a base64 Ed25519 key after %s: %w", i+1, StandardPublicKeyPrefix, err))
			continue
		}
		out = append(out, ed25519.PublicKey(b))
	}
	return out, errors.Join(errs...)
}

type standardWebhooks struct {
	keys      keyring             // whsec_ secrets, for v1
	public    []ed25519.PublicKey // whpk_ keys, for v1a
	tolerance time.Duration
}

func (v *standardWebhooks) Verify(r *Request) error {
	id, err := singleHeader(r, HeaderWebhookID)
	if err != nil {
		return err
	}
	ts, err := singleHeader(r, HeaderWebhookTimestamp)
	if err != nil {
		return err
	}
	header, err := singleHeader(r, HeaderWebhookSignature)
	if err != nil {
		return err
	}
	if err := checkTimestamp(r, HeaderWebhookTimestamp, ts, time.Second, v.tolerance); err != nil {
		return err
	}
	v1, v1a := ParseStandardSignatures(header, "v1"), ParseStandardSignatures(header, "v1a")
	if (len(v1) == 0 || len(v.keys) == 0) && (len(v1a) == 0 || len(v.public) == 0) {
		return fmt.Errorf("%w: no %s signature in %s", ErrMismatch, v.versions(), HeaderWebhookSignature)
	}
	if len(v.keys) > 0 && v.keys.match(v1, []byte(id), []byte("."), []byte(ts), []byte("."), r.Body) {
		return nil
	}
	if len(v1a) > 0 {
		signed := slices.Concat([]byte(id), []byte("."), []byte(ts), []byte("."), r.Body)
		for _, key := range v.public {
			for _, sig := range v1a {
				if ed25519.Verify(key, signed, sig) {
					return nil
				}
			}
		}
	}
	return fmt.Errorf("%w: no %s signature matches", ErrMismatch, HeaderWebhookSignature)
}

// versions names the signature versions v accepts.
func (v *standardWebhooks) versions() string {
	switch {
	case len(v.keys) > 0 && len(v.public) > 0:
		return "v1 or v1a"
	case len(v.public) > 0:
		return "v1a"
	default:
		return "v1"
	}
}

func (v *standardWebhooks) SecretHeaders() []string { return nil }

// ParseStandardSignatures returns the decoded signatures of one version
// (such as "v1", HMAC-SHA256, or "v1a", Ed25519) in a webhook-signature
// header: space-separated "version,base64" entries. Malformed entries are
// skipped.
func ParseStandardSignatures(header, version string) [][]byte {
	var sigs [][]byte
	for entry := range strings.FieldsSeq(header) {
		v, sig, ok := strings.Cut(entry, ",")
		if !ok || v != version {
			continue
		}
		if version == "v1a" { // Ed25519
			if b, err := decodeBase64([]byte(sig)); err == nil && len(b) == ed25519.SignatureSize {
				sigs = append(sigs, b)
			}
		} else if b := decodeSignature(sig, EncodingBase64); b != nil {
			sigs = append(sigs, b)
		}
	}
	return sigs
}

// Slack headers.
const (
	HeaderSlackSignature = "X-Slack-Signature"
	HeaderSlackTimestamp = "X-Slack-Request-Timestamp"
)

// Slack verifies X-Slack-Signature: "v0=" and the hex HMAC-SHA256 of
// "v0:{X-Slack-Request-Timestamp}:{body}" under the app's signing secret,
// with the timestamp (Unix seconds) within the tolerance, as Slack documents
// in "Verifying requests from Slack".
func Slack() Scheme {
	return Scheme{
		Name:    "slack",
		Summary: "Slack's X-Slack-Signature: v0=<hex HMAC-SHA256 of v0:timestamp:body>",
		New: func(p Params) (Verifier, error) {
			tolerance, optErr := options(p, true, false)
			keys, err := newKeyring(p.Secrets, nil)
			if err := errors.Join(optErr, err); err != nil {
				return nil, err
			}
			return &slack{keys: keys, tolerance: tolerance}, nil
		},
	}
}

type slack struct {
	keys      keyring
	tolerance time.Duration
}

func (v *slack) Verify(r *Request) error {
	ts, err := singleHeader(r, HeaderSlackTimestamp)
	if err != nil {
		return err
	}
	sig, err := singleHeader(r, HeaderSlackSignature)
	if err != nil {
		return err
	}
	if err := checkTimestamp(r, HeaderSlackTimestamp, ts, time.Second, v.tolerance); err != nil {
		return err
	}
	encoded, ok := strings.CutPrefix(sig, "v0=")
	if !ok {
		return fmt.Errorf("%w: %s is not a v0 signature", ErrMismatch, HeaderSlackSignature)
	}
	if !v.keys.match([][]byte{decodeSignature(encoded, EncodingHex)}, []byte("v0:"+ts+":"), r.Body) {
		return fmt.Errorf("%w: %s does not match", ErrMismatch, HeaderSlackSignature)
	}
	return nil
}

func (v *slack) SecretHeaders() []string { return nil }

// Stripe header.
const HeaderStripeSignature = "Stripe-Signature"

// Stripe verifies Stripe-Signature: "t=<unix seconds>,v1=<hex>,v1=<hex>...",
// each v1 an HMAC-SHA256 of "{t}.{body}" under the endpoint's signing secret
// (whsec_..., used as it is), with t within the tolerance. Several v1
// entries appear while Stripe rolls a secret.
func Stripe() Scheme {
	return Scheme{
		Name:    "stripe",
		Summary: "Stripe's Stripe-Signature: t=<ts>,v1=<hex HMAC-SHA256 of ts.body>",
		New: func(p Params) (Verifier, error) {
			tolerance, optErr := options(p, true, false)
			keys, err := newKeyring(p.Secrets, nil)
			if err := errors.Join(optErr, err); err != nil {
				return nil, err
			}
			return &stripe{keys: keys, tolerance: tolerance}, nil
		},
	}
}

type stripe struct {
	keys      keyring
	tolerance time.Duration
}

func (v *stripe) Verify(r *Request) error {
	header, err := singleHeader(r, HeaderStripeSignature)
	if err != nil {
		return err
	}
	ts, sigs, err := ParseStripeSignature(header)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrMismatch, HeaderStripeSignature, err)
	}
	if err := checkTimestamp(r, HeaderStripeSignature+" t", ts, time.Second, v.tolerance); err != nil {
		return err
	}
	if !v.keys.match(sigs, []byte(ts+"."), r.Body) {
		return fmt.Errorf("%w: no v1 signature in %s matches", ErrMismatch, HeaderStripeSignature)
	}
	return nil
}

func (v *stripe) SecretHeaders() []string { return nil }

// ParseStripeSignature reads a Stripe-Signature header: the t= timestamp and
// the decoded v1= signatures (other schemes, such as v0, are skipped).
func ParseStripeSignature(header string) (timestamp string, v1 [][]byte, err error) {
	for item := range strings.SplitSeq(header, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			if timestamp != "" {
				return "", nil, errors.New("t given twice")
			}
			timestamp = val
		case "v1":
			if b, err := hex.DecodeString(val); err == nil && len(b) > 0 {
				v1 = append(v1, b)
			}
		}
	}
	switch {
	case timestamp == "":
		return "", nil, errors.New("no timestamp (t=)")
	case len(v1) == 0:
		return "", nil, errors.New("no v1 signature")
	}
	return timestamp, v1, nil
}

// HubSpot headers.
const (
	HeaderHubSpotSignatureV3 = "X-HubSpot-Signature-V3"
	HeaderHubSpotTimestamp   = "X-HubSpot-Request-Timestamp"
)

// HubSpotV3 verifies X-HubSpot-Signature-v3: the base64 HMAC-SHA256 of
// method + URI + body + X-HubSpot-Request-Timestamp under the app's client
// secret, the timestamp in Unix milliseconds within the tolerance. The URI
// is the source's public_url followed by the request's path and query, with
// the characters HubSpot decodes before signing (: / ? @ ! $ ' ( ) * , ;)
// percent-decoded.
func HubSpotV3() Scheme {
	return Scheme{
		Name:    "hubspot-v3",
		Summary: "HubSpot's X-HubSpot-Signature-v3: base64 HMAC-SHA256 of method+URI+body+timestamp (public_url required)",
		New: func(p Params) (Verifier, error) {
			tolerance, optErr := options(p, true, true)
			keys, err := newKeyring(p.Secrets, nil)
			errs := []error{optErr, err}
			base, err := publicBase(p.PublicURL)
			errs = append(errs, err)
			if err := errors.Join(errs...); err != nil {
				return nil, err
			}
			return &hubspot{keys: keys, tolerance: tolerance, base: base}, nil
		},
	}
}

// publicBase checks public_url and returns it without a trailing slash.
func publicBase(s string) (string, error) {
	if s == "" {
		return "", errors.New("public_url is required: the signature covers the URL the sender posts to")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("public_url %q must be an http(s) URL without query, such as https://hooks.example.com", s)
	}
	return strings.TrimSuffix(s, "/"), nil
}

type hubspot struct {
	keys      keyring
	tolerance time.Duration
	base      string
}

func (v *hubspot) Verify(r *Request) error {
	sig, err := singleHeader(r, HeaderHubSpotSignatureV3)
	if err != nil {
		return err
	}
	ts, err := singleHeader(r, HeaderHubSpotTimestamp)
	if err != nil {
		return err
	}
	if err := checkTimestamp(r, HeaderHubSpotTimestamp, ts, time.Millisecond, v.tolerance); err != nil {
		return err
	}
	uri := HubSpotURI(v.base, r.URL)
	if !v.keys.match([][]byte{decodeSignature(sig, EncodingBase64)},
		[]byte(r.Method), []byte(uri), r.Body, []byte(ts)) {
		return fmt.Errorf("%w: %s does not match", ErrMismatch, HeaderHubSpotSignatureV3)
	}
	return nil
}

func (v *hubspot) SecretHeaders() []string { return nil }

// hubspotDecoded are the percent-encodings HubSpot decodes in the URI before
// signing it.
var hubspotDecoded = strings.NewReplacer(
	"%3A", ":", "%2F", "/", "%3F", "?", "%40", "@", "%21", "!", "%24", "$", "%27", "'",
	"%28", "(", "%29", ")", "%2A", "*", "%2C", ",", "%3B", ";",
	"%3a", ":", "%2f", "/", "%3f", "?", "%2a", "*", "%2c", ",", "%3b", ";",
)

// HubSpotURI is the URI HubSpot signs for a request to u received behind
// base (the source's public_url).
func HubSpotURI(base string, u *url.URL) string {
	if u == nil {
		return base
	}
	return hubspotDecoded.Replace(base + u.RequestURI())
}
