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

// onceCounter is a handler that counts the calls for each event, for tests
// that check every event is handled exactly once.
type onceCounter struct {
	mu      sync.Mutex
	calls   map[string]int
	handled chan struct{}
}

func newOnceCounter(t *testing.T, srv *eventstest.Server, total int) *onceCounter {
	t.Helper()
	for i := range total {
		srv.Publish(t, testSubject, eventstest.NewEvent(t, "com.gtmhub.lead.captured", map[string]int{"n": i}))
	}
	return &onceCounter{calls: map[string]int{}, handled: make(chan struct{}, total*2)}
}

func (o *onceCounter) handle(ctx context.Context, ev event.Event) error {
	time.Sleep(2 * time.Millisecond)
	o.mu.Lock()
	o.calls[ev.ID()]++
	o.mu.Unlock()
	o.handled <- struct{}{}
	return nil
}

// wait returns once n more events have been handled.
func (o *onceCounter) wait(n int) {
	for range n {
		<-o.handled
	}
}

func (o *onceCounter) check(t *testing.T, total int) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.calls) != total {
		t.Fatalf("handled %d distinct events, want %d", len(o.calls), total)
	}
	for id, n := range o.calls {
		if n != 1 {
			t.Errorf("event %s handled %d times", id, n)
		}
	}
}

// TestShutdownDrains stops a busy consumer and restarts it: every event is
// handled exactly once, and nothing is left waiting for an ack timeout.
func TestShutdownDrains(t *testing.T) {
	srv := eventstest.RunServer(t)
	const total = 300
	h := newOnceCounter(t, srv, total)
	spec := testSpec(5)
	spec.AckWait = time.Minute
	opts := []events.ConsumerOption{events.WithConcurrency(4), events.WithBatch(16)}

	stop := runConsumer(t, srv, spec, h.handle, opts...)
	h.wait(50)
	stop()
	// The server applies acks and naks after it has received them, so
	// the count may lag for a moment; a message delivered and left
	// unsettled would keep it up for the AckWait.
	deadline := time.Now().Add(5 * time.Second)
	for info := consumerInfo(t, srv, spec.Durable); info.NumAckPending != 0; info = consumerInfo(t, srv, spec.Durable) {
		if time.Now().After(deadline) {
			t.Fatalf("after shutdown %d messages await an ack timeout", info.NumAckPending)
		}
		time.Sleep(20 * time.Millisecond)
	}

	runConsumer(t, srv, spec, h.handle, opts...)
	waitSettled(t, srv, spec.Durable)
	h.check(t, total)
}

// TestShutdownReturnsUnfinishedWork cancels handlers that outlive the
// shutdown timeout: their messages are handed back at once, not after AckWait.
func TestShutdownReturnsUnfinishedWork(t *testing.T) {
	srv := eventstest.RunServer(t)
	ev := eventstest.NewEvent(t, "com.gtmhub.lead.captured", nil)
	srv.Publish(t, testSubject, ev)
	started := make(chan struct{}, 1)
	slow := func(ctx context.Context, _ event.Event) error {
		started <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}
	spec := testSpec(5)
	spec.AckWait = time.Minute
	stop := runConsumer(t, srv, spec, slow, events.WithShutdownTimeout(100*time.Millisecond))
	<-started
	stop()

	rec := newRecorder(func(string, int) error { return nil })
	begin := time.Now()
	runConsumer(t, srv, spec, func(ctx context.Context, e event.Event) error {
		d, _ := events.DeliveryFrom(ctx)
		if d.Attempt != 2 {
			return events.Permanent(fmt.Errorf("attempt %d, want 2", d.Attempt))
		}
		rec.mu.Lock()
		rec.calls[e.ID()] = append(rec.calls[e.ID()], time.Now())
		rec.mu.Unlock()
		rec.notify <- e.ID()
		return nil
	})
	rec.waitCalls(t, ev.ID(), 1, 10*time.Second)
	if waited := time.Since(begin); waited > 10*time.Second {
		t.Errorf("redelivered after %v: the message waited for AckWait", waited)
	}
	waitSettled(t, srv, spec.Durable)
	if n := srv.Count(t, events.StreamDLQ, "gtm.dlq.>"); n != 0 {
		t.Errorf("%d dead letters", n)
	}
}

// TestRestartsLeaveNothingForAckWait stops and restarts a busy consumer
// again and again with an AckWait far longer than the test: a message
// delivered to an instance that was stopping, and neither handled nor
// handed back, would keep the consumer from settling.
func TestRestartsLeaveNothingForAckWait(t *testing.T) {
	srv := eventstest.RunServer(t)
	const total, restarts = 1000, 6
	h := newOnceCounter(t, srv, total)
	spec := testSpec(5)
	spec.AckWait = time.Minute
	opts := []events.ConsumerOption{events.WithConcurrency(4), events.WithBatch(16)}
	for range restarts {
		stop := runConsumer(t, srv, spec, h.handle, opts...)
		h.wait(total / (2 * restarts))
		stop()
	}
	runConsumer(t, srv, spec, h.handle, opts...)
	waitSettled(t, srv, spec.Durable)
	h.check(t, total)
}

// TestRunReportsDeletedConsumer deletes the consumer while Run's only
// worker is busy and no pull request is open, or while Run waits in an
// open pull, which the server answers "consumer deleted". Run reports a
// consumer that stays gone, and goes on with one that is back within its
// grace period, as a cluster member that was just given the consumer
// answers "not found" for a moment after a leader dies.
func TestRunReportsDeletedConsumer(t *testing.T) {
	tests := []struct {
		name     string
		recreate bool
		// idle: the runner waits in an open pull when the consumer is
		// deleted, which the server answers "consumer deleted"; otherwise
		// it is busy and its next pull finds nobody to answer it.
		idle bool
	}{
		{name: "stays deleted", recreate: false},
		{name: "back within the grace period", recreate: true},
		{name: "deleted under an open pull, back within the grace period", recreate: true, idle: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := eventstest.RunServer(t)
			for i := range 10 {
				srv.Publish(t, testSubject, eventstest.NewEvent(t, "com.gtmhub.lead.captured", map[string]int{"n": i}))
			}
			started, release := make(chan string, 100), make(chan struct{})
			h := func(ctx context.Context, ev event.Event) error {
				started <- ev.ID()
				<-release
				return nil
			}
			spec := testSpec(5)
			c, err := events.NewConsumer(srv.JS, spec, h, events.WithConcurrency(1), events.WithBatch(2))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx) }()
			<-started
			if tt.idle {
				close(release)
				for range 9 {
					<-started
				}
				srv.AwaitSettled(t, spec.Stream, spec.Durable, 5*time.Second)
				time.Sleep(100 * time.Millisecond) // into the next pull
			}
			cfg := consumerInfo(t, srv, spec.Durable).Config
			if err := srv.JS.DeleteConsumer(ctx, spec.Stream, spec.Durable); err != nil {
				t.Fatal(err)
			}
			if !tt.idle {
				close(release)
			}
			if !tt.recreate {
				select {
				case err := <-done:
					if !errors.Is(err, jetstream.ErrConsumerNotFound) && !errors.Is(err, jetstream.ErrConsumerDeleted) {
						t.Fatalf("Run returned %v, want the consumer reported gone", err)
					}
				case <-time.After(15 * time.Second):
					t.Fatal("Run did not notice its consumer was deleted")
				}
				return
			}
			time.Sleep(2 * time.Second) // the next pull finds the consumer gone
			if _, err := srv.JS.CreateConsumer(ctx, spec.Stream, cfg); err != nil {
				t.Fatal(err)
			}
			late := eventstest.NewEvent(t, "com.gtmhub.lead.captured", map[string]string{"n": "late"})
			srv.Publish(t, testSubject, late)
			deadline := time.After(15 * time.Second)
			for {
				select {
				case id := <-started:
					if id == late.ID() {
						cancel()
						if err := <-done; err != nil {
							t.Fatalf("Run returned %v after cancel", err)
						}
						return
					}
				case err := <-done:
					t.Fatalf("Run returned %v, though the consumer came back within the grace period", err)
				case <-deadline:
					t.Fatal("the event published after the consumer came back was never handled")
				}
			}
		})
	}
}
