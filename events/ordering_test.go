package events_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
)

// TestOrderingKey runs 4 workers over 5 records' changes: each record's
// changes are handled one at a time in the order published, while different
// records are handled at once.
func TestOrderingKey(t *testing.T) {
	const records, changes = 5, 12
	srv := eventstest.RunServer(t)
	for i := range changes {
		for r := range records {
			ev := eventstest.NewEvent(t, "com.gtmhub.lead.captured", map[string]any{"n": i})
			ev.SetSubject("record-" + strconv.Itoa(r))
			ev.SetID(fmt.Sprintf("r%d-%02d", r, i))
			srv.Publish(t, testSubject, ev)
		}
	}
	var (
		mu             sync.Mutex
		inFlight       = map[string]int{}
		running, peak  int
		order          = map[string][]string{}
		overlapSameKey []string
		done           = make(chan struct{})
		handled        int
	)
	h := func(ctx context.Context, ev event.Event) error {
		mu.Lock()
		inFlight[ev.Subject()]++
		running++
		peak = max(peak, running)
		if inFlight[ev.Subject()] > 1 {
			overlapSameKey = append(overlapSameKey, ev.ID())
		}
		order[ev.Subject()] = append(order[ev.Subject()], ev.ID())
		mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		inFlight[ev.Subject()]--
		running--
		if handled++; handled == records*changes {
			close(done)
		}
		return nil
	}
	runConsumer(t, srv, testSpec(3), h, events.WithConcurrency(4), events.WithOrderingKey(events.SubjectKey))
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("handled %d of %d", handled, records*changes)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(overlapSameKey) > 0 {
		t.Errorf("handled while another change to the same record ran: %v", overlapSameKey)
	}
	if peak < 2 {
		t.Errorf("at most %d handlers ran at once, want different records at once", peak)
	}
	for r := range records {
		key := "record-" + strconv.Itoa(r)
		for i, id := range order[key] {
			if want := fmt.Sprintf("r%d-%02d", r, i); id != want {
				t.Errorf("%s: change %d was %s, want %s (order %v)", key, i, id, want, order[key])
				break
			}
		}
	}
}

// TestSlowHandlerKeptAlive runs a handler for three times the AckWait: the
// consumer tells the server it is still working, so the message is not
// redelivered meanwhile and is handled once.
func TestSlowHandlerKeptAlive(t *testing.T) {
	srv := eventstest.RunServer(t)
	srv.Publish(t, testSubject, eventstest.NewEvent(t, "com.gtmhub.lead.captured", nil))
	var mu sync.Mutex
	calls := 0
	done := make(chan struct{})
	h := func(ctx context.Context, ev event.Event) error {
		mu.Lock()
		calls++
		first := calls == 1
		mu.Unlock()
		if first {
			time.Sleep(3 * time.Second)
			close(done)
		}
		return nil
	}
	spec := testSpec(5)
	spec.AckWait = time.Second
	runConsumer(t, srv, spec, h)
	<-done
	waitSettled(t, srv, spec.Durable)
	mu.Lock()
	defer mu.Unlock()
	if calls != 1 {
		t.Errorf("handled %d times, want once: the message was redelivered while its handler ran", calls)
	}
}

// TestQueuedMessagesKeptAlive: messages that wait in the consumer's queue
// behind a slow handler, for longer than the AckWait, are kept from
// redelivery as the handled one is, and each is handled once.
func TestQueuedMessagesKeptAlive(t *testing.T) {
	srv := eventstest.RunServer(t)
	for range 3 {
		srv.Publish(t, testSubject, eventstest.NewEvent(t, "com.gtmhub.lead.captured", nil))
	}
	var mu sync.Mutex
	calls := map[string]int{}
	h := func(ctx context.Context, ev event.Event) error {
		mu.Lock()
		calls[ev.ID()]++
		mu.Unlock()
		time.Sleep(1500 * time.Millisecond)
		return nil
	}
	spec := testSpec(5)
	spec.AckWait = time.Second
	runConsumer(t, srv, spec, h, events.WithConcurrency(1))
	waitSettled(t, srv, spec.Durable)
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 3 {
		t.Fatalf("%d events handled, want 3", len(calls))
	}
	for id, n := range calls {
		if n != 1 {
			t.Errorf("event %s handled %d times, want once: it was redelivered while it waited its turn", id, n)
		}
	}
}
