package main

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/services/ingest"
)

// TestQuarantineReplayExitStatus: `quarantine replay` fails when a request
// verifies but cannot be published (its source is no longer configured), and
// succeeds when every request is published or still unverified.
func TestQuarantineReplayExitStatus(t *testing.T) {
	tests := []struct {
		source      string
		wantOutcome string
		wantErr     string
	}{
		{"form", ingest.ReplayPublished, ""},
		{"partner", ingest.ReplayFailed, "1 of 1 requests verify but could not be published"},
	}
	for _, tt := range tests {
		t.Run(tt.source, func(t *testing.T) {
			srv := eventstest.RunServer(t)
			r := httptest.NewRequest("POST", "/webhooks/"+tt.source, strings.NewReader(`{"email":"ada@example.com"}`))
			r.Header.Set("Content-Type", "application/json")
			msg := ingest.QuarantineMsg(tt.source, r, []byte(`{"email":"ada@example.com"}`), "no secret configured yet", time.Now())
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := srv.JS.PublishMsg(ctx, msg); err != nil {
				t.Fatal(err)
			}
			out, err := gtmhub(t, srv, "", "quarantine", "replay")
			if !strings.Contains(out, tt.wantOutcome) {
				t.Errorf("output %q, want the outcome %s", out, tt.wantOutcome)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("quarantine replay: %v, want success", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("quarantine replay: %v, want an error saying %q", err, tt.wantErr)
			}
			if n := srv.Count(t, events.StreamQuarantine, ">"); (n == 0) != (tt.wantErr == "") {
				t.Errorf("%d left in quarantine", n)
			}
		})
	}
}
