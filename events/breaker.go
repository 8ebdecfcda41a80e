package events

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
)

// Breakers is a set of circuit breakers keyed by destination (a provider, a
// webhook URL, an SMTP server). An open breaker answers at once with a
// [RetryAfter] error for the time left until it half-opens, so the message
// is redelivered when a trial request is allowed again.
type Breakers struct {
	settings gobreaker.Settings
	metrics  *Metrics

	mu        sync.Mutex
	breakers  map[string]*gobreaker.CircuitBreaker[struct{}]
	openUntil map[string]time.Time
	watchers  map[string][]func(open bool, until time.Time)
	declared  []string
}

// BreakerOption configures [Breakers].
type BreakerOption func(*Breakers)

// WithBreakerTimeout sets how long a breaker stays open before half-opening.
// Default 30s.
func WithBreakerTimeout(d time.Duration) BreakerOption {
	return func(b *Breakers) { b.settings.Timeout = d }
}

// WithTripAfter opens a breaker after n consecutive failures. Default 5.
func WithTripAfter(n uint32) BreakerOption {
	return func(b *Breakers) {
		b.settings.ReadyToTrip = func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= n }
	}
}

// WithBreakerMetrics exports each breaker's state.
func WithBreakerMetrics(m *Metrics) BreakerOption { return func(b *Breakers) { b.metrics = m } }

// WithDestinations creates the breakers of dests up front, so that
// [Breakers.States] lists them, closed, before their first request.
func WithDestinations(dests ...string) BreakerOption {
	return func(b *Breakers) { b.declared = append(b.declared, dests...) }
}

// ErrNotCalled is returned, wrapped, by a function run through a breaker
// that decided not to call its destination after all (its turn at a rate
// limit did not come, a 429 asked it to wait): the breaker counts it as
// neither a success nor a failure.
var ErrNotCalled = errors.New("destination not called")

// NewBreakers returns an empty set; breakers are created on first use.
func NewBreakers(opts ...BreakerOption) *Breakers {
	b := &Breakers{
		settings: gobreaker.Settings{MaxRequests: 1, Timeout: 30 * time.Second,
			// A permanent failure is the caller's fault, not the destination's.
			IsSuccessful: func(err error) bool { return err == nil || IsPermanent(err) },
			IsExcluded: func(err error) bool {
				return errors.Is(err, context.Canceled) || errors.Is(err, ErrNotCalled)
			}},
		breakers:  make(map[string]*gobreaker.CircuitBreaker[struct{}]),
		openUntil: make(map[string]time.Time),
		watchers:  make(map[string][]func(bool, time.Time)),
	}
	b.settings.ReadyToTrip = func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 5 }
	for _, opt := range opts {
		opt(b)
	}
	// After the options, so these breakers have their settings too.
	for _, dest := range b.declared {
		b.get(dest)
	}
	return b
}

// Do runs fn through the breaker of dest. While the breaker is open, or
// half-open with its trial request in flight, Do does not call fn and
// returns a [RetryAfter] error.
func (b *Breakers) Do(ctx context.Context, dest string, fn func(context.Context) error) error {
	cb := b.get(dest)
	_, err := cb.Execute(func() (struct{}, error) { return struct{}{}, fn(ctx) })
	switch {
	case errors.Is(err, gobreaker.ErrOpenState):
		return RetryAfter(b.remaining(dest), fmt.Errorf("%s: circuit open: %w", dest, err))
	case errors.Is(err, gobreaker.ErrTooManyRequests):
		return RetryAfter(time.Second, fmt.Errorf("%s: circuit half-open: %w", dest, err))
	}
	return err
}

// State returns the state of dest's breaker.
func (b *Breakers) State(dest string) gobreaker.State { return b.get(dest).State() }

// BreakerState is a snapshot of one destination's breaker.
type BreakerState struct {
	Destination string `json:"destination"`
	// State is "closed", "half-open" or "open".
	State string `json:"state"`
	// RetryAt is when an open breaker half-opens and lets a trial request
	// through; zero for a breaker that is not open.
	RetryAt time.Time `json:"retry_at,omitzero"`
}

// States returns the state of every breaker created so far, by destination.
func (b *Breakers) States() []BreakerState {
	b.mu.Lock()
	dests := make([]string, 0, len(b.breakers))
	cbs := make([]*gobreaker.CircuitBreaker[struct{}], 0, len(b.breakers))
	for dest, cb := range b.breakers {
		dests = append(dests, dest)
		cbs = append(cbs, cb)
	}
	b.mu.Unlock()
	out := make([]BreakerState, 0, len(dests))
	for i, cb := range cbs {
		// State may half-open the breaker, which calls changed: b.mu must
		// not be held here.
		st := cb.State()
		s := BreakerState{Destination: dests[i], State: st.String()}
		if st == gobreaker.StateOpen {
			b.mu.Lock()
			s.RetryAt = b.openUntil[dests[i]]
			b.mu.Unlock()
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(x, y BreakerState) int { return strings.Compare(x.Destination, y.Destination) })
	return out
}

// Watch calls fn whenever dest's breaker opens (open=true, with the time it
// will half-open) or closes. It returns a function that stops watching.
func (b *Breakers) Watch(dest string, fn func(open bool, until time.Time)) (stop func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.watchers[dest] = append(b.watchers[dest], fn)
	i := len(b.watchers[dest]) - 1
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.watchers[dest][i] = nil
	}
}

func (b *Breakers) get(dest string) *gobreaker.CircuitBreaker[struct{}] {
	b.mu.Lock()
	defer b.mu.Unlock()
	if cb, ok := b.breakers[dest]; ok {
		return cb
	}
	s := b.settings
	s.Name = dest
	s.OnStateChange = b.changed
	cb := gobreaker.NewCircuitBreaker[struct{}](s)
	b.breakers[dest] = cb
	b.metrics.breakerState(dest, int(gobreaker.StateClosed)) // exported from the start, not from its first change
	return cb
}

// changed runs inside gobreaker's lock: it must not call back into the breaker.
func (b *Breakers) changed(dest string, _, to gobreaker.State) {
	b.metrics.breakerState(dest, int(to))
	b.mu.Lock()
	var until time.Time
	if to == gobreaker.StateOpen {
		until = time.Now().Add(b.settings.Timeout)
		b.openUntil[dest] = until
	}
	watchers := append([]func(bool, time.Time){}, b.watchers[dest]...)
	b.mu.Unlock()
	for _, w := range watchers {
		if w != nil && to != gobreaker.StateHalfOpen {
			go w(to == gobreaker.StateOpen, until)
		}
	}
}

func (b *Breakers) remaining(dest string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return max(time.Until(b.openUntil[dest]), 100*time.Millisecond)
}

type pauseRule struct {
	breakers *Breakers
	dest     string
}

// WithPauseWhileOpen pauses the consumer on the server while dest's breaker
// is open, for consumers whose every message needs dest. The pause ends when
// the breaker half-opens, so the next message is its trial request.
func WithPauseWhileOpen(b *Breakers, dest string) ConsumerOption {
	return func(o *consumerOptions) { o.pauses = append(o.pauses, pauseRule{b, dest}) }
}

func (c *Consumer) watchBreakers(ctx context.Context) (stop func()) {
	var stops []func()
	for _, p := range c.o.pauses {
		stops = append(stops, p.breakers.Watch(p.dest, func(open bool, until time.Time) {
			var err error
			if open {
				_, err = c.js.PauseConsumer(ctx, c.spec.Stream, c.spec.Durable, until)
			} else {
				_, err = c.js.ResumeConsumer(ctx, c.spec.Stream, c.spec.Durable)
			}
			if err != nil && ctx.Err() == nil {
				c.o.logger.Warn("pause consumer", "consumer", c.spec.Durable, "open", open, "err", err)
			}
		}))
	}
	return func() {
		for _, s := range stops {
			s()
		}
	}
}
