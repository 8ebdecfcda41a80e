package signature

import (
	"bytes"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fuzzVerifier checks one scheme with arbitrary bodies and header values:
// Verify never panics, a request signed as the sender signs verifies, and
// the same request with its body changed or a forged header value does not.
func fuzzVerifier(f *testing.F, c schemeCase, headerNames ...string) {
	f.Add([]byte(`{"type":"x"}`), "v1,abc", int64(0))
	f.Add([]byte{}, "", int64(-400))
	f.Add([]byte("a=b&c=%2F"), "t=1,v1=00", int64(400))
	f.Fuzz(func(t *testing.T, body []byte, forged string, skew int64) {
		p := c.params
		p.Secrets = [][]byte{[]byte(c.old)}
		v, err := Builtin().New(c.scheme, p)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Unix(1_700_000_000, 0)
		r := c.signed(t, c.old, body, now.Add(time.Duration(skew)*time.Second))
		r.Received = now
		err = v.Verify(r)
		inTolerance := !c.timestamped || (skew >= -300 && skew <= 300)
		if (err == nil) != inTolerance {
			t.Fatalf("signed request, skew %ds: %v", skew, err)
		}
		changed := *r
		changed.Body = append(bytes.Clone(body), 'x')
		if v.Verify(&changed) == nil {
			t.Fatal("a changed body verified")
		}
		for _, name := range headerNames {
			forgedReq := *r
			forgedReq.Header = r.Header.Clone()
			if strings.TrimSpace(forgedReq.Header.Get(name)) == strings.TrimSpace(forged) {
				continue
			}
			forgedReq.Header.Set(name, forged)
			if v.Verify(&forgedReq) == nil {
				t.Fatalf("forged %s %q verified", name, forged)
			}
		}
	})
}

func FuzzHMACSHA256(f *testing.F) {
	fuzzVerifier(f, schemeCase{scheme: "hmac-sha256", params: Params{Prefix: "sha256=", Encoding: "base64"}, old: "k"}, "X-Signature")
}

func FuzzStandardWebhooks(f *testing.F) {
	fuzzVerifier(f, schemeCases()[2], "Webhook-Signature", "Webhook-Id", "Webhook-Timestamp")
}

func FuzzGitHub(f *testing.F) {
	fuzzVerifier(f, schemeCase{scheme: "github", old: "k"}, "X-Hub-Signature-256")
}

func FuzzSlack(f *testing.F) {
	fuzzVerifier(f, schemeCase{scheme: "slack", old: "k", timestamped: true}, "X-Slack-Signature", "X-Slack-Request-Timestamp")
}

func FuzzHubSpotV3(f *testing.F) {
	fuzzVerifier(f, schemeCase{scheme: "hubspot-v3", params: Params{PublicURL: "https://hooks.example.com"}, old: "k", timestamped: true},
		"X-Hubspot-Signature-V3", "X-Hubspot-Request-Timestamp")
}

func FuzzAirtable(f *testing.F) {
	fuzzVerifier(f, schemeCases()[6], "X-Airtable-Content-Mac")
}

func FuzzNotion(f *testing.F) {
	fuzzVerifier(f, schemeCase{scheme: "notion", old: "k"}, "X-Notion-Signature")
}

func FuzzStripe(f *testing.F) {
	fuzzVerifier(f, schemeCase{scheme: "stripe", old: "k", timestamped: true}, "Stripe-Signature")
}

func FuzzParseStripeSignature(f *testing.F) {
	f.Add("t=1492774577,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd,v0=00")
	f.Add("t=,v1=")
	f.Fuzz(func(t *testing.T, header string) {
		ts, sigs, err := ParseStripeSignature(header)
		if err == nil && (ts == "" || len(sigs) == 0) {
			t.Fatalf("accepted %q without a timestamp or signature", header)
		}
	})
}

func FuzzParseStandardSignatures(f *testing.F) {
	f.Add("v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4= v1a,hnO3f9T8")
	f.Add("v1, v1,,")
	f.Fuzz(func(t *testing.T, header string) {
		for _, s := range ParseStandardSignatures(header, "v1") {
			if len(s) != 32 {
				t.Fatalf("signature of %d bytes from %q", len(s), header)
			}
		}
	})
}

func FuzzParseTimestamp(f *testing.F) {
	f.Add("1531420618")
	f.Add("-1")
	f.Add("99999999999999999999")
	f.Add("+1531420618")
	f.Add("01531420618")
	f.Fuzz(func(t *testing.T, s string) {
		for _, unit := range []time.Duration{time.Second, time.Millisecond} {
			ts, err := ParseTimestamp(s, unit)
			if err == nil && (ts.Before(time.Unix(0, 0)) || strconv.FormatInt(ts.UnixNano()/int64(unit), 10) != s) {
				t.Fatalf("ParseTimestamp(%q) = %v", s, ts)
			}
		}
	})
}

func FuzzHubSpotURI(f *testing.F) {
	f.Add("/webhooks/hubspot?a=%3A%2f")
	f.Fuzz(func(t *testing.T, uri string) {
		u, err := url.ParseRequestURI(uri)
		if err != nil {
			return
		}
		_ = HubSpotURI("https://hooks.example.com", u)
		r := &Request{Method: http.MethodPost, URL: u, Header: http.Header{}, Received: time.Now()}
		v, err := Builtin().New("hubspot-v3", Params{Secrets: [][]byte{[]byte("k")}, PublicURL: "https://hooks.example.com"})
		if err != nil {
			t.Fatal(err)
		}
		if v.Verify(r) == nil {
			t.Fatal("unsigned request verified")
		}
	})
}
