package events_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
)

// deliveries records the Delivery of every call and fails them all,
// asking to be called again after retry.
type deliveries struct {
	retry time.Duration
	mu    sync.Mutex
	seen  []events.Delivery
	calls []time.Time
	next  chan struct{}
}

func newDeliveries(retry time.Duration) *deliveries {
	return &deliveries{retry: retry, next: make(chan struct{}, 64)}
}

func (r *deliveries) handle(ctx context.Context, _ event.Event) error {
	d, _ := events.DeliveryFrom(ctx)
	r.mu.Lock()
	r.seen, r.calls = append(r.seen, d), append(r.calls, time.Now())
	r.mu.Unlock()
	r.next <- struct{}{}
	return events.RetryAfter(r.retry, errors.New("not yet"))
}

// wait waits for n calls and returns what they saw.
func (r *deliveries) wait(t *testing.T, n int) ([]events.Delivery, []time.Time) {
	t.Helper()
	for range n {
		select {
		case <-r.next:
		case <-time.After(10 * time.Second):
			t.Fatalf("handler not called %d times", n)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]events.Delivery(nil), r.seen...), append([]time.Time(nil), r.calls...)
}

// TestConsumerDeliveryBookkeeping: every delivery tells the handler the
// consumer's MaxDeliver, whether it is the last, and when the message was
// first delivered, the same on each redelivery.
func TestConsumerDeliveryBookkeeping(t *testing.T) {
	srv := eventstest.RunServer(t)
	published := time.Now()
	rec := newDeliveries(50 * time.Millisecond)
	runConsumer(t, srv, testSpec(3), rec.handle)
	ev := eventstest.NewEvent(t, "com.gtmhub.lead.captured", map[string]string{"email": "ada@example.com"})
	srv.Publish(t, testSubject, ev)

	seen, calls := rec.wait(t, 3)
	first := seen[0].FirstDelivered
	if first.Before(published) || first.After(calls[0]) {
		t.Errorf("first delivered %v, want between the publish (%v) and the first call (%v)", first, published, calls[0])
	}
	for i, d := range seen {
		if d.MaxDeliver != 3 || d.Attempt != i+1 || d.Last() != (i == 2) {
			t.Errorf("delivery %d: attempt %d of %d, last %v; want attempt %d of 3, last %v",
				i+1, d.Attempt, d.MaxDeliver, d.Last(), i+1, i == 2)
		}
		if !d.FirstDelivered.Equal(first) {
			t.Errorf("delivery %d: first delivered %v, want the first delivery's %v", i+1, d.FirstDelivered, first)
		}
	}
	srv.Await(t, events.StreamDLQ, events.DLQSubject("enrich", testSubject), 1, 5*time.Second)
}

// TestConsumerRedeliveryFromAnotherInstance: a runner that did not see the
// first delivery counts from when the stream stored the message.
func TestConsumerRedeliveryFromAnotherInstance(t *testing.T) {
	srv := eventstest.RunServer(t)
	// The first runner may take a few more deliveries while it stops:
	// MaxDeliver leaves the second plenty.
	spec := testSpec(50)
	before := newDeliveries(200 * time.Millisecond)
	stop := runConsumer(t, srv, spec, before.handle)
	ev := eventstest.NewEvent(t, "com.gtmhub.lead.captured", map[string]string{"email": "ada@example.com"})
	srv.Publish(t, testSubject, ev)
	before.wait(t, 1)
	stop()

	after := newDeliveries(200 * time.Millisecond)
	runConsumer(t, srv, spec, after.handle)
	seen, _ := after.wait(t, 1)
	d := seen[0]
	if d.Attempt < 2 || d.Published.IsZero() || !d.FirstDelivered.Equal(d.Published) {
		t.Errorf("redelivery %d to a new runner: first delivered %v, want when stored (%v)",
			d.Attempt, d.FirstDelivered, d.Published)
	}
}

// TestConsumerRetryFor: a consumer with a RetryFor delivers a failing
// message again past MaxDeliver until RetryFor after its first delivery,
// and only then dead-letters it; a permanent failure is dead-lettered at
// once all the same.
func TestConsumerRetryFor(t *testing.T) {
	srv := eventstest.RunServer(t)
	spec := testSpec(2)
	spec.RetryFor = 700 * time.Millisecond
	rec := newDeliveries(50 * time.Millisecond)
	runConsumer(t, srv, spec, rec.handle)
	ev := eventstest.NewEvent(t, "com.gtmhub.lead.captured", map[string]string{"email": "ada@example.com"})
	srv.Publish(t, testSubject, ev)

	srv.Await(t, events.StreamDLQ, events.DLQSubject("enrich", testSubject), 1, 10*time.Second)
	seen, calls := rec.wait(t, 0)
	if len(seen) <= spec.MaxDeliver {
		t.Fatalf("%d deliveries, want more than MaxDeliver (%d) within RetryFor", len(seen), spec.MaxDeliver)
	}
	last := seen[len(seen)-1]
	if !last.Last() || last.RetryUntil.IsZero() || calls[len(calls)-1].Before(last.RetryUntil) {
		t.Errorf("dead-lettered on delivery %d at %v, want the first delivery after RetryUntil (%v)",
			last.Attempt, calls[len(calls)-1], last.RetryUntil)
	}
	for i, d := range seen[:len(seen)-1] {
		if d.Attempt >= d.MaxDeliver && !calls[i].Before(d.RetryUntil) {
			t.Errorf("delivery %d at %v, after RetryUntil (%v), was not the last", d.Attempt, calls[i], d.RetryUntil)
		}
	}
}

func TestDeliveryLastWithRetryUntil(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name string
		d    events.Delivery
		want bool
	}{
		{"at MaxDeliver", events.Delivery{Attempt: 3, MaxDeliver: 3}, true},
		{"before MaxDeliver", events.Delivery{Attempt: 2, MaxDeliver: 3}, false},
		{"past MaxDeliver within RetryUntil", events.Delivery{Attempt: 9, MaxDeliver: 3, RetryUntil: now.Add(time.Hour)}, false},
		{"past MaxDeliver and RetryUntil", events.Delivery{Attempt: 9, MaxDeliver: 3, RetryUntil: now.Add(-time.Second)}, true},
		{"within RetryUntil before MaxDeliver", events.Delivery{Attempt: 1, MaxDeliver: 3, RetryUntil: now.Add(-time.Hour)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.d.Last(); got != tt.want {
				t.Errorf("Last() = %v, want %v", got, tt.want)
			}
		})
	}
}
