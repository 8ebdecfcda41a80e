package store

import (
	"context"
	"errors"
	"sync"
	"time"
)

// batcher is group commit: it runs the write transactions of concurrent
// handlers together, up to max at a time, in one database transaction, so
// that a burst of events costs one commit (one fsync on SQLite) instead of
// one each. If the shared transaction fails, each of its writes runs again
// alone, so that one bad write fails only its own event.
type batcher struct {
	recordStore
	max     int
	reqs    chan batchReq
	stopped chan struct{}
	// delay is how long a batch whose first write found another already
	// waiting waits for more before it commits, and gap how long it waits
	// for the next one meanwhile.
	delay, gap time.Duration

	// removed are published outbox entries to remove in the next batch, or
	// after removeEvery when no batch comes.
	mu          sync.Mutex
	removed     []int64
	removeEvery time.Duration
}

// batchReq is one handler's transaction waiting for its batch.
type batchReq struct {
	ctx  context.Context
	fn   func(tx recordTx) error
	done chan error
}

// errStopping is returned to writes that arrive after the batcher stopped.
var errStopping = errors.New("store is stopping")

func newBatcher(s recordStore, max int) *batcher {
	return &batcher{recordStore: s, max: max, reqs: make(chan batchReq), stopped: make(chan struct{}),
		delay: commitDelay, gap: commitGap, removeEvery: removeInterval}
}

// Update runs fn in the next batch and returns once that batch committed,
// or with fn's error.
func (b *batcher) Update(ctx context.Context, fn func(tx recordTx) error) error {
	r := batchReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case b.reqs <- r:
	case <-b.stopped:
		return errStopping
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-r.done // a batch runs to its end: its outcome is always known
}

// commitDelay is how long a batch whose first write found another already
// waiting waits for more before it commits: writes queueing up behind a commit
// mean the store is under load, and then one commit serving 25 writes
// instead of 5 costs less than half as much per write (fewer WAL frames, one
// fsync), which is worth more than the wait. A lone write, the rule when the
// store is quiet, commits at once; a batch that already holds every busy
// handler's write waits the delay for nothing.
const commitDelay = 5 * time.Millisecond

// commitGap ends that wait early when no write came for this long: the
// batch then holds what the busy handlers had to write, and waiting on
// only adds latency. It nearly doubled the store's batched upserts with 16
// writers (whose writes were all in the batch before its 5 ms were up), and
// cut the store's median latency in the pipeline at 1,000 leads/s from
// 13 ms to 8 ms.
const commitGap = time.Millisecond

// removeInterval is how long published outbox entries wait for a batch to
// be removed in before they get one of their own.
const removeInterval = 100 * time.Millisecond

// Done removes published outbox entries in the next batch, without waiting
// for it: an entry whose removal is lost is published again by the relay,
// with the same id, within a minute, and the stream keeps it once. Only a
// crash followed by more than the stream's two-minute duplicate window can
// store it twice, and consumers settle a change event they already handled
// by its id.
func (b *batcher) Done(_ context.Context, seqs ...int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.removed = append(b.removed, seqs...)
	return nil
}

// removals returns the batch request that removes the entries published
// since the last one, or false when there are none.
func (b *batcher) removals() (batchReq, bool) {
	b.mu.Lock()
	seqs := b.removed
	b.removed = nil
	b.mu.Unlock()
	if len(seqs) == 0 {
		return batchReq{}, false
	}
	return batchReq{ctx: context.Background(), done: make(chan error, 1),
		fn: func(tx recordTx) error { return tx.Remove(context.Background(), seqs...) }}, true
}

// run forms batches from the waiting writes until ctx is done, committing
// up to workers batches at a time.
func (b *batcher) run(ctx context.Context, workers int) {
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Go(func() { b.loop(ctx) })
	}
	wg.Wait()
	close(b.stopped)
}

func (b *batcher) loop(ctx context.Context) {
	tick := time.NewTicker(b.removeEvery)
	defer tick.Stop()
	for {
		var batch []batchReq
		select {
		case first := <-b.reqs:
			batch = append(batch, first)
		case <-tick.C:
		case <-ctx.Done():
			if r, ok := b.removals(); ok {
				b.commit([]batchReq{r})
			}
			return
		}
		batch = b.fill(batch)
		if r, ok := b.removals(); ok {
			batch = append(batch, r)
		}
		if len(batch) > 0 {
			b.commit(batch)
		}
	}
}

// fill adds the writes waiting, up to max, to batch; if that makes two or
// more, it waits up to delay for further ones, as long as they come no more
// than gap apart.
func (b *batcher) fill(batch []batchReq) []batchReq {
waiting:
	for len(batch) < b.max {
		select {
		case r := <-b.reqs:
			batch = append(batch, r)
		default:
			break waiting
		}
	}
	if len(batch) < 2 || b.delay <= 0 {
		return batch
	}
	linger := time.NewTimer(b.delay)
	defer linger.Stop()
	gap := time.NewTimer(b.gap)
	defer gap.Stop()
	for len(batch) < b.max {
		select {
		case r := <-b.reqs:
			batch = append(batch, r)
			gap.Reset(b.gap)
		case <-gap.C:
			return batch
		case <-linger.C:
			return batch
		}
	}
	return batch
}

// commit runs batch in one transaction and, if that fails, each write in
// a transaction of its own.
func (b *batcher) commit(batch []batchReq) {
	if len(batch) > 1 {
		// A write whose handler gave up is left out of the batch, which
		// the others commit without it.
		abandoned := make([]error, len(batch))
		err := b.recordStore.Update(context.Background(), func(tx recordTx) error {
			for i, r := range batch {
				if abandoned[i] = r.ctx.Err(); abandoned[i] != nil {
					continue
				}
				if err := r.fn(tx); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			for i, r := range batch {
				r.done <- abandoned[i]
			}
			return
		}
	}
	for _, r := range batch {
		r.done <- b.recordStore.Update(r.ctx, r.fn)
	}
}
