package events_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/sony/gobreaker/v2"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
)

func TestBreakerOpenIsRetryAfter(t *testing.T) {
	b := events.NewBreakers(events.WithTripAfter(2), events.WithBreakerTimeout(300*time.Millisecond))
	ctx := context.Background()
	down := errors.New("503")
	var calls int
	fail := func(context.Context) error { calls++; return down }
	for range 2 {
		if err := b.Do(ctx, "clearbit", fail); !errors.Is(err, down) {
			t.Fatalf("err = %v", err)
		}
	}
	err := b.Do(ctx, "clearbit", fail)
	d, ok := events.RetryDelay(err)
	if !ok || d <= 0 || d > 300*time.Millisecond || calls != 2 {
		t.Fatalf("open breaker: err %v delay %v calls %d", err, d, calls)
	}
	if b.State("hunter") != gobreaker.StateClosed {
		t.Error("breakers are not independent per destination")
	}
	if err := b.Do(ctx, "hunter", func(context.Context) error { return events.Permanent(errors.New("422")) }); !events.IsPermanent(err) {
		t.Errorf("permanent error lost: %v", err)
	}
	time.Sleep(350 * time.Millisecond) // let the breaker's own timeout pass
	if err := b.Do(ctx, "clearbit", func(context.Context) error { return nil }); err != nil || b.State("clearbit") != gobreaker.StateClosed {
		t.Errorf("after timeout: %v, state %v", err, b.State("clearbit"))
	}
}

// TestBreakerPausesConsumer: while the destination's breaker is open the
// consumer is paused on the server and nothing is fetched; it resumes when
// the breaker half-opens and the message then succeeds.
func TestBreakerPausesConsumer(t *testing.T) {
	srv := eventstest.RunServer(t)
	b := events.NewBreakers(events.WithTripAfter(1), events.WithBreakerTimeout(time.Second))
	var healthy atomic.Bool
	var calls atomic.Int32
	done := make(chan struct{})
	h := func(ctx context.Context, ev event.Event) error {
		calls.Add(1)
		if !healthy.Load() {
			return errors.New("slack 503")
		}
		close(done)
		return nil
	}
	spec := testSpec(10)
	runConsumer(t, srv, spec, h, events.WithMiddleware(events.Breaker(b, "slack")),
		events.WithPauseWhileOpen(b, "slack"), events.WithBackoff(events.ExponentialBackoff(10*time.Millisecond, 20*time.Millisecond)))
	srv.Publish(t, testSubject, eventstest.NewEvent(t, "com.gtmhub.lead.captured", nil))

	deadline := time.Now().Add(5 * time.Second)
	for !consumerInfo(t, srv, spec.Durable).Paused {
		if time.Now().After(deadline) {
			t.Fatal("consumer not paused after the breaker opened")
		}
		time.Sleep(10 * time.Millisecond)
	}
	healthy.Store(true)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("message not processed after the breaker half-opened")
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("handler called %d times, want 2 (one failure, one trial after the pause)", n)
	}
}

// TestBreakerStates: States lists declared and used destinations in order,
// and an open breaker says when it will let a trial request through.
func TestBreakerStates(t *testing.T) {
	down := errors.New("503")
	tests := []struct {
		name     string
		failures int // consecutive failures of clearbit; it trips at 3
		timeout  time.Duration
		want     string // clearbit's state
	}{
		{"declared, never used", 0, time.Minute, "closed"},
		{"fewer failures than the trip", 2, time.Minute, "closed"},
		{"tripped", 3, time.Minute, "open"},
		{"tripped, timeout passed", 3, 20 * time.Millisecond, "half-open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := events.NewBreakers(events.WithDestinations("hunter", "clearbit"),
				events.WithTripAfter(3), events.WithBreakerTimeout(tt.timeout))
			ctx := context.Background()
			if err := b.Do(ctx, "apollo", func(context.Context) error { return nil }); err != nil {
				t.Fatal(err)
			}
			before := time.Now()
			for range tt.failures {
				_ = b.Do(ctx, "clearbit", func(context.Context) error { return down })
			}
			after := time.Now()
			states := b.States()
			for deadline := time.Now().Add(5 * time.Second); len(states) == 3 && states[1].State != tt.want && time.Now().Before(deadline); {
				time.Sleep(5 * time.Millisecond)
				states = b.States()
			}
			var got []string
			for _, s := range states {
				got = append(got, s.Destination+" "+s.State)
			}
			want := []string{"apollo closed", "clearbit " + tt.want, "hunter closed"}
			if !slices.Equal(got, want) {
				t.Fatalf("states %v, want %v", got, want)
			}
			for _, s := range states {
				switch {
				case s.State != "open" && !s.RetryAt.IsZero():
					t.Errorf("%s is %s but retries at %v", s.Destination, s.State, s.RetryAt)
				case s.State == "open" && (s.RetryAt.Before(before.Add(tt.timeout)) || s.RetryAt.After(after.Add(tt.timeout))):
					t.Errorf("%s retries at %v, want between %v and %v", s.Destination, s.RetryAt,
						before.Add(tt.timeout), after.Add(tt.timeout))
				}
			}
		})
	}
}

// TestBreakerIgnoresCallsNotMade: a function that did not call its
// destination after all (ErrNotCalled) counts as neither a failure nor a
// success: it neither trips the breaker nor resets its count of failures.
func TestBreakerIgnoresCallsNotMade(t *testing.T) {
	b := events.NewBreakers(events.WithTripAfter(3))
	ctx := context.Background()
	down := errors.New("503")
	for i, fn := range []func(context.Context) error{
		func(context.Context) error { return down },
		func(context.Context) error { return events.ErrNotCalled },
		func(context.Context) error { return down },
		func(context.Context) error { return events.ErrNotCalled },
	} {
		_ = b.Do(ctx, "clearbit", fn)
		if st := b.State("clearbit"); st != gobreaker.StateClosed {
			t.Fatalf("after call %d: %s, want closed", i+1, st)
		}
	}
	_ = b.Do(ctx, "clearbit", func(context.Context) error { return down })
	if st := b.State("clearbit"); st != gobreaker.StateOpen {
		t.Errorf("after the third failure: %s, want open", st)
	}
}
