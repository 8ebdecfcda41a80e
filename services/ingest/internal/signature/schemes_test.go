package signature

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The senders' own published examples, verified as published.
func TestPublishedExamples(t *testing.T) {
	slackBody := "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V" +
		"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=" +
		"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN" +
		"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	tests := []struct {
		name   string
		scheme string
		secret string
		header http.Header
		body   string
		at     time.Time
	}{
		{
			// docs.github.com, "Validating webhook deliveries", testing the signature.
			name: "GitHub", scheme: "github", secret: "It's a Secret to Everybody", body: "Hello, World!",
			header: http.Header{"X-Hub-Signature-256": {"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"}},
		},
		{
			// api.slack.com, "Verifying requests from Slack", the walk-through.
			name: "Slack", scheme: "slack", secret: "8f742231b10e8888abcd99yyyzzz85a5", body: slackBody,
			at: time.Unix(1531420618, 0),
			header: http.Header{
				"X-Slack-Request-Timestamp": {"1531420618"},
				"X-Slack-Signature":         {"v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"},
			},
		},
		{
			// The Standard Webhooks reference library's signing test vector.
			name: "Standard Webhooks", scheme: "standard-webhooks", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
			body: `{"test": 2432232314}`, at: time.Unix(1614265330, 0),
			header: http.Header{
				"Webhook-Id":        {"msg_p5jXN8AQM9LWM0D4loKWxJek"},
				"Webhook-Timestamp": {"1614265330"},
				"Webhook-Signature": {"v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg== v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Builtin().New(tt.scheme, Params{Secrets: [][]byte{[]byte(tt.secret)}})
			if err != nil {
				t.Fatal(err)
			}
			at := tt.at
			if at.IsZero() {
				at = time.Now()
			}
			req := &Request{Method: http.MethodPost, URL: &url.URL{Path: "/"}, Header: tt.header, Body: []byte(tt.body), Received: at}
			if err := v.Verify(req); err != nil {
				t.Fatalf("published example: %v", err)
			}
			req.Body = append([]byte{}, req.Body...)
			req.Body[0] ^= 1
			if err := v.Verify(req); !errors.Is(err, ErrMismatch) {
				t.Fatalf("example with a byte changed: %v", err)
			}
		})
	}
}

// Stripe-Signature as Stripe's documentation shows it, parsed.
func TestParseStripeSignature(t *testing.T) {
	ts, sigs, err := ParseStripeSignature("t=1492774577,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd," +
		"v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39")
	if err != nil || ts != "1492774577" || len(sigs) != 1 || len(sigs[0]) != 32 {
		t.Fatalf("ParseStripeSignature = %q, %d signatures, %v", ts, len(sigs), err)
	}
	for _, bad := range []string{"", "v1=00", "t=1", "t=1,t=2,v1=00", "t=1,v1=zz"} {
		if _, _, err := ParseStripeSignature(bad); err == nil {
			t.Errorf("ParseStripeSignature(%q) succeeded", bad)
		}
	}
}

// schemeCase is one scheme with the settings a source would give it.
type schemeCase struct {
	scheme      string
	params      Params // without secrets
	old, new    string // two secrets in the form the sender hands them out
	wrong       string // another well-formed secret; default old+"x"
	timestamped bool
}

func schemeCases() []schemeCase {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	return []schemeCase{
		{scheme: "hmac-sha256", params: Params{Header: "X-Clay-Signature", Prefix: "sha256=", Encoding: "base64"}, old: "old-key", new: "new-key"},
		{scheme: "hmac-sha256", old: "old-key", new: "new-key"},
		{scheme: "standard-webhooks", old: "whsec_" + b64("old-key-of-24-bytes-or-more"), new: "whsec_" + b64("new-key-of-24-bytes-or-more"),
			wrong: "whsec_" + b64("guessed-key-of-24-bytes"), timestamped: true},
		{scheme: "github", old: "old-key", new: "new-key"},
		{scheme: "slack", old: "old-key", new: "new-key", timestamped: true},
		{scheme: "hubspot-v3", params: Params{PublicURL: "https://hooks.example.com/"}, old: "old-key", new: "new-key", timestamped: true},
		{scheme: "airtable", old: b64("old-key"), new: b64("new-key"), wrong: b64("guessed")},
		{scheme: "notion", old: "secret_old", new: "secret_new"},
		{scheme: "stripe", old: "whsec_old", new: "whsec_new", timestamped: true},
	}
}

func (c schemeCase) wrongSecret() string {
	if c.wrong != "" {
		return c.wrong
	}
	return c.old + "x"
}

func (c schemeCase) verifier(t testing.TB, secrets ...string) Verifier {
	t.Helper()
	p := c.params
	for _, s := range secrets {
		p.Secrets = append(p.Secrets, []byte(s))
	}
	v, err := Builtin().New(c.scheme, p)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// signed returns a request signed with secret at time at.
func (c schemeCase) signed(t testing.TB, secret string, body []byte, at time.Time) *Request {
	t.Helper()
	u, _ := url.Parse("/webhooks/src?portalId=62515&x=a%3Ab")
	r := &Request{Method: http.MethodPost, URL: u, Body: body, Received: at}
	h, err := Signer{Scheme: c.scheme, Secret: []byte(secret), PublicURL: c.params.PublicURL, DeliveryID: "msg_1",
		Header: c.params.Header, Prefix: c.params.Prefix, Encoding: c.params.Encoding}.Sign(r)
	if err != nil {
		t.Fatal(err)
	}
	r.Header = h
	return r
}

type verifyCase struct {
	name string
	v    Verifier
	req  *Request
	want error
}

func TestSchemes(t *testing.T) {
	body := []byte(`{"type":"contact.created","data":{"email":"ada@example.com"}}`)
	now := time.Now()
	for _, c := range schemeCases() {
		t.Run(c.scheme+c.params.Encoding, func(t *testing.T) {
			both := c.verifier(t, c.old, c.new)
			onlyNew := c.verifier(t, c.new)
			at := func(r *Request, received time.Time) *Request { r.Received = received; return r }

			tests := []verifyCase{
				{"signed as the sender signs", both, c.signed(t, c.old, body, now), nil},
				{"rotation: the new secret verifies too", both, c.signed(t, c.new, body, now), nil},
				{"old secret removed: the new one verifies", onlyNew, c.signed(t, c.new, body, now), nil},
				{"old secret removed: the old one fails", onlyNew, c.signed(t, c.old, body, now), ErrMismatch},
				{"wrong secret", both, c.signed(t, c.wrongSecret(), body, now), ErrMismatch},
				{"one byte of the body changed", both, func() *Request {
					r := c.signed(t, c.old, body, now)
					r.Body = []byte(strings.Replace(string(body), "ada", "adb", 1))
					return r
				}(), ErrMismatch},
				{"no headers", both, &Request{Method: http.MethodPost, URL: &url.URL{Path: "/"}, Header: http.Header{}, Body: body, Received: now}, ErrMissing},
			}
			if c.timestamped {
				tests = append(tests,
					verifyCase{"timestamp six minutes old", both, at(c.signed(t, c.old, body, now.Add(-6*time.Minute)), now), ErrStale},
					verifyCase{"timestamp six minutes ahead", both, at(c.signed(t, c.old, body, now.Add(6*time.Minute)), now), ErrStale},
					verifyCase{"timestamp four minutes old", both, at(c.signed(t, c.old, body, now.Add(-4*time.Minute)), now), nil},
				)
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					err := tt.v.Verify(tt.req)
					if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
						t.Fatalf("Verify() = %v, want %v", err, tt.want)
					}
					if err != nil && (strings.Contains(err.Error(), c.old) || strings.Contains(err.Error(), c.new)) {
						t.Fatalf("error %q reveals a secret", err)
					}
				})
			}
		})
	}
}

func TestTolerance(t *testing.T) {
	c := schemeCase{scheme: "slack", params: Params{Tolerance: time.Minute}}
	v := c.verifier(t, "key")
	now := time.Now()
	r := c.signed(t, "key", []byte("{}"), now.Add(-2*time.Minute))
	r.Received = now
	if err := v.Verify(r); !errors.Is(err, ErrStale) {
		t.Fatalf("two minutes old with a one-minute tolerance: %v", err)
	}
}

func TestHubSpotURI(t *testing.T) {
	u, _ := url.Parse("/webhooks/hubspot?redirect=https%3A%2F%2Fexample.com%2Fa%40b&q=a%20b")
	got := HubSpotURI("https://hooks.example.com", u)
	want := "https://hooks.example.com/webhooks/hubspot?redirect=https://example.com/a@b&q=a%20b"
	if got != want {
		t.Fatalf("HubSpotURI = %q, want %q", got, want)
	}
}

func TestSchemeParams(t *testing.T) {
	one := [][]byte{[]byte("k")}
	tests := []struct {
		scheme string
		p      Params
	}{
		{"hmac-sha256", Params{}},
		{"hmac-sha256", Params{Secrets: one, Encoding: "base32"}},
		{"hmac-sha256", Params{Secrets: one, Header: "Bad Header"}},
		{"hmac-sha256", Params{Secrets: one, Tolerance: time.Minute}},
		{"github", Params{Secrets: one, Header: "X-Other"}},
		{"github", Params{Secrets: one, Tolerance: time.Minute}},
		{"slack", Params{Secrets: one, Tolerance: -time.Minute}},
		{"slack", Params{Secrets: [][]byte{{}}}},
		{"standard-webhooks", Params{Secrets: [][]byte{[]byte("whsec_not base64!")}}},
		{"airtable", Params{Secrets: [][]byte{[]byte("not base64!")}}},
		{"hubspot-v3", Params{Secrets: one}},
		{"hubspot-v3", Params{Secrets: one, PublicURL: "hooks.example.com"}},
		{"stripe", Params{Secrets: one, PublicURL: "https://x.example"}},
	}
	for _, tt := range tests {
		if _, err := Builtin().New(tt.scheme, tt.p); err == nil {
			t.Errorf("%s with %+v: accepted", tt.scheme, tt.p)
		}
	}
}
