package events_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
)

// TestRedriveRoundTrip: a dead letter redriven to its subject is processed
// again with the same CloudEvent id; when it fails again it returns to the
// DLQ carrying the history of its first failure.
func TestRedriveRoundTrip(t *testing.T) {
	srv := eventstest.RunServer(t)
	ids := make(chan string, 4)
	runConsumer(t, srv, testSpec(1), func(_ context.Context, ev event.Event) error {
		ids <- ev.ID()
		return events.Permanent(errors.New("422 unprocessable"))
	})
	ev := eventstest.NewEvent(t, "com.gtmhub.lead.captured", nil)
	srv.Publish(t, testSubject, ev)
	first := srv.Await(t, events.StreamDLQ, "gtm.dlq.>", 1, 5*time.Second)[0]

	msg, err := events.RedriveMsg(first.Headers(), first.Data())
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != testSubject || msg.Header.Get(events.HeaderMsgID) == ev.ID() {
		t.Fatalf("redrive to %s with msg id %s", msg.Subject, msg.Header.Get(events.HeaderMsgID))
	}
	if _, err := srv.JS.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case id := <-ids:
			if id != ev.ID() {
				t.Fatalf("handled %s, want %s", id, ev.ID())
			}
		case <-time.After(5 * time.Second):
			t.Fatal("redriven event not handled")
		}
	}
	dls := srv.Await(t, events.StreamDLQ, "gtm.dlq.>", 2, 5*time.Second)
	second := dls[1].Headers()
	if second.Get(events.HeaderRedriveCount) != "1" || len(second.Values(events.HeaderDLQHistory)) != 1 ||
		second.Get("ce-id") != ev.ID() {
		t.Errorf("second dead letter headers %v", second)
	}
	if _, err := events.RedriveMsg(nil, nil); !errors.Is(err, events.ErrNotDeadLetter) {
		t.Errorf("RedriveMsg(no headers) = %v", err)
	}
}
