package events_test

import (
	"context"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
)

// TestReplayReachesOnlyItsConsumer: a message replayed to one consumer is
// handled by it with the original subject and the replay marker, once even
// if the replay sends it twice, and no other consumer sees it.
func TestReplayReachesOnlyItsConsumer(t *testing.T) {
	srv := eventstest.RunServer(t)
	type seen struct {
		d  events.Delivery
		ev event.Event
	}
	got := make(chan seen, 8)
	other := make(chan string, 8)
	runConsumer(t, srv, testSpec(3), func(ctx context.Context, ev event.Event) error {
		d, _ := events.DeliveryFrom(ctx)
		got <- seen{d, ev}
		return nil
	})
	otherSpec := testSpec(3)
	otherSpec.Durable = "other-test"
	runConsumer(t, srv, otherSpec, func(_ context.Context, ev event.Event) error { other <- ev.ID(); return nil })

	ev := eventstest.NewEvent(t, "com.gtmhub.lead.captured", map[string]string{"email": "ada@example.com"})
	ack := srv.Publish(t, testSubject, ev)
	<-got
	<-other
	orig := srv.Await(t, events.StreamLeads, testSubject, 1, 5*time.Second)[0]
	for range 2 {
		msg, err := events.ReplayMsg("r1", ack.Sequence, testSubject, orig.Headers(), orig.Data(),
			events.ReplaySubject("enrich-test", testSubject), false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := srv.JS.PublishMsg(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case s := <-got:
		if !s.d.Replay || s.d.Subject != testSubject || s.d.Stream != events.StreamReplay || s.ev.ID() != ev.ID() ||
			s.ev.Extensions()[events.ExtensionReplay] != "true" {
			t.Errorf("replayed delivery %+v extensions %v", s.d, s.ev.Extensions())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("replay not handled")
	}
	waitSettled(t, srv, "enrich-test")
	select {
	case s := <-got:
		t.Errorf("replay handled twice: %+v", s.d)
	case id := <-other:
		t.Errorf("another consumer saw the replay of %s", id)
	default:
	}
	if n := srv.Count(t, events.StreamReplay, "gtm.replay.>"); n != 1 {
		t.Errorf("REPLAY holds %d messages, want 1 (deduplicated)", n)
	}
}

// TestReplayMarkerPropagates: an event published while handling a replayed
// event is itself marked as a replay.
func TestReplayMarkerPropagates(t *testing.T) {
	srv := eventstest.RunServer(t)
	pub, err := events.NewPublisher(srv.JS)
	if err != nil {
		t.Fatal(err)
	}
	runConsumer(t, srv, testSpec(3), func(ctx context.Context, ev event.Event) error {
		out := eventstest.NewEvent(t, "com.gtmhub.lead.enriched", nil)
		out.SetID("derived-" + ev.ID())
		return pub.Publish(ctx, events.SubjectLeadsEnriched, out)
	})
	ev := eventstest.NewEvent(t, "com.gtmhub.lead.captured", nil)
	ev.SetExtension(events.ExtensionReplay, "true")
	ev.SetExtension(events.ExtensionSideEffects, "true")
	srv.Publish(t, testSubject, ev)
	got := srv.Await(t, events.StreamLeads, events.SubjectLeadsEnriched, 1, 5*time.Second)[0]
	h := got.Headers()
	if h.Get("ce-"+events.ExtensionReplay) != "true" || h.Get("ce-"+events.ExtensionSideEffects) != "true" {
		t.Errorf("derived event headers %v: want the replay marker", h)
	}
}
