package store

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// batcher is group commit: it runs the write transactions of concurrent
// handlers together, up to max at a time, in one database transaction, so
// that a burst of events costs one commit (one fsync on SQLite) instead of
// one each. If the shared transaction fails because the database cannot be
// reached, the batch is held until it answers (see hold); if it fails for
// another reason, each of its writes runs again alone, so that one bad
// write fails only its own event.
type batcher struct {
	recordStore
	max     int
	reqs    chan batchReq
	stopped chan struct{}
	// delay is how long a batch whose first write found another already
	// waiting waits for more before it commits, and gap how long it waits
	// for the next one meanwhile.
	delay, gap time.Duration
	// reach is whether the database answers; maxHold bounds how long a
	// write is held while it does not.
	reach   *outage
	maxHold time.Duration

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
	// at is when the write was submitted.
	at time.Time
}

// errStopping is returned to writes that arrive after the batcher stopped.
var errStopping = errors.New("store is stopping")

func newBatcher(s recordStore, max int, log *slog.Logger) *batcher {
	return &batcher{recordStore: s, max: max, reqs: make(chan batchReq), stopped: make(chan struct{}),
		delay: commitDelay, gap: commitGap, reach: newOutage(log), maxHold: maxHold, removeEvery: removeInterval}
}

// Update runs fn in the next batch and returns once that batch committed,
// or with fn's error. While the database cannot be reached it waits, up to
// maxHold, for it to answer; a handler whose ctx ends meanwhile gets its
// write abandoned and ctx's error joined with the database's.
func (b *batcher) Update(ctx context.Context, fn func(tx recordTx) error) error {
	r := batchReq{ctx: ctx, fn: fn, done: make(chan error, 1), at: time.Now()}
	select {
	case b.reqs <- r:
	case <-b.stopped:
		return errStopping
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-r.done // a batch runs to its end: its outcome is always known
}

// commitDelay is how long a batch waits for more writes before it commits
// when writes are coming fast: queueing up behind a commit, or submitted
// within commitGap of the last write taken. The store is then under load,
// and one commit serving 25 writes instead of 5 costs less than half as
// much per write (fewer WAL frames, one fsync), which is worth more than
// the wait. A lone write after a quiet spell, the rule when the store is
// quiet, commits at once.
const commitDelay = 5 * time.Millisecond

// commitGap ends that wait early when no write came for this long: the
// batch then holds what the busy handlers had to write, and waiting on
// only adds latency. It nearly doubled the store's batched upserts with 16
// writers (whose writes were all in the batch before its 5 ms were up), and
// cut the store's median latency in the pipeline at 1,000 leads/s from
// 13 ms to 8 ms. A write submitted within the gap of the one taken before
// it waits too, even alone: in the pipeline, where the store takes leads
// one by one as enrich publishes them, half its commits held a single
// write until it did, and two fifths fewer commits (fsyncs) served the same
// leads once it did.
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
	var last time.Time // when the last write taken was submitted
	for {
		var batch []batchReq
		steady := false
		select {
		case first := <-b.reqs:
			batch = append(batch, first)
			steady = !last.IsZero() && first.at.Sub(last) < b.gap
		case <-tick.C:
		case <-ctx.Done():
			// Tried once, not held: an entry whose removal is lost is
			// published again, and stored once.
			if r, ok := b.removals(); ok {
				b.commit(ctx, []batchReq{r})
			}
			return
		}
		batch = b.fill(batch, steady)
		if len(batch) > 0 {
			last = batch[len(batch)-1].at
		}
		if r, ok := b.removals(); ok {
			batch = append(batch, r)
		}
		if len(batch) > 0 {
			b.commit(ctx, batch)
		}
	}
}

// fill adds the writes waiting, up to max, to batch; if that makes two or
// more, or steady says writes have been coming no more than gap apart, it
// waits up to delay for further ones, as long as they keep coming that
// close.
func (b *batcher) fill(batch []batchReq, steady bool) []batchReq {
waiting:
	for len(batch) < b.max {
		select {
		case r := <-b.reqs:
			batch = append(batch, r)
		default:
			break waiting
		}
	}
	if len(batch) < 2 && !steady || b.delay <= 0 {
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

// commit runs batch in one transaction, held while the database cannot be
// reached, and, if that transaction fails for another reason, each write in
// a transaction of its own. ctx is the batcher's: a batch still held when
// it ends is given up.
func (b *batcher) commit(ctx context.Context, batch []batchReq) {
	batch, err := b.hold(ctx, batch)
	switch {
	case len(batch) == 0:
	case len(batch) == 1:
		batch[0].done <- err
	default:
		for _, r := range batch {
			b.commit(ctx, []batchReq{r})
		}
	}
}

// hold runs batch in one transaction until it commits or fails for another
// reason than the database being out of reach, and answers its writes when
// it commits. While the database cannot be reached the batch is held: one
// held batch at a time tries again with backoff, as b.reach says, which
// costs what a ping would (the connection is refused before any statement
// runs) and proves, when it commits, that writes go through again; the
// other batches wait for it. A held write whose handler gives up is
// answered with its context's error joined with the database's, and the
// whole batch with the database's error once held for maxHold, or when ctx
// ends. hold returns the writes it did not answer and the error of their
// transaction.
func (b *batcher) hold(ctx context.Context, batch []batchReq) ([]batchReq, error) {
	h := &held{batch: batch}
	defer h.release(b.reach)
	for {
		try, changed, err := b.reach.turn(h)
		var wait time.Duration
		if try {
			if err = b.together(h.batch); err == nil {
				b.reach.answered(ctx)
				return nil, nil
			}
			// A write whose handler gave up failed for that, not for
			// the database, and goes no further.
			if h.settle(ctx, err, 0); len(h.batch) == 0 {
				return nil, nil
			}
			if !unreachable(err) {
				b.reach.answered(ctx)
				return h.batch, err
			}
			wait, changed = b.reach.failed(ctx, h, err)
		}
		h.await(ctx, b.maxHold, wait, changed)
		if h.settle(ctx, err, b.maxHold); len(h.batch) == 0 {
			return nil, nil
		}
	}
}

// together runs batch in one transaction and, if it commits, answers its
// writes. A write whose handler gave up is left out, and answered with its
// context's error; a lone write runs with its handler's context.
func (b *batcher) together(batch []batchReq) error {
	if len(batch) == 1 {
		r := batch[0]
		err := b.recordStore.Update(r.ctx, r.fn)
		if err == nil {
			r.done <- nil
		}
		return err
	}
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
	}
	return err
}

// held is a batch whose transaction found the database out of reach.
type held struct {
	batch []batchReq
	// since is when the batch was first held, zero until then; expired
	// fires maxHold later, and gaveUp when a write's handler gives up.
	since   time.Time
	expired *time.Timer
	gaveUp  chan struct{}
	unwatch []func() bool
}

// await waits until the batch's next try is due (after wait, when it
// probes), the outage changed, a write's handler gave up, the batch was
// held for maxHold, or ctx ended.
func (h *held) await(ctx context.Context, maxHold, wait time.Duration, changed <-chan struct{}) {
	if h.since.IsZero() {
		h.since, h.expired, h.gaveUp = time.Now(), time.NewTimer(maxHold), make(chan struct{}, 1)
		for _, r := range h.batch {
			h.unwatch = append(h.unwatch, context.AfterFunc(r.ctx, func() {
				select {
				case h.gaveUp <- struct{}{}:
				default:
				}
			}))
		}
	}
	var due <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		due = t.C
	}
	select {
	case <-due:
	case <-changed:
	case <-h.gaveUp:
	case <-h.expired.C:
	case <-ctx.Done():
	}
}

// settle answers the writes whose handler gave up, with its context's
// error joined with err, and, once the batch has been held for maxHold (0:
// not yet held) or ctx ended, every write with err; it keeps the others.
func (h *held) settle(ctx context.Context, err error, maxHold time.Duration) {
	over := ctx.Err() != nil || maxHold > 0 && time.Since(h.since) >= maxHold
	kept := h.batch[:0:0]
	for _, r := range h.batch {
		switch {
		case r.ctx.Err() != nil:
			r.done <- errors.Join(r.ctx.Err(), err)
		case ctx.Err() != nil:
			r.done <- errors.Join(errStopping, err)
		case over:
			r.done <- err
		default:
			kept = append(kept, r)
		}
	}
	h.batch = kept
}

// release stops watching the batch and, if it probes the database, leaves
// the probing to another held batch.
func (h *held) release(reach *outage) {
	reach.leave(h)
	if h.expired != nil {
		h.expired.Stop()
	}
	for _, stop := range h.unwatch {
		stop()
	}
}
