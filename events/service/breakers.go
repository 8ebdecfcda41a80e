package service

import (
	"slices"
	"strings"
	"sync"

	"github.com/gtmhub/gtmhub/events"
)

// BreakerRegistry gathers the circuit breakers a service creates, so that
// its announced micro service can report their states (see
// [WithBreakerStates]). A nil registry ignores registrations.
type BreakerRegistry struct {
	mu   sync.Mutex
	sets []*events.Breakers
}

// NewBreakerRegistry returns an empty registry.
func NewBreakerRegistry() *BreakerRegistry { return &BreakerRegistry{} }

// Register adds b and returns it.
func (r *BreakerRegistry) Register(b *events.Breakers) *events.Breakers {
	if r == nil || b == nil {
		return b
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sets = append(r.sets, b)
	return b
}

// States returns the state of every registered breaker, by destination.
func (r *BreakerRegistry) States() []events.BreakerState {
	out := []events.BreakerState{}
	if r == nil {
		return out
	}
	r.mu.Lock()
	sets := slices.Clone(r.sets)
	r.mu.Unlock()
	for _, b := range sets {
		out = append(out, b.States()...)
	}
	slices.SortStableFunc(out, func(x, y events.BreakerState) int { return strings.Compare(x.Destination, y.Destination) })
	return out
}
