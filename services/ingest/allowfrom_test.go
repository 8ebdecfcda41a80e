package ingest

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
)

// TestWebhookAllowFrom: a source with allow_from takes requests from its
// addresses and networks only, answering any other peer 403 with a JSON
// error and publishing nothing.
func TestWebhookAllowFrom(t *testing.T) {
	srv := eventstest.RunServer(t)
	cfg := testConfig()
	cfg.Sources[0].AllowFrom = []string{"192.0.2.0/24", "198.51.100.7", "2001:db8::/32"}
	h := newTestHandler(t, srv, cfg)
	tests := []struct {
		peer string
		want int
	}{
		{"192.0.2.55:40000", http.StatusAccepted},
		{"198.51.100.7:40000", http.StatusAccepted},
		{"[2001:db8::9]:40000", http.StatusAccepted},
		{"[::ffff:192.0.2.9]:40000", http.StatusAccepted}, // IPv4 over an IPv6 socket
		{"198.51.100.8:40000", http.StatusForbidden},
		{"[2001:db9::1]:40000", http.StatusForbidden},
		{"not-an-address", http.StatusForbidden},
	}
	accepted := 0
	for i, tt := range tests {
		t.Run(tt.peer, func(t *testing.T) {
			body := strings.Replace(exampleLead, "@", "+"+string(rune('a'+i))+"@", 1)
			rec := request{path: "/webhooks/form", contentType: "application/json", body: body, remoteAddr: tt.peer}.do(t, h)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.want, rec.Body)
			}
			if a := readAnswer(t, rec); tt.want == http.StatusForbidden && !strings.Contains(a.Error, "allow_from") {
				t.Errorf("error %q does not name allow_from", a.Error)
			}
			if rec.Code == http.StatusAccepted {
				accepted++
			}
		})
	}
	srv.Await(t, events.StreamLeads, "gtm.leads.captured.form", accepted, 5*time.Second)
	if n := srv.Count(t, events.StreamLeads, "gtm.leads.captured.form"); n != uint64(accepted) {
		t.Errorf("%d leads stored, want the %d accepted", n, accepted)
	}
}

func TestParseAllowListRefusesNonsense(t *testing.T) {
	for _, e := range []string{"", "192.0.2.0/33", "example.com", "10.0.0.1-10.0.0.9"} {
		if _, err := parseAllowList([]string{e}); err == nil {
			t.Errorf("%q accepted", e)
		}
	}
}
