package store

import (
	"context"
	"log/slog"
	"time"

	"github.com/gtmhub/gtmhub/events/service"
)

// DefaultProcessedRetention is how long the store remembers that it
// processed an event: as long as the LEADS stream keeps events, so that any
// redelivery or replay from LEADS finds its event remembered.
const DefaultProcessedRetention = 30 * 24 * time.Hour

// forgetEvery is how often processed events past the retention are
// forgotten, and forgetBatch how many go in one transaction, so that the
// writer is never held for long.
const (
	forgetEvery = time.Hour
	forgetBatch = 1000
)

// forgetter keeps processed_events from growing without bound. Forgetting
// an event is safe even while it may come again: the write of an event
// already applied merges nothing new (each field keeps its latest writer,
// its activity is recorded once), so it changes no record and publishes no
// change event; remembering it only spares that work.
type forgetter struct {
	store     recordStore
	retention time.Duration
	log       *slog.Logger
	now       func() time.Time
}

// run forgets at start and then every interval until ctx is done.
func (f *forgetter) run(ctx context.Context, interval time.Duration) {
	service.Every(ctx, interval, func(ctx context.Context) {
		if n, err := f.forget(ctx); err != nil && ctx.Err() == nil {
			f.log.WarnContext(ctx, "forget processed events", "err", err)
		} else if n > 0 {
			f.log.InfoContext(ctx, "forgot processed events", "count", n, "retention", f.retention.String())
		}
	})
}

// forget forgets every event processed longer than the retention ago, a
// batch per transaction, and returns how many it forgot.
func (f *forgetter) forget(ctx context.Context) (int64, error) {
	before := f.now().Add(-f.retention)
	var total int64
	for {
		var n int64
		err := f.store.Update(ctx, func(tx recordTx) error {
			var err error
			n, err = tx.ForgetProcessed(ctx, before, forgetBatch)
			return err
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < forgetBatch {
			return total, nil
		}
	}
}
