package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/contracts"
)

// countingStore counts the transactions run on a recordStore.
type countingStore struct {
	recordStore
	txs atomic.Int64
}

func (c *countingStore) Update(ctx context.Context, fn func(tx recordTx) error) error {
	c.txs.Add(1)
	return c.recordStore.Update(ctx, fn)
}

func TestBatchCommitsTogetherAndIsolatesAFailure(t *testing.T) {
	ctx := context.Background()
	mark := func(id string, err error) batchReq {
		return batchReq{ctx: ctx, done: make(chan error, 1), fn: func(tx recordTx) error {
			if _, e := tx.MarkProcessed(ctx, id, "test", clock); e != nil {
				return e
			}
			return err
		}}
	}
	bad := errors.New("bad write")
	gaveUp, cancel := context.WithCancel(ctx)
	cancel()
	abandoned := mark("b", nil)
	abandoned.ctx = gaveUp // its handler gave up waiting
	tests := []struct {
		name    string
		batch   []batchReq
		wantErr []error
		wantTxs int64 // transactions run
		wantIDs []string
	}{
		{"one transaction for the batch", []batchReq{mark("a", nil), mark("b", nil), mark("c", nil)},
			[]error{nil, nil, nil}, 1, []string{"a", "b", "c"}},
		{"a failing write fails alone", []batchReq{mark("a", nil), mark("b", bad), mark("c", nil)},
			[]error{nil, bad, nil}, 4, []string{"a", "c"}},
		{"an abandoned write is left out", []batchReq{mark("a", nil), abandoned, mark("c", nil)},
			[]error{nil, context.Canceled, nil}, 1, []string{"a", "c"}},
	}
	for _, b := range testBackends {
		for _, tt := range tests {
			t.Run(b.name+"/"+tt.name, func(t *testing.T) {
				s := b.open(t)
				cs := &countingStore{recordStore: s}
				newBatcher(cs, maxBatch, slog.New(slog.DiscardHandler)).commit(ctx, tt.batch)
				for i, r := range tt.batch {
					if err := <-r.done; !errors.Is(err, tt.wantErr[i]) {
						t.Errorf("write %d: %v, want %v", i, err, tt.wantErr[i])
					}
				}
				if n := cs.txs.Load(); n != tt.wantTxs {
					t.Errorf("%d transactions, want %d", n, tt.wantTxs)
				}
				var ids []string
				rows, err := s.reader.Query("SELECT event_id FROM processed_events ORDER BY event_id")
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				for rows.Next() {
					var id string
					_ = rows.Scan(&id)
					ids = append(ids, id)
				}
				if !reflect.DeepEqual(ids, tt.wantIDs) {
					t.Errorf("processed %v, want %v", ids, tt.wantIDs)
				}
			})
		}
	}
}

// TestConcurrentDeliveriesThroughBatches delivers events for a few contacts
// from many goroutines at once, each event twice, through the batcher as Run
// does: the rows are those of one delivery of each, in order.
func TestConcurrentDeliveriesThroughBatches(t *testing.T) {
	var steps []step
	for i := range 24 {
		steps = append(steps, step{fmt.Sprintf("e%02d", i), t0.Add(time.Duration(i%5) * time.Minute),
			adaLead(func(l *contracts.Lead) {
				l.Email = fmt.Sprintf("lead%d@example.com", i%4)
				l.Title, l.Domain = fmt.Sprintf("Title %d", i%3), "example.com"
				l.SignalScore = ptr(float64(i))
			})})
	}
	for _, b := range testBackends {
		t.Run(b.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			serial, concurrent := b.open(t), b.open(t)
			runSteps(t, serial, steps)

			batches := newBatcher(concurrent, maxBatch, slog.New(slog.DiscardHandler))
			done := make(chan struct{})
			go func() { batches.run(ctx, concurrent.writers); close(done) }()
			w := newTestWriter(concurrent, discard{})
			w.store, w.relay.store = batches, batches
			var wg sync.WaitGroup
			errs := make(chan error, 2*len(steps))
			for _, st := range append(append([]step(nil), steps...), steps...) {
				wg.Go(func() {
					if err := w.handle(ctx, enriched(t, st.id, st.at, st.lead)); err != nil {
						errs <- fmt.Errorf("%s: %w", st.id, err)
					}
				})
			}
			wg.Wait()
			cancel()
			<-done
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if want, got := dump(t, serial), dump(t, concurrent); !reflect.DeepEqual(got, want) {
				t.Errorf("rows differ\nconcurrent:\n%s\nserial:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if err := batches.Update(context.Background(), func(recordTx) error { return nil }); !errors.Is(err, errStopping) {
				t.Errorf("Update after the batcher stopped = %v, want errStopping", err)
			}
		})
	}
}

// TestBatchRemovesPublishedEntriesWithTheNextWrite checks that removing
// published outbox entries costs no transaction of its own while writes
// come, and that removals still pending when the batcher stops are made.
func TestBatchRemovesPublishedEntriesWithTheNextWrite(t *testing.T) {
	for _, b := range testBackends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := b.open(t)
			seqs := enqueueChanges(t, s, 3)
			cs := &countingStore{recordStore: s}
			bt := newBatcher(cs, maxBatch, slog.New(slog.DiscardHandler))
			bt.removeEvery = time.Hour // removals ride on writes, or go at the stop
			bctx, stop := context.WithCancel(ctx)
			stopped := make(chan struct{})
			go func() { bt.run(bctx, 1); close(stopped) }()

			if err := bt.Done(ctx, seqs[:2]...); err != nil {
				t.Fatal(err)
			}
			if err := bt.Update(ctx, func(tx recordTx) error {
				_, err := tx.MarkProcessed(ctx, "w", "test", clock)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			left, err := s.PendingBefore(ctx, clock.Add(time.Hour), 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(left) != 1 || left[0].seq != seqs[2] || cs.txs.Load() != 1 {
				t.Errorf("after one write: %d entries left, %d transactions; want entry %d alone, 1 transaction",
					len(left), cs.txs.Load(), seqs[2])
			}

			if err := bt.Done(ctx, seqs[2]); err != nil {
				t.Fatal(err)
			}
			stop()
			<-stopped
			if left, err := s.PendingBefore(ctx, clock.Add(time.Hour), 10); err != nil || len(left) != 0 {
				t.Errorf("after stopping: %d entries left (%v), want none", len(left), err)
			}
		})
	}
}

// TestBatchWaitsOnlyUnderLoad commits a lone write at once, and makes a
// batch that found writes queueing wait up to the commit delay for more, as
// long as they keep coming.
func TestBatchWaitsOnlyUnderLoad(t *testing.T) {
	tests := []struct {
		name       string
		delay, gap time.Duration
		queued     int // writes waiting when the batcher starts
		later      int // writes submitted after it started, 20ms apart
		wantTxs    int64
	}{
		{"a lone write does not wait", time.Hour, time.Hour, 1, 0, 1},
		{"queued writes wait for the next ones", 500 * time.Millisecond, 500 * time.Millisecond, 2, 1, 1},
		{"queued writes wait no longer than the delay", 50 * time.Millisecond, time.Hour, 2, 0, 1},
		{"without a delay, later writes commit apart", 0, time.Hour, 2, 1, 2},
		{"a write later than the gap commits apart", time.Hour, 5 * time.Millisecond, 2, 1, 2},
		{"each write within the gap waits it again", time.Hour, 100 * time.Millisecond, 2, 7, 1}, // 140ms in all
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			cs := &countingStore{recordStore: testBackends[0].open(t)}
			bt := newBatcher(cs, maxBatch, slog.New(slog.DiscardHandler))
			bt.delay, bt.gap = tt.delay, tt.gap
			var dones []chan error
			write := func(id string) {
				done := make(chan error, 1)
				dones = append(dones, done)
				go func() {
					done <- bt.Update(ctx, func(tx recordTx) error {
						_, err := tx.MarkProcessed(ctx, id, "test", clock)
						return err
					})
				}()
			}
			for i := range tt.queued {
				write(fmt.Sprint("queued-", i))
			}
			time.Sleep(20 * time.Millisecond) // all of them waiting to be taken
			bctx, stop := context.WithCancel(ctx)
			stopped := make(chan struct{})
			go func() { bt.run(bctx, 1); close(stopped) }()
			defer func() { stop(); <-stopped }()
			for i := range tt.later {
				time.Sleep(20 * time.Millisecond) // the first batch has formed
				write(fmt.Sprint("later-", i))
			}
			for i, done := range dones {
				select {
				case err := <-done:
					if err != nil {
						t.Fatalf("write %d: %v", i, err)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("write %d still waiting", i)
				}
			}
			if got := cs.txs.Load(); got != tt.wantTxs {
				t.Errorf("%d transactions, want %d", got, tt.wantTxs)
			}
		})
	}
}

// TestBatchWaitsWhileWritesKeepComing makes a lone write submitted within
// the gap of the one before it wait for the next, and commits one that
// comes after a quiet spell at once.
func TestBatchWaitsWhileWritesKeepComing(t *testing.T) {
	tests := []struct {
		name    string
		gap     time.Duration
		apart   time.Duration // between the three writes, one at a time
		wantTxs int64
	}{
		{"writes within the gap share a commit", 300 * time.Millisecond, 50 * time.Millisecond, 2},
		{"writes further apart than the gap commit alone", 20 * time.Millisecond, 80 * time.Millisecond, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			cs := &countingStore{recordStore: testBackends[0].open(t)}
			bt := newBatcher(cs, maxBatch, slog.New(slog.DiscardHandler))
			bt.delay, bt.gap = 5*time.Second, tt.gap
			bctx, stop := context.WithCancel(ctx)
			stopped := make(chan struct{})
			go func() { bt.run(bctx, 1); close(stopped) }()
			defer func() { stop(); <-stopped }()

			var wg sync.WaitGroup
			errs := make(chan error, 3)
			for i := range 3 {
				if i > 0 {
					time.Sleep(tt.apart)
				}
				wg.Go(func() {
					errs <- bt.Update(ctx, func(tx recordTx) error {
						_, err := tx.MarkProcessed(ctx, fmt.Sprint("w-", i), "test", clock)
						return err
					})
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if got := cs.txs.Load(); got != tt.wantTxs {
				t.Errorf("%d transactions, want %d", got, tt.wantTxs)
			}
		})
	}
}
