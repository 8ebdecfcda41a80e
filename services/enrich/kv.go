package enrich

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/events/service"
)

// CreditsBucket is the JetStream KV bucket holding each provider's credits
// used per month, under the key "{provider}.{YYYY-MM}".
const CreditsBucket = "enrich_credits"

// CacheBucket returns the name of the JetStream KV bucket caching the
// provider's answers; its entries expire after the provider's cache_ttl.
func CacheBucket(provider string) string { return "enrich_cache_" + provider }

// credits counts a provider's monthly credits in a KV bucket. Every change
// is a compare-and-set on the entry's revision, so workers and processes
// sharing the bucket never spend more than the limit between them.
type credits struct {
	kv       jetstream.KeyValue
	provider string
	limit    int // 0: no limit
	now      func() time.Time
	// report, when set, is told the month's count after every change, for
	// usage against the quota (gtmhub status).
	report   func(ctx context.Context, used int)
	reportMu sync.Mutex
}

// CreditsKey returns the key of provider's credit count for the month of t.
func CreditsKey(provider string, t time.Time) string {
	return provider + "." + t.UTC().Format("2006-01")
}

// reserve takes one credit for this month, or returns [ErrBudgetSpent]. It
// returns the key it was taken from, for [credits.refund].
func (c *credits) reserve(ctx context.Context) (string, error) {
	key := CreditsKey(c.provider, c.now())
	return key, c.add(ctx, key, 1)
}

// refund gives back a credit reserved under key for a call the provider did
// not charge for.
func (c *credits) refund(ctx context.Context, key string) error {
	return c.add(ctx, key, -1)
}

// reportUsage tells report the month's count as it is now: reports are
// serialized and each reads the count afresh, so the last one is current.
func (c *credits) reportUsage(ctx context.Context) {
	if c.report == nil {
		return
	}
	c.reportMu.Lock()
	defer c.reportMu.Unlock()
	if n, err := c.used(ctx); err == nil {
		c.report(ctx, n)
	}
}

// used returns the credits used this month.
func (c *credits) used(ctx context.Context) (int, error) {
	n, _, err := c.get(ctx, CreditsKey(c.provider, c.now()))
	return n, err
}

func (c *credits) add(ctx context.Context, key string, delta int) error {
	for {
		n, rev, err := c.get(ctx, key)
		if err != nil {
			return err
		}
		next := max(n+delta, 0)
		if delta > 0 && c.limit > 0 && next > c.limit {
			return fmt.Errorf("%w (%d of %d this month)", ErrBudgetSpent, n, c.limit)
		}
		val := []byte(strconv.Itoa(next))
		if rev == 0 {
			_, err = c.kv.Create(ctx, key, val)
		} else {
			_, err = c.kv.Update(ctx, key, val, rev)
		}
		switch {
		case err == nil:
			c.reportUsage(ctx)
			return nil
		case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
			continue // another worker got there first: read again
		default:
			return fmt.Errorf("credits %s: %w", key, err)
		}
	}
}

// get returns the count under key and its revision, 0 when there is none.
func (c *credits) get(ctx context.Context, key string) (int, uint64, error) {
	e, err := c.kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return 0, 0, nil
	case err != nil:
		return 0, 0, fmt.Errorf("credits %s: %w", key, err)
	}
	n, err := strconv.Atoi(string(e.Value()))
	if err != nil {
		return 0, 0, fmt.Errorf("credits %s: value %q is not a count", key, e.Value())
	}
	return n, e.Revision(), nil
}

// cacheEntry is one cached answer.
type cacheEntry struct {
	Result
	// Skip is the reason the provider refused the input for good.
	Skip string `json:"skip,omitempty"`
	// Pending marks a lookup the provider has queued and already charged
	// for: asking again is free, so no credit is reserved.
	Pending bool `json:"pending,omitempty"`
}

// cache keeps a provider's answers in a KV bucket whose entries expire
// after the provider's cache_ttl. Keys are SHA-256 hashes of what was
// looked up, so no email appears in a key.
type cache struct{ kv jetstream.KeyValue }

func cacheKey(lookup string) string {
	sum := sha256.Sum256([]byte(lookup))
	return hex.EncodeToString(sum[:])
}

// get returns the entry for lookup, if any.
func (c *cache) get(ctx context.Context, lookup string) (cacheEntry, bool, error) {
	e, err := c.kv.Get(ctx, cacheKey(lookup))
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return cacheEntry{}, false, nil
	case err != nil:
		return cacheEntry{}, false, fmt.Errorf("cache: %w", err)
	}
	var ce cacheEntry
	if err := json.Unmarshal(e.Value(), &ce); err != nil {
		return cacheEntry{}, false, nil // unreadable: ask the provider again
	}
	return ce, true, nil
}

// put stores the entry for lookup.
func (c *cache) put(ctx context.Context, lookup string, ce cacheEntry) error {
	b, err := json.Marshal(ce)
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	if _, err := c.kv.Put(ctx, cacheKey(lookup), b); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	return nil
}

// openBuckets creates or updates the credits bucket and the provider's
// cache bucket, with the deployment's replicas.
func openBuckets(ctx context.Context, r service.Resolved, pc ProviderConfig) (jetstream.KeyValue, jetstream.KeyValue, error) {
	cr, err := r.KeyValue(ctx, jetstream.KeyValueConfig{Bucket: CreditsBucket,
		Description: "enrich: provider credits used per month"})
	if err != nil {
		return nil, nil, err
	}
	ca, err := r.KeyValue(ctx, jetstream.KeyValueConfig{Bucket: CacheBucket(pc.Name),
		Description: "enrich: " + pc.Name + " answers by domain or email", TTL: pc.CacheTTL})
	if err != nil {
		return nil, nil, err
	}
	return cr, ca, nil
}
