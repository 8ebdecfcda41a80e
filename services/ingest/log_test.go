package ingest

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
)

// TestRequestLog checks the one line logged per request: source, status,
// event id and duration, and never the body, an email address or a secret.
func TestRequestLog(t *testing.T) {
	srv := eventstest.RunServer(t)
	pub, err := events.NewPublisher(srv.JS)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	h, err := NewHandler(testConfig(), pub, slog.New(slog.NewJSONHandler(&buf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	requests := []request{
		{path: "/webhooks/form", contentType: "application/json", body: exampleLead},
		{path: "/webhooks/form", contentType: "application/json", body: `{"email":"ada@@example.com","first_name":"Ada"}`},
		{path: "/webhooks/clay", contentType: "application/json", header: map[string]string{"X-Webhook-Secret": "old-secreT"},
			body: `{"Work Email":"ada@example.com"}`},
		{path: "/webhooks/form?token=sekrit", contentType: "application/x-www-form-urlencoded", body: "email=ada%40example.com"},
		{path: "/events", contentType: "application/cloudevents+json", body: `{"specversion":"1.0","id":"x","data":{"email":"ada@example.com"`},
	}
	var wantStatus []int
	for _, r := range requests {
		wantStatus = append(wantStatus, r.do(t, h).Code)
	}

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != len(requests) {
		t.Fatalf("%d log lines for %d requests:\n%s", len(lines), len(requests), buf.String())
	}
	for i, line := range lines {
		for _, secret := range []string{"ada@", "Ada@", "Lovelace", "old-secre", "sekrit"} {
			if strings.Contains(line, secret) {
				t.Errorf("log line %d reveals %q: %s", i, secret, line)
			}
		}
		var rec struct {
			Level    string  `json:"level"`
			Msg      string  `json:"msg"`
			Status   int     `json:"status"`
			Source   string  `json:"source"`
			EventID  string  `json:"event_id"`
			QuarID   string  `json:"quarantine_id"`
			Duration float64 `json:"duration"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Level != "INFO" || rec.Msg != "request" || rec.Status != wantStatus[i] || rec.Duration <= 0 {
			t.Errorf("log line %d: %+v (status %d)", i, rec, wantStatus[i])
		}
		if strings.HasPrefix(requests[i].path, "/webhooks/") && rec.Source == "" {
			t.Errorf("log line %d has no source: %s", i, line)
		}
		if rec.Status == 202 && rec.EventID == "" || rec.Status == 401 && rec.QuarID == "" {
			t.Errorf("log line %d has no event or quarantine id: %s", i, line)
		}
	}
}

func TestPanicIsAJSONError(t *testing.T) {
	var buf bytes.Buffer
	h := &handler{log: slog.New(slog.NewJSONHandler(&buf, nil))}
	rec := request{path: "/boom"}.do(t, h.endpoint(func(http.ResponseWriter, *http.Request) (accepted, error) {
		panic("boom")
	}))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d", rec.Code)
	}
	if a := readAnswer(t, rec); a.Error != "internal error" {
		t.Errorf("error = %q", a.Error)
	}
	if !strings.Contains(buf.String(), `"level":"ERROR"`) || !strings.Contains(buf.String(), "panic: boom") {
		t.Errorf("log: %s", buf.String())
	}
}
