package ingest

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
)

const notionToken = "secret_tGQdGh8tP6XYx2dUpFvQ9Rk3"

// TestNotionVerificationRequest sends Notion's unsigned verification request
// to a notion source without a secret, and to one with a secret: both keep
// it in QUARANTINE for the operator to read the token, the first answering
// 200 as Notion expects, and neither logs the token.
func TestNotionVerificationRequest(t *testing.T) {
	t.Setenv("NOTION_SECRET_FOR_TEST", "")
	verification := `{"verification_token":"` + notionToken + `"}`
	tests := []struct {
		name       string
		source     string
		body       string
		wantStatus int
		wantKept   bool
	}{
		{name: "disabled source keeps the verification request", source: "notion-new", body: verification,
			wantStatus: http.StatusOK, wantKept: true},
		{name: "disabled source refuses an event", source: "notion-new",
			body: `{"id":"evt_1","type":"page.created","verification_token":"` + notionToken + `"}`, wantStatus: http.StatusServiceUnavailable},
		{name: "disabled source refuses an empty token", source: "notion-new", body: `{"verification_token":""}`,
			wantStatus: http.StatusServiceUnavailable},
		{name: "disabled source refuses a body that is not JSON", source: "notion-new", body: `verification_token=x`,
			wantStatus: http.StatusServiceUnavailable},
		{name: "configured source quarantines what it cannot verify", source: "notion", body: verification,
			wantStatus: http.StatusUnauthorized, wantKept: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := eventstest.RunServer(t)
			pub, err := events.NewPublisher(srv.JS)
			if err != nil {
				t.Fatal(err)
			}
			cfg := DefaultConfig()
			cfg.Sources = []Source{
				{Name: "notion-new", Scheme: "notion", Kind: KindRaw, Optional: true, Secrets: []Secret{{Env: "NOTION_SECRET_FOR_TEST"}}},
				{Name: "notion", Scheme: "notion", Kind: KindRaw, Secrets: []Secret{{Value: "secret_configured"}}},
			}
			var log bytes.Buffer
			h, err := NewHandler(cfg, pub, slog.New(slog.NewJSONHandler(&log, nil)))
			if err != nil {
				t.Fatal(err)
			}
			rec := request{path: "/webhooks/" + tt.source, contentType: "application/json", body: tt.body}.do(t, h)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			var answer struct {
				Handshake    string `json:"handshake"`
				QuarantineID string `json:"quarantine_id"`
			}
			readAnswer(t, rec)
			if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(log.String(), notionToken) || strings.Contains(rec.Body.String(), notionToken) {
				t.Errorf("the token is in the log or the answer:\n%s\n%s", log.String(), rec.Body)
			}
			if !tt.wantKept {
				if n := srv.Count(t, "QUARANTINE", ">"); n != 0 {
					t.Fatalf("%d requests quarantined, want none", n)
				}
				return
			}
			msgs := srv.Await(t, "QUARANTINE", "gtm.quarantine."+tt.source, 1, 5*time.Second)
			q, err := ParseQuarantined(msgs[0].Headers(), msgs[0].Data())
			if err != nil {
				t.Fatal(err)
			}
			if string(q.Body) != tt.body {
				t.Errorf("quarantined body %q, want %q", q.Body, tt.body)
			}
			if strings.Contains(q.Reason, notionToken) {
				t.Errorf("reason reveals the token: %q", q.Reason)
			}
			if tt.wantStatus == http.StatusOK {
				if answer.Handshake != "verification_token" || answer.QuarantineID != q.ID {
					t.Errorf("answer %s, want the quarantine id %s", rec.Body, q.ID)
				}
				if !strings.Contains(log.String(), `"quarantine_id":"`+q.ID+`"`) {
					t.Errorf("the log line has no quarantine id: %s", log.String())
				}
			}
		})
	}
}
