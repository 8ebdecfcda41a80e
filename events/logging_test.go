package events_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gtmhub/gtmhub/events"
)

// TestLogging: a handler's failure is logged once at warn, with the event
// and the decision; a success only at debug, when debug is on; the event's
// data never.
func TestLogging(t *testing.T) {
	ev := event.New()
	ev.SetID("ev-1")
	ev.SetType("com.gtmhub.lead.captured")
	ev.SetSource("test")
	if err := ev.SetData(event.ApplicationJSON, map[string]string{"email": "ada@example.com"}); err != nil {
		t.Fatal(err)
	}
	ctx := events.WithDelivery(context.Background(), events.Delivery{Consumer: "store", Subject: "gtm.leads.enriched",
		Sequence: 7, Attempt: 2})
	tests := []struct {
		name  string
		level slog.Level
		err   error
		want  []string // substrings of the one line logged; none: nothing logged
	}{
		{"success at info: nothing", slog.LevelInfo, nil, nil},
		{"success at debug", slog.LevelDebug, nil, []string{`"level":"DEBUG"`, `"msg":"handled"`, `"event_id":"ev-1"`, `"seq":7`, `"attempt":2`}},
		{"retry", slog.LevelInfo, errors.New("database busy"),
			[]string{`"level":"WARN"`, `"msg":"handler failed"`, `"decision":"retry"`, `"err":"database busy"`, `"consumer":"store"`}},
		{"dead letter", slog.LevelInfo, events.Permanent(errors.New("no email")), []string{`"decision":"dead_letter"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: tt.level}))
			h := events.Logging(log)(func(context.Context, event.Event) error { return tt.err })
			if err := h(ctx, ev); !errors.Is(err, tt.err) {
				t.Fatalf("handler returned %v, want %v", err, tt.err)
			}
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if tt.want == nil {
				if buf.Len() != 0 {
					t.Fatalf("logged %q, want nothing", buf.String())
				}
				return
			}
			if len(lines) != 1 {
				t.Fatalf("logged %d lines, want one: %q", len(lines), buf.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(lines[0], w) {
					t.Errorf("line %s lacks %s", lines[0], w)
				}
			}
			if strings.Contains(lines[0], "ada@example.com") {
				t.Errorf("the event's data was logged: %s", lines[0])
			}
		})
	}
}
