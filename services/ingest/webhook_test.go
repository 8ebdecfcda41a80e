package ingest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events/eventstest"
)

const exampleLead = `{"email":"Ada@Example.com","first_name":"Ada","last_name":"Lovelace","company":"Example Inc"}`

func TestWebhook(t *testing.T) {
	tests := []struct {
		name       string
		req        request
		wantStatus int
		// For 202: the stream and subject of the event, and what to check in it.
		wantStream, wantSubject string
		check                   func(t *testing.T, ev event.Event)
		// For 4xx: a substring of the error and the pointers of the fields.
		wantError  string
		wantFields []string
		wantInMsg  string // in a field's message
	}{
		{
			name:       "form lead as JSON (the issue's example)",
			req:        request{path: "/webhooks/form", contentType: "application/json", body: exampleLead},
			wantStatus: http.StatusAccepted, wantStream: "LEADS", wantSubject: "gtm.leads.captured.form",
			check: func(t *testing.T, ev event.Event) {
				lead := leadOf(t, ev)
				if lead.Email != "Ada@Example.com" || lead.FirstName != "Ada" || lead.LastName != "Lovelace" ||
					lead.Company != "Example Inc" || lead.Source != "form" {
					t.Errorf("lead = %+v", lead)
				}
				if ev.Source() != "/gtmhub/ingest/form" {
					t.Errorf("source = %q", ev.Source())
				}
				if e, _ := contracts.Lookup(contracts.TypeLeadCaptured); ev.DataSchema() != e.DataSchema {
					t.Errorf("dataschema = %q, want %q", ev.DataSchema(), e.DataSchema)
				}
			},
		},
		{
			name: "website form, form-encoded, with a score and extra fields",
			req: request{path: "/webhooks/form", contentType: "application/x-www-form-urlencoded",
				body: "email=+ada%40example.com+&first_name=Ada&signal_score=72&utm_source=newsletter&consent=on"},
			wantStatus: http.StatusAccepted, wantStream: "LEADS", wantSubject: "gtm.leads.captured.form",
			check: func(t *testing.T, ev event.Event) {
				lead := leadOf(t, ev)
				if lead.Email != "ada@example.com" || lead.SignalScore == nil || *lead.SignalScore != 72 {
					t.Errorf("lead = %+v", lead)
				}
				want := map[string]any{"utm_source": "newsletter", "consent": "on"}
				if !equalJSON(lead.Attributes, want) {
					t.Errorf("attributes = %v, want %v", lead.Attributes, want)
				}
			},
		},
		{
			name: "clay mapping",
			req: request{path: "/webhooks/clay", contentType: "application/json",
				header: map[string]string{"X-Webhook-Secret": "old-secret"},
				body: `{"Work Email":"ada@example.com","First Name":"Ada","Last Name":"Lovelace","Company Name":"Example Inc",` +
					`"Job Title":" Head of Engineering ","LinkedIn":"https://www.linkedin.com/in/ada"}`},
			wantStatus: http.StatusAccepted, wantStream: "LEADS", wantSubject: "gtm.leads.captured.clay",
			check: func(t *testing.T, ev event.Event) {
				lead := leadOf(t, ev)
				want := contracts.Lead{Email: "ada@example.com", FirstName: "Ada", LastName: "Lovelace",
					Company: "Example Inc", Title: "Head of Engineering", Source: "clay"}
				if lead.Lead != want {
					t.Errorf("lead = %+v\nwant   %+v", lead.Lead, want)
				}
				if lead.Attributes["LinkedIn"] != "https://www.linkedin.com/in/ada" {
					t.Errorf("attributes = %v", lead.Attributes)
				}
			},
		},
		{
			name: "clay secret rotation: the second secret matches",
			req: request{path: "/webhooks/clay", contentType: "application/json",
				header: map[string]string{"X-Webhook-Secret": "new-secret"}, body: `{"Work Email":"ada@example.com"}`},
			wantStatus: http.StatusAccepted, wantStream: "LEADS", wantSubject: "gtm.leads.captured.clay",
		},
		{
			name: "raw source: type from a header, secret header redacted, JSON body kept",
			req: request{path: "/webhooks/github", contentType: "application/json",
				header: map[string]string{"X-Hub-Token": "gh-secret", "X-GitHub-Event": "Star", "Authorization": "Bearer abc"},
				body:   `{"action":"created","repository":{"full_name":"gtmhub/gtmhub"}}`},
			wantStatus: http.StatusAccepted, wantStream: "RAW", wantSubject: "gtm.raw.github.star",
			check: func(t *testing.T, ev event.Event) {
				var rec contracts.WebhookReceived
				if err := json.Unmarshal(ev.Data(), &rec); err != nil {
					t.Fatal(err)
				}
				if rec.Source != "github" || rec.Type != "star" || ev.Subject() != "star" {
					t.Errorf("source %q type %q subject %q", rec.Source, rec.Type, ev.Subject())
				}
				for _, h := range []string{"X-Hub-Token", "Authorization"} {
					if got := rec.Headers.Get(h); got != "[REDACTED]" {
						t.Errorf("header %s = %q, want [REDACTED]", h, got)
					}
				}
				if got := rec.Headers.Get("X-Github-Event"); got != "Star" {
					t.Errorf("X-Github-Event = %q", got)
				}
				if !equalJSONText(t, rec.Body, `{"action":"created","repository":{"full_name":"gtmhub/gtmhub"}}`) {
					t.Errorf("body = %s", rec.Body)
				}
			},
		},
		{
			name: "raw source: type from a JSON field, reduced to a token",
			req: request{path: "/webhooks/hubspot", contentType: "application/json",
				body: `{"subscriptionType":"contact.creation","objectId":123}`},
			wantStatus: http.StatusAccepted, wantStream: "RAW", wantSubject: "gtm.raw.hubspot.contact_creation",
		},
		{
			name: "raw source: HubSpot's array of events takes the type its events share",
			req: request{path: "/webhooks/hubspot", contentType: "application/json",
				body: `[{"eventId":1,"subscriptionType":"contact.creation","objectId":123},` +
					`{"eventId":2,"subscriptionType":"contact.creation","objectId":124}]`},
			wantStatus: http.StatusAccepted, wantStream: "RAW", wantSubject: "gtm.raw.hubspot.contact_creation",
		},
		{
			name: "raw source: an array of events of different types is of type event",
			req: request{path: "/webhooks/hubspot", contentType: "application/json",
				body: `[{"eventId":3,"subscriptionType":"contact.creation"},{"eventId":4,"subscriptionType":"deal.creation"}]`},
			wantStatus: http.StatusAccepted, wantStream: "RAW", wantSubject: "gtm.raw.hubspot.event",
		},
		{
			name:       "raw source: a body that is not JSON is kept as base64, type defaults to event",
			req:        request{path: "/webhooks/hubspot", contentType: "application/x-www-form-urlencoded", body: "ping\x00\xff"},
			wantStatus: http.StatusAccepted, wantStream: "RAW", wantSubject: "gtm.raw.hubspot.event",
			check: func(t *testing.T, ev event.Event) {
				var rec contracts.WebhookReceived
				if err := json.Unmarshal(ev.Data(), &rec); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(rec.BodyBase64, []byte("ping\x00\xff")) || rec.Body != nil {
					t.Errorf("body %q body_base64 %q", rec.Body, rec.BodyBase64)
				}
			},
		},
		{
			name: "created_at as a date, from a form",
			req: request{path: "/webhooks/form", contentType: "application/x-www-form-urlencoded",
				body: "email=ada%40example.com&created_at=2026-02-26"},
			wantStatus: http.StatusAccepted, wantStream: "LEADS", wantSubject: "gtm.leads.captured.form",
			check: func(t *testing.T, ev event.Event) {
				if lead := leadOf(t, ev); lead.CreatedAt == nil || !lead.CreatedAt.Equal(time.Date(2026, 2, 26, 0, 0, 0, 0, time.UTC)) {
					t.Errorf("created_at = %v, want 2026-02-26T00:00:00Z", lead.CreatedAt)
				}
			},
		},
		{
			name: "created_at as Unix milliseconds",
			req: request{path: "/webhooks/form", contentType: "application/json",
				body: `{"email":"ada@example.com","created_at":1700000000000}`},
			wantStatus: http.StatusAccepted, wantStream: "LEADS", wantSubject: "gtm.leads.captured.form",
			check: func(t *testing.T, ev event.Event) {
				if lead := leadOf(t, ev); lead.CreatedAt == nil || !lead.CreatedAt.Equal(time.UnixMilli(1700000000000)) {
					t.Errorf("created_at = %v, want 2023-11-14T22:13:20Z", lead.CreatedAt)
				}
			},
		},
		{
			name: "latin-1 form is stored in UTF-8",
			req: request{path: "/webhooks/form", contentType: "application/x-www-form-urlencoded; charset=ISO-8859-1",
				body: "email=jorg%40example.com&first_name=J%F6rg&city=K%F6ln"},
			wantStatus: http.StatusAccepted, wantStream: "LEADS", wantSubject: "gtm.leads.captured.form",
			check: func(t *testing.T, ev event.Event) {
				lead := leadOf(t, ev)
				if lead.FirstName != "Jörg" || lead.Attributes["city"] != "Köln" {
					t.Errorf("first_name %q city %q", lead.FirstName, lead.Attributes["city"])
				}
			},
		},
		{
			name:       "form in an unknown charset",
			req:        request{path: "/webhooks/form", contentType: "application/x-www-form-urlencoded; charset=klingon", body: "email=a%40b.co"},
			wantStatus: http.StatusUnsupportedMediaType, wantError: `charset "klingon"`,
		},
		{
			name:       "form not in UTF-8 without a charset names the field",
			req:        request{path: "/webhooks/form", contentType: "application/x-www-form-urlencoded", body: "email=a%40b.co&first_name=J%F6rg"},
			wantStatus: http.StatusBadRequest, wantError: `field "first_name" is not valid UTF-8`,
		},
		{
			name:       "JSON in a charset other than UTF-8",
			req:        request{path: "/webhooks/form", contentType: "application/json; charset=ISO-8859-1", body: `{"email":"a@b.co"}`},
			wantStatus: http.StatusUnsupportedMediaType, wantError: "JSON is UTF-8",
		},
		{
			name:       "missing email",
			req:        request{path: "/webhooks/form", contentType: "application/json", body: `{"first_name":"Ada"}`},
			wantStatus: http.StatusUnprocessableEntity, wantError: "contract", wantFields: []string{"/email"},
		},
		{
			name: "every problem at once",
			req: request{path: "/webhooks/form", contentType: "application/json",
				body: `{"email":"not-an-email","signal_score":"very","fit_score":250,"created_at":"soon"}`},
			wantStatus: http.StatusUnprocessableEntity, wantError: "contract",
			wantFields: []string{"/created_at", "/email", "/fit_score", "/signal_score"},
		},
		{
			name: "a number beyond a float64, a time beyond year 9999 in UTC",
			req: request{path: "/webhooks/form", contentType: "application/json",
				body: `{"email":"ada@example.com","budget":1e400,"created_at":"9999-12-31T23:59:59-01:00"}`},
			wantStatus: http.StatusUnprocessableEntity, wantError: "contract",
			wantFields: []string{"/attributes/budget", "/created_at"},
		},
		{
			name: "clay without the mapped email field names the sender's field",
			req: request{path: "/webhooks/clay", contentType: "application/json",
				header: map[string]string{"X-Webhook-Secret": "old-secret"}, body: `{"Work Email":"nope"}`},
			wantStatus: http.StatusUnprocessableEntity, wantError: "contract", wantFields: []string{"/email"},
			wantInMsg: `from field "Work Email"`,
		},
		{
			name: "clay row event as the seed sends it",
			req: request{path: "/webhooks/clay", contentType: "application/json",
				header: map[string]string{"X-Webhook-Secret": "new-secret"},
				body: `{"event":"row_updated","table_id":"t_abc","row_data":{"email":"ada@example.com",` +
					`"company_name":"Example Inc","enrichment_data":{"employees":40}}}`},
			wantStatus: http.StatusAccepted, wantStream: "LEADS", wantSubject: "gtm.leads.captured.clay",
			check: func(t *testing.T, ev event.Event) {
				lead := leadOf(t, ev)
				if lead.Email != "ada@example.com" || lead.Company != "Example Inc" {
					t.Errorf("lead = %+v", lead)
				}
				if lead.Attributes["event"] != "row_updated" || lead.Attributes["table_id"] != "t_abc" ||
					lead.Attributes["enrichment_data"] == nil {
					t.Errorf("attributes = %v", lead.Attributes)
				}
			},
		},
		{
			name:       "body too big",
			req:        request{path: "/webhooks/tiny", contentType: "application/json", body: `{"email":"` + strings.Repeat("a", 80) + `@example.com"}`},
			wantStatus: http.StatusRequestEntityTooLarge, wantError: "64 bytes",
		},
		{
			name:       "unknown source",
			req:        request{path: "/webhooks/typeform", contentType: "application/json", body: exampleLead},
			wantStatus: http.StatusNotFound, wantError: `unknown source "typeform"`,
		},
		{
			name:       "malformed JSON",
			req:        request{path: "/webhooks/form", contentType: "application/json", body: `{"email":`},
			wantStatus: http.StatusBadRequest, wantError: "not JSON",
		},
		{
			name:       "JSON that is not an object",
			req:        request{path: "/webhooks/form", contentType: "application/json", body: `[1,2]`},
			wantStatus: http.StatusBadRequest, wantError: "JSON object",
		},
		{
			name:       "unsupported media type",
			req:        request{path: "/webhooks/form", contentType: "application/xml", body: `<lead/>`},
			wantStatus: http.StatusUnsupportedMediaType, wantError: "application/xml",
		},
		{
			name:       "raw source: unsupported media type",
			req:        request{path: "/webhooks/hubspot", contentType: "text/plain", body: "ping"},
			wantStatus: http.StatusUnsupportedMediaType, wantError: "text/plain",
		},
		{
			name:       "GET is not allowed",
			req:        request{method: http.MethodGet, path: "/webhooks/form"},
			wantStatus: http.StatusMethodNotAllowed, wantError: "use POST",
		},
		{
			name:       "PUT /events is not allowed",
			req:        request{method: http.MethodPut, path: "/events", body: "{}"},
			wantStatus: http.StatusMethodNotAllowed, wantError: "use POST",
		},
		{
			name:       "unknown path",
			req:        request{path: "/hooks/form", body: "{}"},
			wantStatus: http.StatusNotFound, wantError: "no such endpoint",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := eventstest.RunServer(t)
			h := newTestHandler(t, srv, testConfig())
			rec := tt.req.do(t, h)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			a := readAnswer(t, rec)
			if tt.wantStatus != http.StatusAccepted {
				if !strings.Contains(a.Error, tt.wantError) {
					t.Errorf("error %q does not contain %q", a.Error, tt.wantError)
				}
				var ptrs []string
				for _, f := range a.Fields {
					ptrs = append(ptrs, f.Pointer)
					if f.Message == "" {
						t.Errorf("field %s without a message", f.Pointer)
					}
				}
				if tt.wantInMsg != "" && !slices.ContainsFunc(a.Fields, func(f fieldAnswer) bool { return strings.Contains(f.Message, tt.wantInMsg) }) {
					t.Errorf("no field message contains %q: %s", tt.wantInMsg, rec.Body)
				}
				if !slices.Equal(ptrs, tt.wantFields) {
					t.Errorf("field pointers = %v, want %v (%s)", ptrs, tt.wantFields, rec.Body)
				}
				if tt.wantStatus == http.StatusMethodNotAllowed && rec.Header().Get("Allow") != http.MethodPost {
					t.Errorf("Allow = %q", rec.Header().Get("Allow"))
				}
				for _, stream := range []string{"LEADS", "RAW", "QUARANTINE"} {
					if n := srv.Count(t, stream, ">"); n != 0 {
						t.Errorf("%d messages in %s after a %d", n, stream, rec.Code)
					}
				}
				return
			}
			if a.ID == "" || a.Subject != tt.wantSubject || a.Duplicate {
				t.Fatalf("answer = %+v, want a new id on %s", a, tt.wantSubject)
			}
			ev, _ := awaitEvent(t, srv, tt.wantStream, tt.wantSubject)
			if ev.ID() != a.ID {
				t.Errorf("event id %q, answered %q", ev.ID(), a.ID)
			}
			wantType := contracts.TypeLeadCaptured
			if tt.wantStream == "RAW" {
				wantType = contracts.TypeWebhookReceived
			}
			if ev.Type() != wantType {
				t.Errorf("type = %q, want %q", ev.Type(), wantType)
			}
			if ev.DataContentType() != event.ApplicationJSON || ev.Time().IsZero() {
				t.Errorf("datacontenttype %q time %v", ev.DataContentType(), ev.Time())
			}
			if err := contracts.Validate(ev.Type(), ev.Data()); err != nil {
				t.Errorf("published data does not validate: %v", err)
			}
			if tt.check != nil {
				tt.check(t, ev)
			}
		})
	}
}

// TestWebhookQuarantine: a request that fails verification is kept whole
// for a later replay, and shown redacted: the header carrying the source's
// secret whatever its name, and credentials in the query.
func TestWebhookQuarantine(t *testing.T) {
	body := `{"Work Email":"ada@example.com","First Name":"Ada"}`
	tests := []struct {
		name, source, uri string
		header            map[string]string
		wantReason        string
		wantSecret        []string // SecretHeaders
		wantRedactedURI   string
	}{
		{"wrong secret", "clay", "/webhooks/clay?run=7", map[string]string{"X-Webhook-Secret": "guess", "X-Trace": "t-1"},
			"does not match", []string{"X-Webhook-Secret"}, "/webhooks/clay?run=7"},
		{"missing secret", "clay", "/webhooks/clay?run=7", map[string]string{"X-Trace": "t-1"},
			"no X-Webhook-Secret header", []string{"X-Webhook-Secret"}, "/webhooks/clay?run=7"},
		{"a secret header of any name, a key in the query", "partner", "/webhooks/partner?api_key=k-123&run=7",
			map[string]string{"X-Partner-Key": "guess-777", "X-Trace": "t-1"},
			"does not match", []string{"X-Partner-Key"}, "/webhooks/partner?api_key=[REDACTED]&run=7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := eventstest.RunServer(t)
			cfg := testConfig()
			cfg.Sources = append(cfg.Sources, Source{Name: "partner", Scheme: "shared-secret", Header: "X-Partner-Key",
				Secrets: []Secret{{Value: "partner-secret"}}})
			h := newTestHandler(t, srv, cfg)
			rec := request{path: tt.uri, contentType: "application/json", header: tt.header, body: body}.do(t, h)
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401; body %s", rec.Code, rec.Body)
			}
			a := readAnswer(t, rec)
			if !strings.Contains(a.Error, tt.wantReason) {
				t.Errorf("error = %q, want %q", a.Error, tt.wantReason)
			}
			secrets := []string{"old-secret", "new-secret", "partner-secret"}
			for _, name := range tt.wantSecret {
				if v := tt.header[name]; v != "" {
					secrets = append(secrets, v)
				}
			}
			for _, secret := range secrets {
				if strings.Contains(a.Error, secret) {
					t.Errorf("error = %q: it shows %q", a.Error, secret)
				}
			}
			if n := srv.Count(t, "LEADS", ">"); n != 0 {
				t.Fatalf("%d leads published for an unverified request", n)
			}
			msgs := srv.Await(t, "QUARANTINE", "gtm.quarantine."+tt.source, 1, 5*time.Second)
			q, err := ParseQuarantined(msgs[0].Headers(), msgs[0].Data())
			if err != nil {
				t.Fatal(err)
			}
			if string(q.Body) != body {
				t.Errorf("quarantined body = %q, want %q", q.Body, body)
			}
			if q.Source != tt.source || q.Method != http.MethodPost || q.RequestURI != tt.uri ||
				q.Received.IsZero() || q.ID == "" || q.Host == "" || !slices.Equal(q.SecretHeaders, tt.wantSecret) {
				t.Errorf("quarantined = %+v", q)
			}
			if !strings.Contains(q.Reason, tt.wantReason) {
				t.Errorf("reason = %q, want %q", q.Reason, tt.wantReason)
			}
			if got := q.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("quarantined Content-Type = %q", got)
			}

			shown := q.Redacted()
			if shown.RequestURI != tt.wantRedactedURI {
				t.Errorf("redacted URI = %q, want %q", shown.RequestURI, tt.wantRedactedURI)
			}
			for k, v := range tt.header {
				if got := q.Header.Get(k); got != v {
					t.Errorf("quarantined header %s = %q, want %q (kept intact)", k, got, v)
				}
				want := v
				if slices.Contains(tt.wantSecret, k) {
					want = "[REDACTED]"
				}
				if got := shown.Header.Get(k); got != want {
					t.Errorf("redacted header %s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestWebhookIdempotencyKey(t *testing.T) {
	srv := eventstest.RunServer(t)
	h := newTestHandler(t, srv, testConfig())
	req := request{path: "/webhooks/form", contentType: "application/json", body: exampleLead,
		header: map[string]string{"Idempotency-Key": "delivery-42"}}

	first := readAnswer(t, req.do(t, h))
	second := readAnswer(t, req.do(t, h))
	if first.ID == "" || first.ID != second.ID {
		t.Fatalf("ids %q and %q, want the same", first.ID, second.ID)
	}
	if first.ID != DeliveryEventID("form", "delivery-42") {
		t.Errorf("id %q is not derived from the delivery id", first.ID)
	}
	if first.Duplicate || !second.Duplicate {
		t.Fatalf("duplicate = %v then %v, want false then true", first.Duplicate, second.Duplicate)
	}
	if n := srv.Count(t, "LEADS", "gtm.leads.captured.form"); n != 1 {
		t.Fatalf("%d events stored, want 1", n)
	}

	// The same key from another source, or another key, is another delivery.
	other := readAnswer(t, request{path: "/webhooks/form", contentType: "application/json", body: exampleLead,
		header: map[string]string{"Webhook-Id": "delivery-43"}}.do(t, h))
	if other.Duplicate || other.ID == first.ID {
		t.Fatalf("another delivery id gave %+v", other)
	}
	if DeliveryEventID("clay", "delivery-42") == first.ID {
		t.Fatal("delivery ids of two sources collide")
	}
	// Without a delivery id, the id is a hash of the source and body: the
	// same body again is a retry, another body another event.
	a := readAnswer(t, request{path: "/webhooks/form", contentType: "application/json", body: exampleLead}.do(t, h))
	b := readAnswer(t, request{path: "/webhooks/form", contentType: "application/json", body: exampleLead}.do(t, h))
	c := readAnswer(t, request{path: "/webhooks/form", contentType: "application/json", body: `{"email":"grace@example.com"}`}.do(t, h))
	if a.ID != b.ID || a.ID != ContentEventID("form", []byte(exampleLead)) || a.Duplicate || !b.Duplicate {
		t.Fatalf("the same body twice without a delivery id: %+v %+v", a, b)
	}
	if c.ID == a.ID || c.Duplicate {
		t.Fatalf("another body: %+v", c)
	}
	if n := srv.Count(t, "LEADS", "gtm.leads.captured.form"); n != 4 {
		t.Fatalf("%d events stored, want 4", n)
	}
}

func TestWebhookStoreUnavailable(t *testing.T) {
	tests := []struct {
		name    string
		breakIt func(t *testing.T, srv *eventstest.Server)
	}{
		{"stream missing", func(t *testing.T, srv *eventstest.Server) {
			if err := srv.JS.DeleteStream(t.Context(), "LEADS"); err != nil {
				t.Fatal(err)
			}
		}},
		{"server stopped", func(t *testing.T, srv *eventstest.Server) {
			srv.Shutdown()
			srv.WaitForShutdown()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := eventstest.RunServer(t)
			cfg := testConfig()
			cfg.PublishTimeout = 300 * time.Millisecond
			h := newTestHandler(t, srv, cfg)
			tt.breakIt(t, srv)
			rec := request{path: "/webhooks/form", contentType: "application/json", body: exampleLead}.do(t, h)
			if rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("status = %d, want 503; body %s", rec.Code, rec.Body)
			}
			if ra := rec.Header().Get("Retry-After"); ra == "" {
				t.Error("no Retry-After")
			}
			if a := readAnswer(t, rec); !strings.Contains(a.Error, "retry") {
				t.Errorf("error = %q", a.Error)
			}
		})
	}
}

func TestWebhookInFlightLimit(t *testing.T) {
	pub := newBlockingPublisher()
	cfg := testConfig()
	cfg.MaxInFlight = 2
	h, err := NewHandler(cfg, pub, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 2)
	for range 2 {
		go func() {
			done <- request{path: "/webhooks/form", contentType: "application/json", body: exampleLead}.do(t, h).Code
		}()
	}
	for range 2 {
		<-pub.started
	}
	rec := request{path: "/webhooks/form", contentType: "application/json", body: exampleLead}.do(t, h)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("third request: status %d Retry-After %q, want 503 and 1", rec.Code, rec.Header().Get("Retry-After"))
	}
	close(pub.release)
	for range 2 {
		if code := <-done; code != http.StatusAccepted {
			t.Fatalf("held request answered %d, want 202", code)
		}
	}
	if rec := (request{path: "/webhooks/form", contentType: "application/json", body: exampleLead}).do(t, h); rec.Code != http.StatusAccepted {
		t.Fatalf("after the slots freed: status %d", rec.Code)
	}
}

func TestWebhookRateLimit(t *testing.T) {
	srv := eventstest.RunServer(t)
	cfg := testConfig()
	cfg.Sources[0].RateLimit = 0.001 // the form source: one request, then a long wait
	cfg.Sources[0].Burst = 1
	h := newTestHandler(t, srv, cfg)
	req := request{path: "/webhooks/form", contentType: "application/json", body: exampleLead}
	if rec := req.do(t, h); rec.Code != http.StatusAccepted {
		t.Fatalf("first request: %d %s", rec.Code, rec.Body)
	}
	rec := req.do(t, h)
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("second request: %d, want 429", rec.Code)
	}
	if ra := rec.Header().Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After = %q", ra)
	}
	readAnswer(t, rec)
	// Other sources have their own limits.
	if rec := (request{path: "/webhooks/hubspot", contentType: "application/json", body: `{}`}).do(t, h); rec.Code != http.StatusAccepted {
		t.Fatalf("another source: %d %s", rec.Code, rec.Body)
	}
}

func TestWebhookDisabledSource(t *testing.T) {
	t.Setenv("CLAY_WEBHOOK_SECRET", "")
	srv := eventstest.RunServer(t)
	h := newTestHandler(t, srv, DefaultConfig())
	rec := request{path: "/webhooks/clay", contentType: "application/json",
		header: map[string]string{"X-Webhook-Secret": "anything"}, body: `{"Work Email":"a@b.co"}`}.do(t, h)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", rec.Code)
	}
	if a := readAnswer(t, rec); !strings.Contains(a.Error, "CLAY_WEBHOOK_SECRET") {
		t.Errorf("error %q does not say what to set", a.Error)
	}

	t.Setenv("CLAY_WEBHOOK_SECRET", "from-env")
	h = newTestHandler(t, srv, DefaultConfig())
	rec = request{path: "/webhooks/clay", contentType: "application/json",
		header: map[string]string{"X-Webhook-Secret": "from-env"}, body: `{"Work Email":"a@b.co"}`}.do(t, h)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("with the secret set: status %d %s", rec.Code, rec.Body)
	}
}

func leadOf(t *testing.T, ev event.Event) contracts.LeadCaptured {
	t.Helper()
	var lead contracts.LeadCaptured
	if err := json.Unmarshal(ev.Data(), &lead); err != nil {
		t.Fatalf("lead data: %v", err)
	}
	return lead
}

func equalJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

func equalJSONText(t *testing.T, got []byte, want string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(got, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &y); err != nil {
		t.Fatal(err)
	}
	return equalJSON(x, y)
}
