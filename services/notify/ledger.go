package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/service"
)

// LedgerBucket is the JetStream key-value bucket that remembers every
// notification decided within the dedupe window, keyed by its decision id.
const LedgerBucket = "notify-ledger"

// State is where a notification stands in the ledger.
//
// A notification is claimed (KV Create: only one claimant wins) before it is
// sent, and moves from claimed to its outcome with an Update at the
// revision the claim returned. A claim whose send failed in a way worth
// retrying is released (deleted at its revision) so the retry can claim it
// again. A claim still standing after the claim lease means the process
// stopped between sending and writing the outcome: notify cannot know
// whether the message went out, and picks at-most-once: it does not send
// again and records the notification as suppressed ("interrupted"). A
// notification whose channel is not configured is created as skipped:
// nothing is sent, so there is nothing to claim.
type State string

// Ledger states.
const (
	StateClaimed     State = "claimed"     // a send is in flight
	StateSent        State = "sent"        // delivered
	StateFailed      State = "failed"      // refused for good; a redrive may claim it again
	StateSkipped     State = "skipped"     // the channel is not configured
	StateDeferred    State = "deferred"    // over the daily quota, waiting in the deferred bucket
	StateInterrupted State = "interrupted" // a claim outlived its lease: maybe sent, never resent
	StateUnneeded    State = "unneeded"    // the destination already holds the change (see [Skipper])
)

// ledger remembers decisions so that one notification is acted on once
// within the dedupe window, across redeliveries, replays and restarts.
type ledger struct {
	kv jetstream.KeyValue
}

// LedgerEntry is the value stored for a decision.
type LedgerEntry struct {
	Rule    string            `json:"rule"`
	Channel contracts.Channel `json:"channel,omitempty"`
	State   State             `json:"state"`
	Reason  string            `json:"reason,omitempty"`
	EventID string            `json:"event_id"`
	At      time.Time         `json:"at"`
	// Published is set once the decision event is stored on NOTIFY.
	Published bool `json:"published,omitempty"`
}

// bucketOpener creates or updates a KV bucket with the deployment's replica
// count (service.Resolved.KeyValue).
type bucketOpener func(context.Context, jetstream.KeyValueConfig) (jetstream.KeyValue, error)

// joinBucket opens a bucket as it is when it exists, and creates it as its
// configuration says only when it does not: for a one-off command, which
// must not change what the running service set (the ledger's dedupe
// window, say).
func joinBucket(r service.Resolved) bucketOpener {
	return func(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
		kv, err := r.JS.KeyValue(ctx, cfg.Bucket)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			return r.KeyValue(ctx, cfg)
		}
		return kv, err
	}
}

// openLedger creates or updates the bucket; entries expire after ttl.
func openLedger(ctx context.Context, open bucketOpener, ttl time.Duration) (*ledger, error) {
	kv, err := open(ctx, jetstream.KeyValueConfig{
		Bucket:      LedgerBucket,
		Description: "notification decisions within the dedupe window, by decision id",
		TTL:         ttl,
		History:     1,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("ledger bucket %s: %w", LedgerBucket, err)
	}
	return &ledger{kv: kv}, nil
}

// claim creates id with e, in state claimed or, when nothing will be sent,
// skipped. When id already exists it returns the existing entry and its
// revision instead, and claimed is false.
func (l *ledger) claim(ctx context.Context, id string, e LedgerEntry) (cur LedgerEntry, rev uint64, claimed bool, err error) {
	b, err := json.Marshal(e)
	if err != nil {
		return LedgerEntry{}, 0, false, fmt.Errorf("ledger entry: %w", err)
	}
	rev, err = l.kv.Create(ctx, id, b)
	if err == nil {
		return e, rev, true, nil
	}
	if !events.KVConflict(err) {
		return LedgerEntry{}, 0, false, fmt.Errorf("ledger claim %s: %w", id, err)
	}
	cur, rev, err = l.get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		// Released or expired between Create and Get: try once more.
		return l.claim(ctx, id, e)
	}
	return cur, rev, false, err
}

// get returns id's entry and revision.
func (l *ledger) get(ctx context.Context, id string) (LedgerEntry, uint64, error) {
	kve, err := l.kv.Get(ctx, id)
	if err != nil {
		return LedgerEntry{}, 0, fmt.Errorf("ledger get %s: %w", id, err)
	}
	var e LedgerEntry
	if err := json.Unmarshal(kve.Value(), &e); err != nil {
		return LedgerEntry{}, 0, fmt.Errorf("ledger entry %s: %w", id, err)
	}
	return e, kve.Revision(), nil
}

// update moves id from revision rev to e, and returns the new revision. It
// fails with an error [events.KVConflict] reports when someone else wrote
// id since rev.
func (l *ledger) update(ctx context.Context, id string, rev uint64, e LedgerEntry) (uint64, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return 0, fmt.Errorf("ledger entry: %w", err)
	}
	next, err := l.kv.Update(ctx, id, b, rev)
	if err != nil {
		return 0, fmt.Errorf("ledger update %s: %w", id, err)
	}
	return next, nil
}

// put writes e under id whatever is there.
func (l *ledger) put(ctx context.Context, id string, e LedgerEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("ledger entry: %w", err)
	}
	if _, err := l.kv.Put(ctx, id, b); err != nil {
		return fmt.Errorf("ledger put %s: %w", id, err)
	}
	return nil
}

// release deletes id's claim at revision rev, so a retry can claim it.
func (l *ledger) release(ctx context.Context, id string, rev uint64) error {
	if err := l.kv.Delete(ctx, id, jetstream.LastRevision(rev)); err != nil {
		return fmt.Errorf("ledger release %s: %w", id, err)
	}
	return nil
}

// releasing releases id's claim at revision rev and returns err, joined
// with the release's error if it failed.
func (l *ledger) releasing(ctx context.Context, id string, rev uint64, err error) error {
	if rerr := l.release(ctx, id, rev); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

// check is the ledger's readiness check.
func (l *ledger) check(ctx context.Context) error {
	if _, err := l.kv.Status(ctx); err != nil {
		return fmt.Errorf("ledger bucket %s: %w", LedgerBucket, err)
	}
	return nil
}
