package notify

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gtmhub/gtmhub/events"
)

// defaultBatchWindow is how long the first write of a batch waits for
// others to join it.
const defaultBatchWindow = 10 * time.Millisecond

// batcher gathers the writes that arrive within a short window into one
// request of at most max items: a backfill's many changes at once would
// otherwise take a request each, and the APIs count requests, not records.
// The first write of a batch leads it: it waits the window (or until the
// batch is full), sends it, and hands every write its own result. A batch
// the API refuses for good is sent again item by item, so that one bad item
// refuses only its own event.
type batcher[T, R any] struct {
	max    int
	window time.Duration
	// send makes one request for items and returns their results in order.
	send func(ctx context.Context, items []T) ([]R, error)

	mu      sync.Mutex
	pending *batch[T, R]
}

// batch is one request in the making.
type batch[T, R any] struct {
	items   []T
	full    chan struct{} // closed when the batch reaches max items
	done    chan struct{} // closed when results and errs are set
	results []R
	errs    []error
}

func newBatcher[T, R any](max int, window time.Duration, send func(context.Context, []T) ([]R, error)) *batcher[T, R] {
	if window <= 0 {
		window = defaultBatchWindow
	}
	return &batcher[T, R]{max: max, window: window, send: send}
}

// do adds item to the pending batch, or starts one, and returns item's
// result once the batch is sent.
func (b *batcher[T, R]) do(ctx context.Context, item T) (R, error) {
	b.mu.Lock()
	p := b.pending
	lead := p == nil
	if lead {
		p = &batch[T, R]{full: make(chan struct{}), done: make(chan struct{})}
		b.pending = p
	}
	i := len(p.items)
	p.items = append(p.items, item)
	if len(p.items) >= b.max {
		b.pending = nil
		close(p.full)
	}
	b.mu.Unlock()

	if lead {
		b.lead(ctx, p)
	}
	select {
	case <-p.done:
		return p.results[i], p.errs[i]
	case <-ctx.Done():
		// The batch may still be sent: writes are upserts, so the retry
		// this error causes does no harm.
		var zero R
		return zero, ctx.Err()
	}
}

// lead waits for the batch to fill or its window to pass, then sends it.
func (b *batcher[T, R]) lead(ctx context.Context, p *batch[T, R]) {
	timer := time.NewTimer(b.window)
	select {
	case <-timer.C:
	case <-p.full:
	case <-ctx.Done():
	}
	timer.Stop()
	b.mu.Lock()
	if b.pending == p {
		b.pending = nil
	}
	items := p.items // no one adds to p any more
	b.mu.Unlock()
	// The request is every write's, not the leader's alone: it is sent
	// whether or not the leader's handler gives up meanwhile, for no
	// longer than batchSendTimeout.
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), batchSendTimeout)
	defer cancel()
	p.results, p.errs = b.sendAll(sendCtx, items)
	close(p.done)
}

// batchSendTimeout bounds the sending of one batch, its item-by-item
// resends included.
const batchSendTimeout = 2 * time.Minute

// refusedItems reports whether err refuses a request for what some of its
// items hold (a validation error, a batch answered in part), which sending
// them one by one confines to those items, rather than for what every
// request has (a token refused), which would only be refused again once per
// item.
func refusedItems(err error) bool {
	var e *APIError
	if !events.IsPermanent(err) || !errors.As(err, &e) {
		return false
	}
	switch e.Status {
	case http.StatusBadRequest, http.StatusMultiStatus, http.StatusConflict, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// sendAll sends items in one request, or one by one when the API refused
// the request for good and there is more than one.
func (b *batcher[T, R]) sendAll(ctx context.Context, items []T) ([]R, []error) {
	results, errs := make([]R, len(items)), make([]error, len(items))
	got, err := b.send(ctx, items)
	switch {
	case err == nil:
		copy(results, got)
	case len(items) > 1 && refusedItems(err):
		for i, it := range items {
			one, err := b.send(ctx, []T{it})
			if err == nil && len(one) == 1 {
				results[i] = one[0]
			}
			errs[i] = err
		}
	default:
		for i := range errs {
			errs[i] = err
		}
	}
	return results, errs
}
