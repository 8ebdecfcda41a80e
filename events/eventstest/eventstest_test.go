package eventstest_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

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

// AwaitSettled returns once the consumer has acked everything on its
// subjects, without waiting for messages on subjects it does not take.
func TestAwaitSettled(t *testing.T) {
	tests := []struct {
		name             string
		enriched, others int
	}{
		{"nothing published", 0, 0},
		{"the consumer's messages", 3, 0},
		{"the consumer's messages, then one it does not take", 3, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := eventstest.RunServer(t)
			for range tt.enriched {
				srv.Publish(t, events.SubjectLeadsEnriched, eventstest.NewEvent(t, "com.gtmhub.lead.enriched", map[string]string{"email": "ada@example.com"}))
			}
			for range tt.others {
				srv.Publish(t, "gtm.leads.captured.form", eventstest.NewEvent(t, "com.gtmhub.lead.captured", map[string]string{"email": "ada@example.com"}))
			}
			c, err := srv.JS.Consumer(context.Background(), events.StreamLeads, "store")
			if err != nil {
				t.Fatal(err)
			}
			var handled atomic.Int64
			cc, err := c.Consume(func(m jetstream.Msg) {
				time.Sleep(30 * time.Millisecond)
				handled.Add(1) // before the ack, which settles it
				_ = m.Ack()
			})
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Stop()

			srv.AwaitSettled(t, events.StreamLeads, "store", 10*time.Second)
			if got := handled.Load(); got != int64(tt.enriched) {
				t.Errorf("settled after %d of %d messages", got, tt.enriched)
			}
		})
	}
}
