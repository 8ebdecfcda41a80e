package enrich

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
)

// ErrRateLimited is wrapped by a provider's answer to a 429. The provider's
// every worker then waits out its Retry-After.
var ErrRateLimited = errors.New("rate limited")

// guarded wraps a [Provider] with what every provider gets: the answer
// cache, the monthly credits, a token bucket shared by all workers, a
// pause after a 429, and a circuit breaker.
type guarded struct {
	p        Provider
	cfg      ProviderConfig
	limiter  *rate.Limiter
	breakers *events.Breakers
	credits  *credits
	cache    *cache
	log      *slog.Logger
	flight   singleflight.Group // one lookup at a time per key in this process

	mu        sync.Mutex
	notBefore time.Time // no request before this time: a 429's Retry-After
}

// outcome is one provider's part in one lead's enrichment: a final status
// and result, or retry, an error saying to ask again later.
type outcome struct {
	status contracts.ProviderStatus
	result Result
	retry  error
}

func skipped(reason string) outcome {
	return outcome{status: contracts.ProviderStatus{State: contracts.ProviderSkipped, Reason: truncate(reason, maxReason)}}
}

func later(err error) outcome { return outcome{retry: err} }

// lookupAt answers q, whose cache key is key (as recent returns it), from
// the cache, or asks the provider if the budget, the rate limit and the
// breaker allow it. Workers asking about the same key at once share one
// answer, so concurrent leads from one domain cost one call.
func (g *guarded) lookupAt(ctx context.Context, key string, q Query) outcome {
	o, _, _ := g.flight.Do(key, func() (any, error) { return g.lookupKey(ctx, key, q), nil })
	return o.(outcome)
}

// recent returns q's outcome when it follows from what the process holds:
// a query the provider cannot take, or an answer in the process's cache.
// It asks neither the bucket nor the provider, and so needs no goroutine of
// its own. Otherwise it returns q's cache key, for lookupAt.
func (g *guarded) recent(q Query) (o outcome, key string, settled bool) {
	key, err := g.p.Key(q)
	if err != nil {
		return skipped(err.Error()), "", true
	}
	ce, hit := g.cache.recent(key)
	o, settled = cachedOutcome(ce, hit)
	return o, key, settled
}

// cachedOutcome is the outcome of a cache entry, if it settles the lookup.
func cachedOutcome(ce cacheEntry, hit bool) (outcome, bool) {
	switch {
	case hit && ce.Skip != "":
		return skipped(ce.Skip), true
	case hit && !ce.Pending:
		return outcome{status: contracts.ProviderStatus{State: contracts.ProviderCached}, result: ce.Result}, true
	}
	return outcome{}, false
}

func (g *guarded) lookupKey(ctx context.Context, key string, q Query) outcome {
	ce, hit, err := g.cache.get(ctx, key)
	if err != nil {
		return later(err)
	}
	if o, ok := cachedOutcome(ce, hit); ok {
		return o
	}
	if err := g.pausedErr(); err != nil {
		return later(err)
	}

	var reserved string
	if !ce.Pending { // a queued lookup was charged when it was queued
		if reserved, err = g.credits.reserve(ctx); err != nil {
			switch {
			case errors.Is(err, ErrBudgetSpent) && g.credits.inFlight():
				// Calls in flight hold the last credits, and one the
				// provider does not charge for comes back: ask again then.
				return later(events.RetryAfter(time.Second, err))
			case errors.Is(err, ErrBudgetSpent):
				return skipped(err.Error())
			}
			return later(err)
		}
	}
	ans, err := g.call(ctx, q)
	if reserved != "" {
		g.credits.settle(ctx, reserved, ans.Charged)
	}
	return g.settle(ctx, key, ans, err)
}

// pausedErr is the error of a lookup made while a 429's Retry-After runs,
// or nil.
func (g *guarded) pausedErr() error {
	d := g.paused()
	if d <= 0 {
		return nil
	}
	return events.RetryAfter(d, fmt.Errorf("%s: %w, waiting %s", g.p.Name(), ErrRateLimited, d.Round(time.Millisecond)))
}

// call asks the provider through its breaker, once the rate limit allows.
// A call the breaker refuses neither waits nor spends a turn. Only
// failures count against the breaker: a 429, a queued lookup or a refused
// input is the provider working, and so is a wait cut short.
func (g *guarded) call(ctx context.Context, q Query) (Answer, error) {
	var (
		ans     Answer
		callErr error
	)
	err := g.breakers.Do(ctx, g.p.Name(), func(ctx context.Context) error {
		if err := g.limiter.Wait(ctx); err != nil {
			callErr = fmt.Errorf("%s: rate limit: %w", g.p.Name(), err)
			return events.ErrNotCalled
		}
		if callErr = g.pausedErr(); callErr != nil {
			return events.ErrNotCalled // a 429 came while this call waited its turn
		}
		ans, callErr = g.p.Lookup(ctx, q)
		if failing(callErr) {
			return callErr
		}
		return nil
	})
	if err != nil && !errors.Is(err, events.ErrNotCalled) {
		return ans, err // a failure, or the breaker refusing the call
	}
	return ans, callErr
}

// settle turns the provider's answer into an outcome and caches it.
func (g *guarded) settle(ctx context.Context, key string, ans Answer, err error) outcome {
	var skip *SkipError
	switch {
	case err == nil:
		g.store(ctx, key, cacheEntry{Result: ans.Result})
		return outcome{status: contracts.ProviderStatus{State: contracts.ProviderDone}, result: ans.Result}
	case errors.As(err, &skip):
		if skip.Final {
			g.store(ctx, key, cacheEntry{Skip: skip.Reason})
		}
		return skipped(skip.Reason)
	case errors.Is(err, ErrRateLimited):
		if d, ok := events.RetryDelay(err); ok {
			g.pause(d)
		}
	case ans.Charged: // queued and charged: asking again is free
		g.store(ctx, key, cacheEntry{Pending: true})
	}
	return later(err)
}

func (g *guarded) store(ctx context.Context, key string, ce cacheEntry) {
	if err := g.cache.put(ctx, key, ce); err != nil {
		g.log.WarnContext(ctx, "cache provider answer", "provider", g.p.Name(), "err", err)
	}
}

// pause holds every request to the provider for d.
func (g *guarded) pause(d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t := time.Now().Add(d); t.After(g.notBefore) {
		g.notBefore = t
	}
}

// paused returns how long requests are still held after a 429.
func (g *guarded) paused() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return time.Until(g.notBefore)
}

// failing reports whether err means the provider is failing, as opposed to
// answering: a final refusal, a queued lookup or a rate limit.
func failing(err error) bool {
	var skip *SkipError
	_, retry := events.RetryDelay(err)
	return err != nil && !retry && !errors.As(err, &skip) && !errors.Is(err, ErrNotApplicable)
}
