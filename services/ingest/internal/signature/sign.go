package signature

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Signer signs a request the way a scheme's sender does, so that tests,
// load generators and `gtmhub send` can produce requests a source accepts.
// The request's Method, URL, Body and Received (the signing time) are read;
// PublicURL is used by hubspot-v3, DeliveryID by standard-webhooks.
type Signer struct {
	Scheme     string
	Secret     []byte
	PublicURL  string
	DeliveryID string
	// Header, Prefix and Encoding configure hmac-sha256 and shared-secret
	// as the source does.
	Header, Prefix, Encoding string
}

// Sign returns the headers the sender would add to r.
func (s Signer) Sign(r *Request) (http.Header, error) {
	h := http.Header{}
	unix := strconv.FormatInt(r.Received.Unix(), 10)
	switch s.Scheme {
	case "none":
	case "shared-secret":
		h.Set(orDefault(s.Header, DefaultSharedSecretHeader), string(s.Secret))
	case "hmac-sha256":
		sum := Sign(s.Secret, r.Body)
		enc := hex.EncodeToString(sum)
		if s.Encoding == EncodingBase64 {
			enc = base64.StdEncoding.EncodeToString(sum)
		}
		h.Set(orDefault(s.Header, DefaultHMACHeader), s.Prefix+enc)
	case "github":
		h.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(Sign(s.Secret, r.Body)))
	case "notion":
		h.Set("X-Notion-Signature", "sha256="+hex.EncodeToString(Sign(s.Secret, r.Body)))
	case "airtable":
		key, err := decodeBase64(s.Secret)
		if err != nil {
			return nil, fmt.Errorf("airtable secret: %w", err)
		}
		h.Set("X-Airtable-Content-MAC", "hmac-sha256="+hex.EncodeToString(Sign(key, r.Body)))
	case "standard-webhooks":
		sig, err := s.signStandard(unix, r.Body)
		if err != nil {
			return nil, err
		}
		h.Set(HeaderWebhookID, s.DeliveryID)
		h.Set(HeaderWebhookTimestamp, unix)
		h.Set(HeaderWebhookSignature, sig)
	case "slack":
		h.Set(HeaderSlackTimestamp, unix)
		h.Set(HeaderSlackSignature, "v0="+hex.EncodeToString(Sign(s.Secret, []byte("v0:"+unix+":"), r.Body)))
	case "stripe":
		h.Set(HeaderStripeSignature, "t="+unix+",v1="+hex.EncodeToString(Sign(s.Secret, []byte(unix+"."), r.Body)))
	case "hubspot-v3":
		ms := strconv.FormatInt(r.Received.UnixMilli(), 10)
		uri := HubSpotURI(strings.TrimSuffix(s.PublicURL, "/"), r.URL)
		sig := Sign(s.Secret, []byte(r.Method), []byte(uri), r.Body, []byte(ms))
		h.Set(HeaderHubSpotTimestamp, ms)
		h.Set(HeaderHubSpotSignatureV3, base64.StdEncoding.EncodeToString(sig))
	default:
		return nil, fmt.Errorf("signer: unknown scheme %q", s.Scheme)
	}
	return h, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// signStandard returns a webhook-signature entry: v1a under a whsk_ Ed25519
// private key (its 64 bytes, or the 32-byte seed), v1 under a whsec_ secret.
func (s Signer) signStandard(unix string, body []byte) (string, error) {
	signed := []byte(s.DeliveryID + "." + unix + "." + string(body))
	if k, ok := strings.CutPrefix(string(s.Secret), StandardSigningKeyPrefix); ok {
		b, err := decodeBase64([]byte(k))
		switch {
		case err != nil:
			return "", fmt.Errorf("standard-webhooks signing key: %w", err)
		case len(b) == ed25519.SeedSize:
			b = ed25519.NewKeyFromSeed(b)
		case len(b) != ed25519.PrivateKeySize:
			return "", fmt.Errorf("standard-webhooks signing key: %d bytes, want %d or %d", len(b), ed25519.SeedSize, ed25519.PrivateKeySize)
		}
		return "v1a," + base64.StdEncoding.EncodeToString(ed25519.Sign(ed25519.PrivateKey(b), signed)), nil
	}
	key, err := decodeBase64([]byte(strings.TrimPrefix(string(s.Secret), StandardSecretPrefix)))
	if err != nil {
		return "", fmt.Errorf("standard-webhooks secret: %w", err)
	}
	return "v1," + base64.StdEncoding.EncodeToString(Sign(key, signed)), nil
}
