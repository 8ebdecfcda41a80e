package enrich

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
)

// maxReason is the contract's limit on a provider status's reason.
const maxReason = 1000

// enricher asks every configured provider about a lead.
type enricher struct {
	providers []*guarded
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
	// The providers whose answer the process does not hold, and their keys.
	var asked []int
	keys := make([]string, len(e.providers))
	for i, g := range e.providers {
		o, key, ok := g.recent(q)
		if ok {
			outs[i] = o
		} else {
			asked, keys[i] = append(asked, i), key
		}
	}
	// The lookups that ask run at once, the last in this goroutine: a new
	// one starts with a small stack and copies it as a lookup's calls grow
	// it, which cost more than the lookup itself when it is answered from
	// memory.
	var wg sync.WaitGroup
	for n, i := range asked {
		if n == len(asked)-1 {
			outs[i] = e.providers[i].lookupAt(ctx, keys[i], q)
			break
		}
		wg.Go(func() { outs[i] = e.providers[i].lookupAt(ctx, keys[i], q) })
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
	return enr, nil
}

// waited reports whether the lead being handled has waited maxWait since
// its capture was first delivered (so a lead that waited in a backlog
// still gets its wait), or is on its last delivery; otherwise it returns
// how much of maxWait is left.
func (e *enricher) waited(ctx context.Context, maxWait time.Duration) (bool, time.Duration) {
	d, ok := events.DeliveryFrom(ctx)
	if !ok || d.Last() {
		return true, 0
	}
	left := maxWait - time.Since(d.FirstDelivered)
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
