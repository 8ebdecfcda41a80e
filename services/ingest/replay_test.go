package ingest

import (
	"net/http"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/events/eventstest"
)

// TestReplayQuarantine quarantines requests signed with a secret the source
// was not yet configured with, fixes the configuration and replays: those
// that now verify are published once and leave QUARANTINE, a forged one
// stays, and a second replay stores nothing.
func TestReplayQuarantine(t *testing.T) {
	srv := eventstest.RunServer(t)
	for _, scheme := range []string{"github", "slack"} {
		s := sourceOf(t, scheme)
		misconfigured := newTestHandler(t, srv, s.config(s.wrong))
		for _, req := range []request{
			s.request(t, s.new, "", `{"type":"issues","n":1}`, time.Now()),
			s.request(t, s.new, "", `{"type":"issues","n":2}`, time.Now()),
			s.request(t, "forged", "", `{"type":"issues","n":3}`, time.Now()),
		} {
			if rec := req.do(t, misconfigured); rec.Code != http.StatusUnauthorized {
				t.Fatalf("%s with the wrong secret configured: %d", scheme, rec.Code)
			}
		}
	}
	if n := srv.Count(t, "QUARANTINE", ">"); n != 6 {
		t.Fatalf("%d quarantined, want 6", n)
	}

	entries, err := ListQuarantine(t.Context(), srv.JS, "slack")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 || entries[0].Source != "slack" || entries[0].Reason == "" {
		t.Fatalf("ListQuarantine(slack) = %+v", entries)
	}
	got, err := GetQuarantine(t.Context(), srv.JS, entries[1].Seq)
	if err != nil || got.ID != entries[1].ID || string(got.Body) != `{"type":"issues","n":2}` {
		t.Fatalf("GetQuarantine = %+v, %v", got, err)
	}
	if r := got.Redacted(); r.Header.Get("X-Slack-Signature") != "[REDACTED]" || got.Header.Get("X-Slack-Signature") == "[REDACTED]" ||
		r.Header.Get("X-Slack-Request-Timestamp") == "" {
		t.Fatalf("Redacted() headers %v, original %v", r.Header, got.Header)
	}

	// The fixed configuration: both sources with their right secret.
	gh, sl := sourceOf(t, "github"), sourceOf(t, "slack")
	fixed := gh.config(gh.new)
	fixed.Sources = append(fixed.Sources, sl.config(sl.new).Sources...)
	results, err := ReplayQuarantine(t.Context(), srv.JS, fixed, ReplayOptions{}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []string
	for _, r := range results {
		outcomes = append(outcomes, r.Source+":"+r.Outcome)
	}
	want := []string{"github:published", "github:published", "github:unverified",
		"slack:published", "slack:published", "slack:unverified"}
	if len(outcomes) != len(want) {
		t.Fatalf("outcomes %v, want %v", outcomes, want)
	}
	for i := range want {
		if outcomes[i] != want[i] {
			t.Fatalf("outcomes %v, want %v", outcomes, want)
		}
	}
	if n := srv.Count(t, "RAW", ">"); n != 4 {
		t.Fatalf("%d events stored after the replay, want 4", n)
	}
	if n := srv.Count(t, "QUARANTINE", ">"); n != 2 {
		t.Fatalf("%d left in QUARANTINE, want the 2 forged", n)
	}

	again, err := ReplayQuarantine(t.Context(), srv.JS, fixed, ReplayOptions{}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 2 || again[0].Outcome != ReplayUnverified || again[1].Outcome != ReplayUnverified {
		t.Fatalf("second replay = %+v", again)
	}
	if n := srv.Count(t, "RAW", ">"); n != 4 {
		t.Fatalf("%d events stored after a second replay, want 4", n)
	}

	// A replay limited to sequences touches only those.
	only, err := ReplayQuarantine(t.Context(), srv.JS, fixed, ReplayOptions{Source: "github", Seqs: []uint64{999}}, nil)
	if err != nil || len(only) != 0 {
		t.Fatalf("replay of an absent sequence = %+v, %v", only, err)
	}
}
