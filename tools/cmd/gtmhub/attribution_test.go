package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/services/store"
)

// runStore runs the store service on SQLite against srv until the test
// ends.
func runStore(t *testing.T, srv *eventstest.Server) {
	t.Helper()
	cfg := store.Config{DataDir: t.TempDir()}
	eventstest.Go(t, func(ctx context.Context) error {
		return store.Run(ctx, cfg, service.Deps{Conn: srv.Conn, Logger: slog.New(slog.DiscardHandler), Health: service.NewHealth()})
	})
}

// leadTouch is an enriched lead of email from source at the given time.
func leadTouch(t *testing.T, email, source string, at time.Time) event.Event {
	t.Helper()
	ev := eventstest.NewEvent(t, contracts.TypeLeadEnriched, contracts.LeadEnriched{
		Lead:       contracts.Lead{Email: email, Source: source},
		Enrichment: contracts.Enrichment{Status: map[string]contracts.ProviderStatus{}},
	})
	ev.SetTime(at)
	return ev
}

// TestAttributionCommand: `gtmhub attribution` reads the credit of the
// last 30 days' conversions from a running store and prints it most
// credited first with a total, or as JSON; --since and --until narrow the
// window.
func TestAttributionCommand(t *testing.T) {
	srv := eventstest.RunServer(t)
	runStore(t, srv)
	now := time.Now().UTC()
	day := 24 * time.Hour
	for _, ev := range []event.Event{
		leadTouch(t, "ada@example.com", "form", now.Add(-60*day)), // her first touch, before the window
		leadTouch(t, "ada@example.com", "clay", now.Add(-2*time.Hour)),
		leadTouch(t, "ada@example.com", "hubspot", now.Add(-time.Hour)),
		leadTouch(t, "grace@example.com", "clay", now.Add(-3*time.Hour)),
		leadTouch(t, "alan@example.com", "hubspot", now.Add(-5*time.Hour)),
		leadTouch(t, "linus@example.com", "form", now.Add(-50*day)), // no touch in the window
	} {
		srv.Publish(t, events.SubjectLeadsEnriched, ev)
	}
	srv.AwaitSettled(t, events.StreamLeads, store.Name, 10*time.Second)

	out, err := gtmhub(t, srv, "", "attribution")
	if err != nil {
		t.Fatalf("attribution: %v\n%s", err, out)
	}
	want := [][]string{
		{"SOURCE", "CREDIT", "SHARE", "TOUCHES", "FIRST", "LAST"},
		{"hubspot", "1.40", "46.7", "%", "2", "1", "2"},
		{"clay", "1.20", "40.0", "%", "2", "1", "1"},
		{"form", "0.40", "13.3", "%", "1", "1", "0"},
		{"total", "3.00", "100.0", "%", "5", "3", "3"},
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(want) {
		t.Fatalf("attribution printed %d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, l := range lines {
		if got := strings.Fields(l); strings.Join(got, " ") != strings.Join(want[i], " ") {
			t.Errorf("line %d: %q, want %q", i, strings.Join(got, " "), strings.Join(want[i], " "))
		}
	}

	// Ada converted in this window with her first two touches; Grace with
	// her only one.
	out, err = gtmhub(t, srv, "", "attribution", "--json",
		"--since", now.Add(-4*time.Hour).Format(time.RFC3339), "--until", "90m")
	if err != nil {
		t.Fatalf("attribution --json: %v\n%s", err, out)
	}
	var a store.Attribution
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatalf("attribution --json printed %v:\n%s", err, out)
	}
	if a.Contacts != 2 || a.Touches != 3 || len(a.Sources) != 2 ||
		a.Sources[0].Source != "clay" || math.Abs(a.Sources[0].Credit-1.5) > 1e-9 ||
		a.Sources[1].Source != "form" || math.Abs(a.Sources[1].Credit-0.5) > 1e-9 {
		t.Errorf("attribution --json: %+v, want 2 contacts, clay 1.5 and form 0.5", a)
	}
}

func TestAttributionWindow(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		since, until string
		want         store.AttributionRequest
		wantErr      string
	}{
		{"720h", "", store.AttributionRequest{Since: now.Add(-720 * time.Hour)}, ""},
		{"2026-11-01T00:00:00Z", "24h", store.AttributionRequest{
			Since: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Until: now.Add(-24 * time.Hour)}, ""},
		{"", "", store.AttributionRequest{}, "--since: required"},
		{"24h", "yesterday", store.AttributionRequest{}, "--until: \"yesterday\" is neither"},
	}
	for _, tt := range tests {
		got, err := attributionWindow(tt.since, tt.until, now)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("attributionWindow(%q, %q) = %v, %v; want an error saying %q", tt.since, tt.until, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !got.Since.Equal(tt.want.Since) || !got.Until.Equal(tt.want.Until) {
			t.Errorf("attributionWindow(%q, %q) = %v, %v; want %v", tt.since, tt.until, got, err, tt.want)
		}
	}
}
