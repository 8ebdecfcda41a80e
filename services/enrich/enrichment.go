package enrich

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
)

// maxReason is the contract's limit on a provider status's reason.
const maxReason = 1000

// enricher asks every configured provider about a lead.
type enricher struct {
	providers  []*guarded
	maxDeliver int // the consumer's attempts: the last one never waits
	tries      firstTries
}

// firstTries remembers when this process first handled each lead still
// waiting for a provider, by stream and sequence: max_wait counts from there,
// so a lead that waited in a backlog still gets its wait. A lead first
// seen on a redelivery (another process had it, or this one restarted)
// counts from when the stream stored it.
type firstTries struct {
	mu sync.Mutex
	at map[tryKey]time.Time
}

// tryKey is a message's place: LEADS, or REPLAY for a replayed lead.
type tryKey struct {
	stream string
	seq    uint64
}

// maxFirstTries bounds the leads remembered; past it, the oldest are
// dropped (and count from when they were stored).
const maxFirstTries = 10_000

// since returns when the lead of delivery d was first tried, remembering
// now for a lead tried for the first time.
func (f *firstTries) since(d events.Delivery, now time.Time) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := tryKey{d.Stream, d.Sequence}
	if t, ok := f.at[key]; ok {
		return t
	}
	first := now
	if d.Attempt > 1 {
		first = d.Published
	}
	if f.at == nil {
		f.at = map[tryKey]time.Time{}
	}
	if len(f.at) >= maxFirstTries {
		f.dropOldest()
	}
	f.at[key] = first
	return first
}

// done forgets the lead of delivery d.
func (f *firstTries) done(d events.Delivery) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.at, tryKey{d.Stream, d.Sequence})
}

// dropOldest forgets the half of the leads remembered first tried longest
// ago.
func (f *firstTries) dropOldest() {
	keys := slices.SortedFunc(maps.Keys(f.at), func(a, b tryKey) int { return f.at[a].Compare(f.at[b]) })
	for _, k := range keys[:len(keys)/2] {
		delete(f.at, k)
	}
}

// enrich asks every provider at once and merges their answers: the first
// provider in configuration order to return a company or an email
// verification wins it. When a provider asks to be asked again later
// (rate limited, queued, failing, breaker open), enrich returns a retry
// error, unless the lead has waited that provider's max_wait or this is
// the last attempt: then the provider is reported as skipped and the lead
// goes on.
func (e *enricher) enrich(ctx context.Context, q Query) (contracts.Enrichment, error) {
	outs := make([]outcome, len(e.providers))
	var wg sync.WaitGroup
	for i, g := range e.providers {
		wg.Go(func() { outs[i] = g.lookup(ctx, q) })
	}
	wg.Wait()

	enr := contracts.Enrichment{Status: make(map[string]contracts.ProviderStatus, len(e.providers))}
	var retries []error
	for i, g := range e.providers {
		o := outs[i]
		if o.retry != nil {
			waited, left := e.waited(ctx, g.cfg.MaxWait)
			if !waited {
				retries = append(retries, clampRetry(o.retry, left))
				continue
			}
			o = skipped(truncate(fmt.Sprintf("gave up after waiting %s: %s", g.cfg.MaxWait, events.Redact(o.retry.Error())), maxReason))
		}
		enr.Status[g.p.Name()] = o.status
		if enr.Company == nil {
			enr.Company = o.result.Company
		}
		if enr.EmailVerification == nil {
			enr.EmailVerification = o.result.EmailVerification
		}
	}
	if len(retries) > 0 {
		return contracts.Enrichment{}, events.JoinRetries(retries...)
	}
	if d, ok := events.DeliveryFrom(ctx); ok {
		e.tries.done(d)
	}
	return enr, nil
}

// waited reports whether the lead being handled has waited maxWait since
// it was first tried, or is on its last attempt; otherwise it returns how
// much of maxWait is left.
func (e *enricher) waited(ctx context.Context, maxWait time.Duration) (bool, time.Duration) {
	d, ok := events.DeliveryFrom(ctx)
	if !ok || (e.maxDeliver > 0 && d.Attempt >= e.maxDeliver) {
		return true, 0
	}
	now := time.Now()
	left := maxWait - now.Sub(e.tries.since(d, now))
	return left <= 0, left
}

// clampRetry shortens a requested delay to what is left of the wait, so the
// lead comes back in time to give up.
func clampRetry(err error, left time.Duration) error {
	if d, ok := events.RetryDelay(err); ok && d > left {
		return events.RetryAfter(left, err)
	}
	return err
}
