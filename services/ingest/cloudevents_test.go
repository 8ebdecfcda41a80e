package ingest

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events/eventstest"
)

func TestCloudEvents(t *testing.T) {
	binary := func(id, typ string, extra map[string]string) map[string]string {
		h := map[string]string{"Ce-Specversion": "1.0", "Ce-Id": id, "Ce-Source": "/crm/sync", "Ce-Type": typ}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	tests := []struct {
		name        string
		req         request
		wantStatus  int
		wantSubject string
		wantStream  string
		wantID      string
		wantError   string
		wantFields  []string
	}{
		{
			name: "binary mode lead with a source field",
			req: request{path: "/events", contentType: "application/json",
				header: binary("ev-1", contracts.TypeLeadCaptured, nil),
				body:   `{"email":"ada@example.com","source":"website"}`},
			wantStatus: http.StatusAccepted, wantStream: "LEADS", wantSubject: "gtm.leads.captured.website", wantID: "ev-1",
		},
		{
			name: "binary mode lead, source from the extension",
			req: request{path: "/events", contentType: "application/json",
				header: binary("ev-2", contracts.TypeLeadCaptured, map[string]string{"Ce-Gtmhubsource": "crm"}),
				body:   `{"email":"ada@example.com"}`},
			wantStatus: http.StatusAccepted, wantStream: "LEADS", wantSubject: "gtm.leads.captured.crm", wantID: "ev-2",
		},
		{
			name: "structured mode lead without a source",
			req: request{path: "/events", contentType: "application/cloudevents+json",
				body: `{"specversion":"1.0","id":"ev-3","source":"/crm/sync","type":"com.gtmhub.lead.captured",` +
					`"datacontenttype":"application/json","data":{"email":"ada@example.com","first_name":"Ada"}}`},
			wantStatus: http.StatusAccepted, wantStream: "LEADS", wantSubject: "gtm.leads.captured.sync", wantID: "ev-3",
		},
		{
			name: "structured mode lead whose CloudEvent source has no name",
			req: request{path: "/events", contentType: "application/cloudevents+json",
				body: `{"specversion":"1.0","id":"ev-3b","source":"/crm/sync/--","type":"com.gtmhub.lead.captured",` +
					`"datacontenttype":"application/json","data":{"email":"ada@example.com","first_name":"Ada"}}`},
			wantStatus: http.StatusAccepted, wantStream: "LEADS", wantSubject: "gtm.leads.captured.events", wantID: "ev-3b",
		},
		{
			name: "structured mode webhook.received fills both tokens",
			req: request{path: "/events", contentType: "application/cloudevents+json; charset=utf-8",
				body: `{"specversion":"1.0","id":"ev-4","source":"/relay","type":"com.gtmhub.webhook.received",` +
					`"data":{"source":"gitlab","type":"star","body":{"action":"created"}}}`},
			wantStatus: http.StatusAccepted, wantStream: "RAW", wantSubject: "gtm.raw.gitlab.star", wantID: "ev-4",
		},
		{
			name: "invalid data",
			req: request{path: "/events", contentType: "application/json",
				header: binary("ev-5", contracts.TypeLeadCaptured, nil), body: `{"first_name":"Ada","fit_score":101}`},
			wantStatus: http.StatusUnprocessableEntity, wantError: "contract", wantFields: []string{"/email", "/fit_score"},
		},
		{
			name: "gtmhub type not in the catalog",
			req: request{path: "/events", contentType: "application/json",
				header: binary("ev-6", "com.gtmhub.thing.exploded", nil), body: `{}`},
			wantStatus: http.StatusUnprocessableEntity, wantError: "unknown event type",
		},
		{
			name:       "not a CloudEvent",
			req:        request{path: "/events", contentType: "application/json", body: `{"email":"ada@example.com"}`},
			wantStatus: http.StatusBadRequest, wantError: "not a CloudEvent",
		},
		{
			name: "binary mode without an id",
			req: request{path: "/events", contentType: "application/json",
				header: binary("", contracts.TypeLeadCaptured, nil), body: `{"email":"ada@example.com"}`},
			wantStatus: http.StatusBadRequest, wantError: "invalid CloudEvent",
		},
		{
			name: "binary mode, a header that is not percent-encoded",
			req: request{path: "/events", contentType: "application/json",
				header: binary("ev-9", contracts.TypeLeadCaptured, map[string]string{"Ce-Subject": "50%"}), body: `{"email":"ada@example.com"}`},
			wantStatus: http.StatusBadRequest, wantError: "Ce-Subject is not percent-encoded UTF-8",
		},
		{
			name: "binary mode, a header that decodes to invalid UTF-8",
			req: request{path: "/events", contentType: "application/json",
				header: binary("ev-10", contracts.TypeLeadCaptured, map[string]string{"Ce-Tenant": "caf%C3%28"}), body: `{"email":"ada@example.com"}`},
			wantStatus: http.StatusBadRequest, wantError: "Ce-Tenant is not percent-encoded UTF-8",
		},
		{
			name:       "malformed structured event",
			req:        request{path: "/events", contentType: "application/cloudevents+json", body: `{"specversion":"1.0",`},
			wantStatus: http.StatusBadRequest, wantError: "invalid CloudEvent",
		},
		{
			name: "data that is not JSON",
			req: request{path: "/events", contentType: "text/plain",
				header: binary("ev-7", contracts.TypeLeadCaptured, nil), body: `email=a@b.co`},
			wantStatus: http.StatusUnsupportedMediaType, wantError: "must be JSON",
		},
		{
			name: "body too big",
			req: request{path: "/events", contentType: "application/json",
				header: binary("ev-8", contracts.TypeLeadCaptured, nil), body: `{"email":"a@b.co","attributes":{"x":"` + strings.Repeat("x", 2000) + `"}}`},
			wantStatus: http.StatusRequestEntityTooLarge, wantError: "1024 bytes",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := eventstest.RunServer(t)
			cfg := testConfig()
			cfg.MaxEventBody = 1024
			h := newTestHandler(t, srv, cfg)
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
				}
				if !slices.Equal(ptrs, tt.wantFields) {
					t.Errorf("pointers = %v, want %v", ptrs, tt.wantFields)
				}
				for _, stream := range []string{"LEADS", "RAW"} {
					if n := srv.Count(t, stream, ">"); n != 0 {
						t.Errorf("%d messages in %s after a %d", n, stream, rec.Code)
					}
				}
				return
			}
			if a.ID != tt.wantID || a.Subject != tt.wantSubject || a.Duplicate {
				t.Fatalf("answer = %+v, want id %s on %s", a, tt.wantID, tt.wantSubject)
			}
			ev, _ := awaitEvent(t, srv, tt.wantStream, tt.wantSubject)
			if ev.ID() != tt.wantID || !strings.HasPrefix(ev.Source(), "/crm/sync") && ev.Source() != "/relay" {
				t.Errorf("event id %q source %q: want the sender's", ev.ID(), ev.Source())
			}
			if err := contracts.Validate(ev.Type(), ev.Data()); err != nil {
				t.Errorf("published data does not validate: %v", err)
			}

			// The same event again is stored once.
			again := readAnswer(t, tt.req.do(t, h))
			if again.ID != tt.wantID || !again.Duplicate {
				t.Errorf("second post: %+v, want a duplicate", again)
			}
			if n := srv.Count(t, tt.wantStream, tt.wantSubject); n != 1 {
				t.Errorf("%d events stored, want 1", n)
			}
		})
	}
}
