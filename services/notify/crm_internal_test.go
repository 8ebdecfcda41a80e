package notify

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
)

func TestEchoReason(t *testing.T) {
	at := time.Date(2025, 11, 20, 9, 0, 0, 0, time.UTC)
	prov := func(src string) contracts.Provenance { return contracts.Provenance{Source: src, EventID: "e", At: at} }
	held := func(f string) bool { _, ok := DefaultAirtableFields()[f]; return ok }
	tests := []struct {
		name    string
		changes []string
		prov    map[string]contracts.Provenance
		skip    string // the start of the reason; "" means write
	}{
		{"from elsewhere", []string{"first_name"}, map[string]contracts.Provenance{"first_name": prov("form")}, ""},
		{"from the destination", []string{"first_name", "status"},
			map[string]contracts.Provenance{"first_name": prov("airtable"), "status": prov("airtable")}, "every changed field came from airtable"},
		{"partly from the destination", []string{"first_name", "status"},
			map[string]contracts.Provenance{"first_name": prov("airtable"), "status": prov("hubspot")}, ""},
		{"nothing the destination holds", []string{"title", "signal_score"},
			map[string]contracts.Provenance{"title": prov("form"), "signal_score": prov("enrich")}, "no field written to airtable changed"},
		{"only the source: an echo", []string{"source"}, map[string]contracts.Provenance{"source": prov("hubspot")}, "no field written to airtable changed"},
		{"created from the destination", []string{"email", "created_at", "first_name"},
			map[string]contracts.Provenance{"email": prov("airtable"), "first_name": prov("airtable")}, "every changed field came from airtable"},
		{"created_at follows the email", []string{"created_at"}, map[string]contracts.Provenance{"email": prov("form")}, ""},
		{"no provenance at all", []string{"first_name"}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := contracts.ContactChanged{Provenance: tt.prov}
			for _, f := range tt.changes {
				c.Changes = append(c.Changes, contracts.FieldChange{Field: f, New: "x"})
			}
			got := echoReason("airtable", c, held, []string{"airtable"})
			if (tt.skip == "") != (got == "") || len(got) < len(tt.skip) || got[:len(tt.skip)] != tt.skip {
				t.Errorf("echoReason = %q, want %q", got, tt.skip)
			}
		})
	}
}

func TestHubSpotProperties(t *testing.T) {
	cfg := HubSpot{Properties: map[string]string{"signal_score": "gtmhub_signal_score", "phone": ""},
		Statuses: map[string]string{"qualified": "CONNECTED"}}
	s := NewHubSpotSender(cfg, nil)
	score := 91.5
	for _, tt := range []struct {
		status string
		want   map[string]string
	}{
		{"New", map[string]string{"email": "ada@example.com", "firstname": "Ada", "hs_lead_status": "NEW", "gtmhub_signal_score": "91.5"}},
		{"qualified", map[string]string{"email": "ada@example.com", "firstname": "Ada", "hs_lead_status": "CONNECTED", "gtmhub_signal_score": "91.5"}},
		{"Bad timing", map[string]string{"email": "ada@example.com", "firstname": "Ada", "hs_lead_status": "BAD_TIMING", "gtmhub_signal_score": "91.5"}},
		{"churned", map[string]string{"email": "ada@example.com", "firstname": "Ada", "gtmhub_signal_score": "91.5"}},
	} {
		c := contracts.Contact{Lead: contracts.Lead{Email: "ada@example.com", FirstName: "Ada", Phone: "+44", Status: tt.status, SignalScore: &score}}
		got := s.contactProperties(contactValues(c))
		if len(got) != len(tt.want) {
			t.Errorf("status %q: properties %v, want %v", tt.status, got, tt.want)
			continue
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("status %q: %s = %q, want %q", tt.status, k, got[k], v)
			}
		}
	}
}

// TestHubSpotUpsertAnsweredInPart: a batch upsert HubSpot answers 207 with
// errors refuses the contacts it lists for good, with HubSpot's reason and
// no address in it, rather than leaving them without an id to retry.
func TestHubSpotUpsertAnsweredInPart(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusMultiStatus)
		_, _ = io.WriteString(w, `{"status":"COMPLETE","results":[],"numErrors":1,"errors":[{"status":"error",`+
			`"category":"VALIDATION_ERROR","message":"Property values were not valid: bad@example.com"}]}`)
	}))
	defer api.Close()
	cfg := HubSpot{Token: "pat-secret", BaseURL: api.URL}
	s := NewHubSpotSender(cfg, NewHubSpotClient(cfg, nil))
	_, err := s.upserts.do(context.Background(), HubSpotContact{Email: "bad@example.com",
		Properties: map[string]string{"email": "bad@example.com"}})
	var e *APIError
	if !events.IsPermanent(err) || !errors.As(err, &e) || e.Status != http.StatusMultiStatus || e.Code != "VALIDATION_ERROR" {
		t.Fatalf("err = %v, want a permanent 207 VALIDATION_ERROR", err)
	}
	if strings.Contains(err.Error(), "bad@example.com") || !strings.Contains(err.Error(), "Property values were not valid") {
		t.Errorf("err = %v, want HubSpot's reason without the address", err)
	}
}
