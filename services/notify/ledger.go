package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/contracts"
)

// LedgerBucket is the JetStream key-value bucket that remembers every
// notification decided within the dedupe window, keyed by its decision id.
const LedgerBucket = "notify-ledger"

// ledger remembers decisions so that one notification is acted on once
// within the dedupe window, across redeliveries, replays and restarts.
type ledger struct {
	kv jetstream.KeyValue
}

// ledgerEntry is the value stored for a decision.
type ledgerEntry struct {
	Rule    string            `json:"rule"`
	Outcome contracts.Outcome `json:"outcome"`
	EventID string            `json:"event_id"`
	At      time.Time         `json:"at"`
}

// openLedger creates or updates the bucket; entries expire after ttl.
func openLedger(ctx context.Context, js jetstream.JetStream, ttl time.Duration) (*ledger, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
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

// seen reports whether the decision id is already recorded.
func (l *ledger) seen(ctx context.Context, id string) (bool, error) {
	_, err := l.kv.Get(ctx, id)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("ledger get %s: %w", id, err)
	}
}

// record stores the decision under its id.
func (l *ledger) record(ctx context.Context, id string, e ledgerEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("ledger entry: %w", err)
	}
	if _, err := l.kv.Put(ctx, id, b); err != nil {
		return fmt.Errorf("ledger put %s: %w", id, err)
	}
	return nil
}

// check is the ledger's readiness check.
func (l *ledger) check(ctx context.Context) error {
	if _, err := l.kv.Status(ctx); err != nil {
		return fmt.Errorf("ledger bucket %s: %w", LedgerBucket, err)
	}
	return nil
}
