package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.opentelemetry.io/otel/propagation"

	"github.com/gtmhub/gtmhub/events"
)

// publisher stores an event on a subject and returns after the stream
// acknowledged it. *events.Publisher is one.
type publisher interface {
	Publish(ctx context.Context, subject string, ev event.Event) error
}

// relay publishes the change events of the outbox and removes each once the
// stream has it. An entry published twice, by a handler and by the relay or
// after a crash, carries the same id and is stored once within the stream's
// duplicate window.
type relay struct {
	store recordStore
	pub   publisher
	prop  propagation.TextMapPropagator
	log   *slog.Logger
	now   func() time.Time
	// failed counts the sweeps that failed in a row, so that an outage is
	// logged when it starts and when it ends, not at every sweep.
	failed int
}

// relayBatch is how many entries the relay reads at a time.
const relayBatch = 100

// publishFor publishes the outbox entries of the input event inputID.
func (r *relay) publishFor(ctx context.Context, inputID string) error {
	entries, err := r.store.PendingFor(ctx, inputID)
	if err != nil {
		return err
	}
	return r.publish(ctx, entries)
}

// publish publishes entries in order and removes those the stream
// acknowledged.
func (r *relay) publish(ctx context.Context, entries []outboxEntry) error {
	done := make([]int64, 0, len(entries))
	var err error
	for _, e := range entries {
		// The publish continues the trace of the write that enqueued it.
		pctx := events.ExtractTrace(ctx, r.prop, e.event)
		if err = r.pub.Publish(pctx, e.subject, e.event); err != nil {
			err = fmt.Errorf("publish %s %s: %w", e.subject, e.event.ID(), err)
			break
		}
		done = append(done, e.seq)
	}
	return errors.Join(err, r.store.Done(context.WithoutCancel(ctx), done...))
}

// run empties the outbox at once, then every interval publishes the entries
// older than grace, which their handler did not publish: it failed and its
// event was dead-lettered, or the process stopped. It returns when ctx is
// done.
func (r *relay) run(ctx context.Context, interval, grace time.Duration) error {
	r.sweep(ctx, r.now())
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			r.sweep(ctx, r.now().Add(-grace))
		}
	}
}

// sweep publishes every entry created no later than before. A failure is
// logged as a warning, except that while the database cannot be reached
// only the first failed sweep warns and the others log at debug level; the
// sweep that succeeds again says how many failed. The next sweep tries
// again.
func (r *relay) sweep(ctx context.Context, before time.Time) {
	total := 0
	for {
		entries, err := r.store.PendingBefore(ctx, before, relayBatch)
		if err == nil {
			err = r.publish(ctx, entries)
		}
		if err != nil {
			if ctx.Err() == nil {
				r.sweepFailed(ctx, total, err)
			}
			return
		}
		total += len(entries)
		if len(entries) < relayBatch {
			break
		}
	}
	if r.failed > 0 {
		r.log.InfoContext(ctx, logRelayRecovered, "failed_sweeps", r.failed)
		r.failed = 0
	}
	if total > 0 {
		r.log.InfoContext(ctx, "outbox relayed change events", "published", total)
	}
}

// Messages of a row of failed sweeps.
const (
	logRelayFailed    = "outbox relay failed; trying again at the next sweep"
	logRelayStill     = "outbox relay failed again"
	logRelayRecovered = "outbox relay works again"
)

func (r *relay) sweepFailed(ctx context.Context, published int, err error) {
	r.failed++
	level, msg := slog.LevelWarn, logRelayFailed
	if r.failed > 1 && unreachable(err) {
		level, msg = slog.LevelDebug, logRelayStill
	}
	r.log.Log(ctx, level, msg, "published", published, "failed_sweeps", r.failed, "err", events.Redact(err.Error()))
}
