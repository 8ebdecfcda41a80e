package ingest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/services/ingest/internal/signature"
)

// signedSource is a raw source verified by one scheme, with the secrets in
// the form its sender hands them out.
type signedSource struct {
	Source
	old, new, wrong string
	timestamped     bool
}

func signedSources() []signedSource {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	return []signedSource{
		{Source: Source{Name: "clay", Scheme: "hmac-sha256", Header: "X-Clay-Signature", Prefix: "sha256=", Encoding: "base64"},
			old: "old-key", new: "new-key", wrong: "guess"},
		{Source: Source{Name: "svix", Scheme: "standard-webhooks"},
			old: "whsec_" + b64("old-key-of-24-bytes-or-more"), new: "whsec_" + b64("new-key-of-24-bytes-or-more"),
			wrong: "whsec_" + b64("guessed-key-of-24-bytes"), timestamped: true},
		{Source: Source{Name: "github", Scheme: "github"}, old: "old-key", new: "new-key", wrong: "guess"},
		{Source: Source{Name: "slack", Scheme: "slack"}, old: "old-key", new: "new-key", wrong: "guess", timestamped: true},
		{Source: Source{Name: "hubspot", Scheme: "hubspot-v3", PublicURL: "https://hooks.example.com"},
			old: "old-key", new: "new-key", wrong: "guess", timestamped: true},
		{Source: Source{Name: "airtable", Scheme: "airtable"}, old: b64("old-key"), new: b64("new-key"), wrong: b64("guess")},
		{Source: Source{Name: "notion", Scheme: "notion"}, old: "secret_old", new: "secret_new", wrong: "secret_guess"},
		{Source: Source{Name: "stripe", Scheme: "stripe"}, old: "whsec_old", new: "whsec_new", wrong: "whsec_guess", timestamped: true},
	}
}

// config returns a configuration serving s (kind raw) with secrets.
func (s signedSource) config(secrets ...string) Config {
	src := s.Source
	src.Kind = KindRaw
	for _, v := range secrets {
		src.Secrets = append(src.Secrets, Secret{Value: v})
	}
	cfg := testConfig()
	cfg.Sources = []Source{src}
	return cfg
}

// request returns a request to s signed with secret at time at, the way its
// sender signs.
func (s signedSource) request(t testing.TB, secret, deliveryID, body string, at time.Time) request {
	t.Helper()
	path := "/webhooks/" + s.Name + "?portalId=62515&next=a%3Ab"
	r := httptest.NewRequest(http.MethodPost, path, nil)
	h, err := signature.Signer{Scheme: s.Scheme, Secret: []byte(secret), PublicURL: s.PublicURL, DeliveryID: deliveryID,
		Header: s.Header, Prefix: s.Prefix, Encoding: s.Encoding}.Sign(&signature.Request{
		Method: http.MethodPost, URL: r.URL, Body: []byte(body), Received: at})
	if err != nil {
		t.Fatal(err)
	}
	header := map[string]string{}
	for k := range h {
		header[k] = h.Get(k)
	}
	return request{path: path, contentType: "application/json", header: header, body: body}
}

type signedCase struct {
	name   string
	h      http.Handler
	req    request
	status int
}

// TestSignedWebhooks posts, for every scheme, a request signed exactly as the
// sender signs it (202, stored in RAW), and the same request with one byte
// of the body changed, an old timestamp, or a wrong secret (401, stored in
// QUARANTINE, nothing in RAW); then rotates the secret.
func TestSignedWebhooks(t *testing.T) {
	for _, s := range signedSources() {
		t.Run(s.Scheme, func(t *testing.T) {
			srv := eventstest.RunServer(t)
			both := newTestHandler(t, srv, s.config(s.old, s.new))
			now := time.Now()
			body := func(n int) string {
				return fmt.Sprintf(`{"type":"contact.created","data":{"email":"ada@example.com","n":%d}}`, n)
			}

			tests := []signedCase{
				{"signed with the first secret", both, s.request(t, s.old, "msg_1", body(1), now), http.StatusAccepted},
				{"rotation: signed with the second secret", both, s.request(t, s.new, "msg_2", body(2), now), http.StatusAccepted},
				{"one byte of the body changed", both, func() request {
					r := s.request(t, s.old, "msg_3", body(3), now)
					r.body = strings.Replace(r.body, "ada", "adb", 1)
					return r
				}(), http.StatusUnauthorized},
				{"wrong secret", both, s.request(t, s.wrong, "msg_4", body(4), now), http.StatusUnauthorized},
			}
			if s.timestamped {
				tests = append(tests, signedCase{"timestamp ten minutes old", both, s.request(t, s.old, "msg_5", body(5), now.Add(-10*time.Minute)), http.StatusUnauthorized})
			}
			var raw, quarantined uint64
			for _, tt := range tests {
				rec := tt.req.do(t, tt.h)
				if rec.Code != tt.status {
					t.Fatalf("%s: status %d, want %d: %s", tt.name, rec.Code, tt.status, rec.Body)
				}
				readAnswer(t, rec)
				if tt.status == http.StatusAccepted {
					raw++
				} else {
					quarantined++
				}
				if n := srv.Count(t, "RAW", "gtm.raw."+s.Name+".>"); n != raw {
					t.Fatalf("%s: %d events in RAW, want %d", tt.name, n, raw)
				}
				if n := srv.Count(t, "QUARANTINE", "gtm.quarantine."+s.Name); n != quarantined {
					t.Fatalf("%s: %d requests in QUARANTINE, want %d", tt.name, n, quarantined)
				}
			}

			// The old secret removed: only the new one verifies.
			onlyNew := newTestHandler(t, srv, s.config(s.new))
			if rec := s.request(t, s.new, "msg_6", body(6), now).do(t, onlyNew); rec.Code != http.StatusAccepted {
				t.Fatalf("new secret after removing the old: %d %s", rec.Code, rec.Body)
			}
			if rec := s.request(t, s.old, "msg_7", body(7), now).do(t, onlyNew); rec.Code != http.StatusUnauthorized {
				t.Fatalf("old secret after removing it: %d %s", rec.Code, rec.Body)
			}
			if n := srv.Count(t, "QUARANTINE", "gtm.quarantine."+s.Name); n != quarantined+1 {
				t.Fatalf("%d requests in QUARANTINE, want %d", n, quarantined+1)
			}
		})
	}
}

// TestQuarantineRateLimit floods a source with forged requests: every one
// is answered 401, but only the burst is stored and the rest are counted.
func TestQuarantineRateLimit(t *testing.T) {
	srv := eventstest.RunServer(t)
	s := sourceOf(t, "github")
	cfg := s.config(s.old)
	cfg.Sources[0].QuarantineRateLimit = 0.001
	cfg.Sources[0].QuarantineBurst = 3
	pub, err := events.NewPublisher(srv.JS)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	h, err := NewHandler(cfg, pub, testLogger(t), WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	for n := range 20 {
		rec := s.request(t, s.wrong, "", fmt.Sprintf(`{"n":%d}`, n), time.Now()).do(t, h)
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("forged request %d: %d", n, rec.Code)
		}
	}
	if n := srv.Count(t, "QUARANTINE", ">"); n != 3 {
		t.Fatalf("%d requests quarantined, want the burst of 3", n)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var dropped float64
	for _, f := range families {
		if f.GetName() == "gtmhub_ingest_quarantine_dropped_total" {
			for _, m := range f.GetMetric() {
				dropped += m.GetCounter().GetValue()
			}
		}
	}
	if dropped != 17 {
		t.Fatalf("gtmhub_ingest_quarantine_dropped_total = %v, want 17", dropped)
	}
}

// TestRequestMetrics: answers are counted by configured source and status,
// and a path naming no source counts as unknown, so labels stay bounded.
func TestRequestMetrics(t *testing.T) {
	srv := eventstest.RunServer(t)
	pub, err := events.NewPublisher(srv.JS)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	h, err := NewHandler(testConfig(), pub, testLogger(t), WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/webhooks/form", "/webhooks/form", "/webhooks/no-such-source-1", "/webhooks/no-such-source-2"} {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(`{"email":"ada@example.com"}`))
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	want := `
# HELP gtmhub_ingest_requests_total Requests answered, by source (a configured source, events, or unknown) and HTTP status.
# TYPE gtmhub_ingest_requests_total counter
gtmhub_ingest_requests_total{source="form",status="202"} 2
gtmhub_ingest_requests_total{source="unknown",status="404"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gtmhub_ingest_requests_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(reg, "gtmhub_ingest_request_seconds"); n != 2 {
		t.Errorf("%d latency series, want 2", n)
	}
}

// TestStandardWebhooksEd25519 serves a Standard Webhooks source that holds
// only the sender's whpk_ public key: a v1a request signed with the sender's
// private key is stored, one signed with another key is quarantined.
func TestStandardWebhooksEd25519(t *testing.T) {
	keys := func() (signing, public string) {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return signature.StandardSigningKeyPrefix + base64.StdEncoding.EncodeToString(priv),
			signature.StandardPublicKeyPrefix + base64.StdEncoding.EncodeToString(pub)
	}
	signing, public := keys()
	forger, _ := keys()
	s := signedSource{Source: Source{Name: "svix", Scheme: "standard-webhooks"}}
	srv := eventstest.RunServer(t)
	h := newTestHandler(t, srv, s.config(public))
	body := `{"type":"contact.created","data":{"email":"ada@example.com"}}`
	for _, tt := range []struct {
		name, key        string
		status           int
		raw, quarantined uint64
	}{
		{"signed by the sender", signing, http.StatusAccepted, 1, 0},
		{"signed with another key", forger, http.StatusUnauthorized, 1, 1},
	} {
		rec := s.request(t, tt.key, fmt.Sprintf("msg_%d", tt.raw+tt.quarantined), body, time.Now()).do(t, h)
		if rec.Code != tt.status {
			t.Fatalf("%s: status %d, want %d: %s", tt.name, rec.Code, tt.status, rec.Body)
		}
		if n := srv.Count(t, "RAW", "gtm.raw.svix.>"); n != tt.raw {
			t.Fatalf("%s: %d events in RAW, want %d", tt.name, n, tt.raw)
		}
		if n := srv.Count(t, "QUARANTINE", "gtm.quarantine.svix"); n != tt.quarantined {
			t.Fatalf("%s: %d in QUARANTINE, want %d", tt.name, n, tt.quarantined)
		}
	}
}
