package eventstest_test

import (
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
)

// Every test starts its own JetStream server with the gtmhub topology.
func TestRunServer(t *testing.T) {
	srv := eventstest.RunServer(t)
	ev := eventstest.NewEvent(t, "com.gtmhub.lead.captured", map[string]string{"email": "ada@example.com"})
	srv.Publish(t, "gtm.leads.captured.form", ev)
	srv.Publish(t, "gtm.leads.captured.form", ev) // same id: stored once

	got := srv.Await(t, events.StreamLeads, "gtm.leads.captured.>", 1, 5*time.Second)
	if id := got[0].Headers().Get("ce-id"); id != ev.ID() {
		t.Fatalf("ce-id %q, want %q", id, ev.ID())
	}
	if n := srv.Count(t, events.StreamLeads, "gtm.leads.>"); n != 1 {
		t.Fatalf("stream holds %d, want 1", n)
	}
}
