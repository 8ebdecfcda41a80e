package events_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
)

const testSubject = "gtm.leads.captured.form"

// recorder is a handler that records every call and answers from a script.
type recorder struct {
	mu     sync.Mutex
	calls  map[string][]time.Time
	answer func(id string, attempt int) error
	notify chan string
}

func newRecorder(answer func(id string, attempt int) error) *recorder {
	return &recorder{calls: map[string][]time.Time{}, answer: answer, notify: make(chan string, 1024)}
}

func (r *recorder) handle(ctx context.Context, ev event.Event) error {
	r.mu.Lock()
	r.calls[ev.ID()] = append(r.calls[ev.ID()], time.Now())
	n := len(r.calls[ev.ID()])
	r.mu.Unlock()
	defer func() { r.notify <- ev.ID() }()
	d, ok := events.DeliveryFrom(ctx)
	if !ok || d.Attempt != n {
		return events.Permanent(fmt.Errorf("delivery %+v does not match call %d", d, n))
	}
	return r.answer(ev.ID(), n)
}

func (r *recorder) times(id string) []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.calls[id]...)
}

// waitCalls waits until id has been handled n times.
func (r *recorder) waitCalls(t *testing.T, id string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for len(r.times(id)) < n {
		select {
		case <-r.notify:
		case <-deadline:
			t.Fatalf("event %s handled %d times, want %d", id, len(r.times(id)), n)
		}
	}
}

func runConsumer(t *testing.T, srv *eventstest.Server, spec events.ConsumerSpec, h events.Handler, opts ...events.ConsumerOption) (stop func()) {
	t.Helper()
	c, err := events.NewConsumer(srv.JS, spec, h, opts...)
	if err != nil {
		t.Fatal(err)
	}
	stop = eventstest.Go(t, c.Run)
	waitBound(t, srv, spec)
	return stop
}

func testSpec(maxDeliver int) events.ConsumerSpec {
	return events.ConsumerSpec{Service: "enrich", Stream: events.StreamLeads, Durable: "enrich-test",
		Filters: []string{"gtm.leads.captured.>"}, MaxDeliver: maxDeliver, AckWait: 5 * time.Second}
}

func TestConsumerAckPaths(t *testing.T) {
	errBoom := errors.New("provider down: api_key=sk_live_123")
	tests := []struct {
		name       string
		maxDeliver int
		answer     func(attempt int) error
		wantCalls  int
		wantDLQ    string // reason, "" for none
		check      func(t *testing.T, times []time.Time)
	}{
		{name: "nil acks once", maxDeliver: 3, answer: func(int) error { return nil }, wantCalls: 1},
		{name: "retry after delay is honoured", maxDeliver: 5, wantCalls: 2,
			answer: func(a int) error {
				if a == 1 {
					return events.RetryAfter(400*time.Millisecond, errors.New("429"))
				}
				return nil
			},
			check: func(t *testing.T, ts []time.Time) {
				if gap := ts[1].Sub(ts[0]); gap < 400*time.Millisecond {
					t.Errorf("redelivered after %v, want >= 400ms", gap)
				}
			}},
		{name: "backoff grows", maxDeliver: 10, wantCalls: 4,
			answer: func(a int) error {
				if a < 4 {
					return errBoom
				}
				return nil
			},
			check: func(t *testing.T, ts []time.Time) {
				g1, g3 := ts[1].Sub(ts[0]), ts[3].Sub(ts[2])
				if g1 < 25*time.Millisecond || g3 < 100*time.Millisecond || g3 <= g1 {
					t.Errorf("gaps %v then %v: want >=25ms, >=100ms and growing", g1, g3)
				}
			}},
		{name: "panic is retried", maxDeliver: 3, wantCalls: 2,
			answer: func(a int) error {
				if a == 1 {
					panic("nil map")
				}
				return nil
			}},
		{name: "permanent dead-letters at once", maxDeliver: 5, wantCalls: 1, wantDLQ: events.ReasonPermanent,
			answer: func(int) error { return events.Permanent(errBoom) }},
		{name: "max deliver dead-letters", maxDeliver: 3, wantCalls: 3, wantDLQ: events.ReasonMaxDeliver,
			answer: func(int) error { return errBoom }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := eventstest.RunServer(t)
			rec := newRecorder(func(_ string, a int) error { return tt.answer(a) })
			runConsumer(t, srv, testSpec(tt.maxDeliver), rec.handle,
				events.WithBackoff(events.ExponentialBackoff(50*time.Millisecond, time.Second)))
			ev := eventstest.NewEvent(t, "com.gtmhub.lead.captured", map[string]string{"email": "ada@example.com"})
			ev.SetExtension("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
			ack := srv.Publish(t, testSubject, ev)
			rec.waitCalls(t, ev.ID(), tt.wantCalls, 10*time.Second)
			if tt.check != nil {
				tt.check(t, rec.times(ev.ID()))
			}
			if tt.wantDLQ != "" {
				dl := srv.Await(t, events.StreamDLQ, events.DLQSubject("enrich", testSubject), 1, 5*time.Second)[0]
				assertDeadLetter(t, dl, ev, ack.Sequence, tt.wantCalls, tt.wantDLQ)
			}
			waitSettled(t, srv, "enrich-test")
			if got := len(rec.times(ev.ID())); got != tt.wantCalls {
				t.Errorf("handled %d times, want %d", got, tt.wantCalls)
			}
			if tt.wantDLQ == "" {
				if n := srv.Count(t, events.StreamDLQ, "gtm.dlq.>"); n != 0 {
					t.Errorf("%d dead letters, want none", n)
				}
			}
		})
	}
}

func assertDeadLetter(t *testing.T, dl jetstream.Msg, ev event.Event, seq uint64, attempts int, reason string) {
	t.Helper()
	h := dl.Headers()
	want := map[string]string{
		events.DLQHeaderService:  "enrich",
		events.DLQHeaderConsumer: "enrich-test",
		events.DLQHeaderStream:   events.StreamLeads,
		events.DLQHeaderSequence: fmt.Sprint(seq),
		events.DLQHeaderSubject:  testSubject,
		events.DLQHeaderAttempts: fmt.Sprint(attempts),
		events.DLQHeaderReason:   reason,
		events.DLQHeaderEventID:  ev.ID(),
		events.DLQHeaderTraceID:  "4bf92f3577b34da6a3ce929d0e0e4736",
		"ce-id":                  ev.ID(),
		"ce-type":                "com.gtmhub.lead.captured",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("dead letter %s = %q, want %q", k, got, v)
		}
	}
	errHdr := h.Get(events.DLQHeaderError)
	if errHdr == "" || containsAny(errHdr, "sk_live_123") {
		t.Errorf("dead letter error %q: want the redacted error", errHdr)
	}
	for _, k := range []string{events.DLQHeaderFirstFailure, events.DLQHeaderLastFailure} {
		if _, err := time.Parse(time.RFC3339Nano, h.Get(k)); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	if h.Get(events.DLQHeaderRedrive) == "" {
		t.Error("no redrive command")
	}
	if string(dl.Data()) != string(ev.Data()) {
		t.Errorf("dead letter body %s, want %s", dl.Data(), ev.Data())
	}
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if len(sub) > 0 && len(s) >= len(sub) {
			for i := 0; i+len(sub) <= len(s); i++ {
				if s[i:i+len(sub)] == sub {
					return true
				}
			}
		}
	}
	return false
}

// waitSettled waits until the consumer has nothing pending or unacked.
func waitSettled(t *testing.T, srv *eventstest.Server, durable string) {
	t.Helper()
	srv.AwaitSettled(t, events.StreamLeads, durable, 10*time.Second)
}

func consumerInfo(t *testing.T, srv *eventstest.Server, durable string) *jetstream.ConsumerInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := srv.JS.Consumer(ctx, events.StreamLeads, durable)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// waitBound waits until Run has created the consumer on the server.
func waitBound(t *testing.T, srv *eventstest.Server, spec events.ConsumerSpec) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := srv.JS.Consumer(context.Background(), spec.Stream, spec.Durable); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer %s not created", spec.Durable)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestConsumerStoppedBeforeItStarts returns nil, as any stop does, when its
// context ends before the consumer is bound.
func TestConsumerStoppedBeforeItStarts(t *testing.T) {
	srv := eventstest.RunServer(t)
	c, err := events.NewConsumer(srv.JS, testSpec(3), newRecorder(nil).handle)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Run(ctx); err != nil {
		t.Errorf("Run after its context ended = %v, want nil", err)
	}
}
