package ingest

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/events/eventstest"
)

func sourceOf(t *testing.T, scheme string) signedSource {
	t.Helper()
	for _, s := range signedSources() {
		if s.Scheme == scheme {
			return s
		}
	}
	t.Fatalf("no test source for %s", scheme)
	return signedSource{}
}

// TestSenderRetryStoredOnce retries one delivery five times the way each
// sender retries (same delivery id, signed again with a new timestamp where
// the scheme signs one) and finds one stored event.
func TestSenderRetryStoredOnce(t *testing.T) {
	tests := []struct {
		name    string
		cfg     func(t *testing.T) Config
		attempt func(t *testing.T, n int) request
		stream  string
		wantID  string
	}{
		{
			name: "standard webhooks: webhook-id",
			cfg:  func(t *testing.T) Config { s := sourceOf(t, "standard-webhooks"); return s.config(s.old) },
			attempt: func(t *testing.T, n int) request {
				s := sourceOf(t, "standard-webhooks")
				return s.request(t, s.old, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", `{"type":"contact.created"}`, time.Now().Add(time.Duration(n)*time.Second))
			},
			stream: "RAW", wantID: DeliveryEventID("svix", "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"),
		},
		{
			name: "github: X-GitHub-Delivery",
			cfg:  func(t *testing.T) Config { s := sourceOf(t, "github"); return s.config(s.old) },
			attempt: func(t *testing.T, n int) request {
				s := sourceOf(t, "github")
				r := s.request(t, s.old, "", `{"action":"opened"}`, time.Now())
				r.header["X-GitHub-Delivery"] = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
				r.header["X-GitHub-Event"] = "issues"
				return r
			},
			stream: "RAW", wantID: DeliveryEventID("github", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
		},
		{
			name: "slack: event_id in the body",
			cfg:  func(t *testing.T) Config { s := sourceOf(t, "slack"); return s.config(s.old) },
			attempt: func(t *testing.T, n int) request {
				s := sourceOf(t, "slack")
				r := s.request(t, s.old, "", `{"type":"event_callback","event_id":"Ev0PV52K21","event":{"type":"app_mention"}}`,
					time.Now().Add(time.Duration(n)*time.Second))
				if n > 0 {
					r.header["X-Slack-Retry-Num"] = strconv.Itoa(n)
				}
				return r
			},
			stream: "RAW", wantID: DeliveryEventID("slack", "Ev0PV52K21"),
		},
		{
			name: "hubspot: eventId of each event in the body",
			cfg:  func(t *testing.T) Config { s := sourceOf(t, "hubspot-v3"); return s.config(s.old) },
			attempt: func(t *testing.T, n int) request {
				s := sourceOf(t, "hubspot-v3")
				return s.request(t, s.old, "", `[{"eventId":1,"subscriptionType":"contact.creation","attemptNumber":`+strconv.Itoa(n)+`,"objectId":123}]`,
					time.Now().Add(time.Duration(n)*time.Second))
			},
			stream: "RAW", wantID: DeliveryEventID("hubspot", "1"),
		},
		{
			name: "stripe: the event id in the body",
			cfg:  func(t *testing.T) Config { s := sourceOf(t, "stripe"); return s.config(s.old) },
			attempt: func(t *testing.T, n int) request {
				s := sourceOf(t, "stripe")
				return s.request(t, s.old, "", `{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","type":"invoice.paid"}`,
					time.Now().Add(time.Duration(n)*time.Second))
			},
			stream: "RAW", wantID: DeliveryEventID("stripe", "evt_1NG8Du2eZvKYlo2CUI79vXWy"),
		},
		{
			name: "form: Idempotency-Key",
			cfg:  func(*testing.T) Config { return testConfig() },
			attempt: func(_ *testing.T, n int) request {
				return request{path: "/webhooks/form", contentType: "application/json", body: exampleLead,
					header: map[string]string{"Idempotency-Key": "form-submission-9"}}
			},
			stream: "LEADS", wantID: DeliveryEventID("form", "form-submission-9"),
		},
		{
			name: "form without a delivery id: a hash of source and body",
			cfg:  func(*testing.T) Config { return testConfig() },
			attempt: func(_ *testing.T, n int) request {
				return request{path: "/webhooks/form", contentType: "application/json", body: exampleLead}
			},
			stream: "LEADS", wantID: ContentEventID("form", []byte(exampleLead)),
		},
		// A header that differs per attempt (a proxy's X-Request-Id, an
		// attacker's Idempotency-Key on a captured request) does not make a
		// new event when the sender names its deliveries.
		{
			name: "standard webhooks: signed webhook-id wins over an added Idempotency-Key",
			cfg:  func(t *testing.T) Config { s := sourceOf(t, "standard-webhooks"); return s.config(s.old) },
			attempt: func(t *testing.T, n int) request {
				s := sourceOf(t, "standard-webhooks")
				r := s.request(t, s.old, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", `{"type":"contact.created"}`, time.Now())
				return withHeaders(r, "Idempotency-Key", "a/b/"+strconv.Itoa(n), "X-Request-Id", "req-"+strconv.Itoa(n))
			},
			stream: "RAW", wantID: DeliveryEventID("svix", "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"),
		},
		{
			name: "github: X-GitHub-Delivery wins over an added Idempotency-Key",
			cfg:  func(t *testing.T) Config { s := sourceOf(t, "github"); return s.config(s.old) },
			attempt: func(t *testing.T, n int) request {
				s := sourceOf(t, "github")
				r := s.request(t, s.old, "", `{"action":"opened"}`, time.Now())
				return withHeaders(r, "X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958", "X-GitHub-Event", "issues",
					"Idempotency-Key", "k"+strconv.Itoa(n))
			},
			stream: "RAW", wantID: DeliveryEventID("github", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
		},
		{
			name: "slack: event_id wins over an added X-Delivery-Id",
			cfg:  func(t *testing.T) Config { s := sourceOf(t, "slack"); return s.config(s.old) },
			attempt: func(t *testing.T, n int) request {
				s := sourceOf(t, "slack")
				r := s.request(t, s.old, "", `{"type":"event_callback","event_id":"Ev0PV52K21","event":{"type":"app_mention"}}`, time.Now())
				return withHeaders(r, "X-Delivery-Id", "d"+strconv.Itoa(n))
			},
			stream: "RAW", wantID: DeliveryEventID("slack", "Ev0PV52K21"),
		},
		{
			name: "hubspot: eventId wins over an added Webhook-Id",
			cfg:  func(t *testing.T) Config { s := sourceOf(t, "hubspot-v3"); return s.config(s.old) },
			attempt: func(t *testing.T, n int) request {
				s := sourceOf(t, "hubspot-v3")
				r := s.request(t, s.old, "", `[{"eventId":1,"subscriptionType":"contact.creation","objectId":123}]`, time.Now())
				return withHeaders(r, "Webhook-Id", "w"+strconv.Itoa(n))
			},
			stream: "RAW", wantID: DeliveryEventID("hubspot", "1"),
		},
		{
			name: "notion: the event id wins over an added Idempotency-Key",
			cfg:  func(t *testing.T) Config { s := sourceOf(t, "notion"); return s.config(s.old) },
			attempt: func(t *testing.T, n int) request {
				s := sourceOf(t, "notion")
				r := s.request(t, s.old, "", `{"id":"367cba44-b6f3-4c92-81e7-6a2e9659efd4","type":"page.created"}`, time.Now())
				return withHeaders(r, "Idempotency-Key", "k"+strconv.Itoa(n))
			},
			stream: "RAW", wantID: DeliveryEventID("notion", "367cba44-b6f3-4c92-81e7-6a2e9659efd4"),
		},
		{
			name: "stripe: the event id wins over an added Idempotency-Key",
			cfg:  func(t *testing.T) Config { s := sourceOf(t, "stripe"); return s.config(s.old) },
			attempt: func(t *testing.T, n int) request {
				s := sourceOf(t, "stripe")
				r := s.request(t, s.old, "", `{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","type":"invoice.paid"}`, time.Now())
				return withHeaders(r, "Idempotency-Key", "k"+strconv.Itoa(n))
			},
			stream: "RAW", wantID: DeliveryEventID("stripe", "evt_1NG8Du2eZvKYlo2CUI79vXWy"),
		},
		{
			name: "github without X-GitHub-Delivery: the generic headers still count",
			cfg:  func(t *testing.T) Config { s := sourceOf(t, "github"); return s.config(s.old) },
			attempt: func(t *testing.T, n int) request {
				s := sourceOf(t, "github")
				r := s.request(t, s.old, "", `{"action":"opened","n":`+strconv.Itoa(n)+`}`, time.Now())
				return withHeaders(r, "X-GitHub-Event", "issues", "Idempotency-Key", "relay-7")
			},
			stream: "RAW", wantID: DeliveryEventID("github", "relay-7"),
		},
		{
			name: "form: a proxy's X-Request-Id is not a delivery id",
			cfg:  func(*testing.T) Config { return testConfig() },
			attempt: func(_ *testing.T, n int) request {
				return request{path: "/webhooks/form", contentType: "application/json", body: exampleLead,
					header: map[string]string{"X-Request-Id": "req-" + strconv.Itoa(n)}}
			},
			stream: "LEADS", wantID: ContentEventID("form", []byte(exampleLead)),
		},
		{
			name: "form: a configured delivery_id_headers list is honoured",
			cfg: func(*testing.T) Config {
				cfg := testConfig()
				cfg.Sources[0].DeliveryIDHeaders = []string{"X-Submission-Id"}
				return cfg
			},
			attempt: func(_ *testing.T, n int) request {
				return request{path: "/webhooks/form", contentType: "application/json", body: exampleLead,
					header: map[string]string{"X-Submission-Id": "sub-3", "Idempotency-Key": "k" + strconv.Itoa(n)}}
			},
			stream: "LEADS", wantID: DeliveryEventID("form", "sub-3"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := eventstest.RunServer(t)
			h := newTestHandler(t, srv, tt.cfg(t))
			for n := range 5 {
				rec := tt.attempt(t, n).do(t, h)
				if rec.Code != http.StatusAccepted {
					t.Fatalf("attempt %d: %d %s", n+1, rec.Code, rec.Body)
				}
				a := readAnswer(t, rec)
				if a.ID != tt.wantID || a.Duplicate != (n > 0) {
					t.Fatalf("attempt %d: %+v, want id %s, duplicate %v", n+1, a, tt.wantID, n > 0)
				}
			}
			if n := srv.Count(t, tt.stream, ">"); n != 1 {
				t.Fatalf("%d events stored after 5 attempts, want 1", n)
			}
		})
	}
}

// withHeaders returns r with the header name-value pairs kv added.
func withHeaders(r request, kv ...string) request {
	h := make(map[string]string, len(r.header)+len(kv)/2)
	for k, v := range r.header {
		h[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		h[kv[i]] = kv[i+1]
	}
	r.header = h
	return r
}

// TestHandshakes answers the senders' handshakes after verifying them,
// without publishing anything.
func TestHandshakes(t *testing.T) {
	tests := []struct {
		name          string
		scheme        string
		kind          Kind
		body          string
		header        map[string]string
		unsigned      bool
		wantStatus    int
		wantHandshake string
		wantChallenge string
	}{
		{name: "slack url_verification", scheme: "slack",
			body:       `{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`,
			wantStatus: http.StatusOK, wantHandshake: "url_verification", wantChallenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"},
		{name: "slack url_verification, unsigned", scheme: "slack", unsigned: true,
			body: `{"challenge":"x","type":"url_verification"}`, wantStatus: http.StatusUnauthorized},
		{name: "github ping to a raw source", scheme: "github", header: map[string]string{"X-GitHub-Event": "ping"},
			body: `{"zen":"Keep it logically awesome.","hook_id":1}`, wantStatus: http.StatusOK, wantHandshake: "ping"},
		{name: "github ping to a lead source", scheme: "github", kind: KindLead, header: map[string]string{"X-GitHub-Event": "ping"},
			body: `{"zen":"Design for failure.","hook_id":1}`, wantStatus: http.StatusOK, wantHandshake: "ping"},
		{name: "standard webhooks test event to a lead source", scheme: "standard-webhooks", kind: KindLead,
			body: `{"type":"webhook.test","data":{}}`, wantStatus: http.StatusOK, wantHandshake: "webhook.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sourceOf(t, tt.scheme)
			cfg := s.config(s.old)
			if tt.kind != "" {
				cfg.Sources[0].Kind = tt.kind
			}
			srv := eventstest.RunServer(t)
			h := newTestHandler(t, srv, cfg)
			req := s.request(t, s.old, "msg_test", tt.body, time.Now())
			if tt.unsigned {
				req.header = map[string]string{}
			}
			for k, v := range tt.header {
				req.header[k] = v
			}
			rec := req.do(t, h)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			a := readAnswer(t, rec)
			if a.Handshake != tt.wantHandshake || a.Challenge != tt.wantChallenge {
				t.Fatalf("answer %s", rec.Body)
			}
			for _, stream := range []string{"LEADS", "RAW"} {
				if n := srv.Count(t, stream, ">"); n != 0 {
					t.Fatalf("%d events in %s after a handshake", n, stream)
				}
			}
		})
	}
}
