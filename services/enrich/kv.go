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
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/contracts/jsonalike"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/service"
)

// CreditsBucket is the JetStream KV bucket holding each provider's credits
// used per month, under the key "{provider}.{YYYY-MM}".
const CreditsBucket = "enrich_credits"

// CacheBucket is the JetStream KV bucket caching every provider's answers,
// under "{provider}.{hash of the lookup}". Its entries live as long as the
// longest cache_ttl, and each provider takes its own for its cache_ttl. One
// bucket for all keeps the enrich user's NATS permissions the same whatever
// the providers are called: a subject wildcard cannot match part of a
// bucket's name.
const CacheBucket = "enrich_cache"

// credits counts a provider's monthly credits in a KV bucket. Every change
// is a compare-and-set on the entry's revision, so workers and processes
// sharing the bucket never spend more than the limit between them.
type credits struct {
	kv       jetstream.KeyValue
	provider string
	limit    int // 0: no limit
	now      func() time.Time
	// report, when set, is told the month's count after changes, for usage
	// against the quota (gtmhub status): at once after a quiet spell, then at
	// most once per reportEvery, the last change always reported.
	report    func(ctx context.Context, used int)
	reportMu  sync.Mutex
	reportRun sync.Mutex // one report at a time, so the last is current
	reportAt  time.Time  // when the last report ran
	reportDue bool       // a change not yet reported; a report is scheduled

	// leased are credits taken from the bucket and not yet spent, by key.
	leaseMu sync.Mutex
	leased  map[string]int
	takeMu  sync.Mutex // held while taking a lease from the bucket
	// reserved counts credits taken for calls not yet settled.
	reserved atomic.Int64
}

// reportEvery paces credit usage reports.
const reportEvery = time.Second

// CreditsKey returns the key of provider's credit count for the month of t.
func CreditsKey(provider string, t time.Time) string {
	return provider + "." + t.UTC().Format("2006-01")
}

// maxLease is the most credits a process takes from the bucket at a time.
const maxLease = 32

// leaseSize is how many credits a process takes from the bucket at a time:
// a hundredth of the budget, 1 to maxLease, so that workers do not contend
// for the count on every call while processes sharing a small budget still
// split it exactly.
func (c *credits) leaseSize() int {
	if c.limit == 0 {
		return maxLease
	}
	return min(max(c.limit/100, 1), maxLease)
}

// reserve takes one credit for this month, or returns [ErrBudgetSpent]. It
// returns the key it was taken from, for [credits.settle]. Credits come
// from the process's lease, taken from the bucket a few at a time; a
// process that stops without releasing its lease loses it, so the budget
// may be under-spent but never over-spent.
func (c *credits) reserve(ctx context.Context) (string, error) {
	key := CreditsKey(c.provider, c.now())
	if c.fromLease(key) {
		c.reserved.Add(1)
		c.reportUsage(ctx)
		return key, nil
	}
	// One worker takes a new lease while the others wait for it.
	c.takeMu.Lock()
	defer c.takeMu.Unlock()
	if !c.fromLease(key) {
		got, err := c.add(ctx, key, c.leaseSize())
		if err != nil {
			return "", err
		}
		c.lend(key, got-1)
	}
	c.reserved.Add(1)
	c.reportUsage(ctx)
	return key, nil
}

// fromLease takes one credit under key from the lease, if it holds one.
func (c *credits) fromLease(key string) bool {
	c.leaseMu.Lock()
	defer c.leaseMu.Unlock()
	if c.leased[key] > 0 {
		c.leased[key]--
		return true
	}
	return false
}

// settle ends the reservation of a credit under key: it stays spent when
// the provider charged the call, and goes back to the lease, for the next
// call, when it did not.
func (c *credits) settle(ctx context.Context, key string, charged bool) {
	if !charged {
		c.lend(key, 1) // before the reservation ends, so a lookup that found no credit sees one coming
		c.reportUsage(ctx)
	}
	c.reserved.Add(-1)
}

// inFlight reports whether this process holds credits for calls not yet
// settled.
func (c *credits) inFlight() bool { return c.reserved.Load() > 0 }

// lend adds n credits under key to the lease.
func (c *credits) lend(key string, n int) {
	c.leaseMu.Lock()
	defer c.leaseMu.Unlock()
	if c.leased == nil {
		c.leased = map[string]int{}
	}
	c.leased[key] += n
}

// release returns the unspent lease to the bucket, at shutdown.
func (c *credits) release(ctx context.Context) error {
	c.leaseMu.Lock()
	leased := c.leased
	c.leased = nil
	c.leaseMu.Unlock()
	var errs []error
	for key, n := range leased {
		if n > 0 {
			if _, err := c.add(ctx, key, -n); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// reportUsage has report told the month's count: now when the last report
// is older than reportEvery, otherwise once that much time has passed. Each
// report reads the count afresh, so the last one is current, and a burst of
// lookups costs a report a second instead of one each.
func (c *credits) reportUsage(ctx context.Context) {
	if c.report == nil {
		return
	}
	c.reportMu.Lock()
	defer c.reportMu.Unlock()
	if c.reportDue {
		return // the scheduled report will read this change too
	}
	c.reportDue = true
	wait := max(reportEvery-time.Since(c.reportAt), 0)
	time.AfterFunc(wait, func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		c.reportMu.Lock()
		c.reportDue, c.reportAt = false, time.Now()
		c.reportMu.Unlock()
		c.reportRun.Lock()
		defer c.reportRun.Unlock()
		if n, err := c.used(rctx); err == nil {
			c.report(rctx, n)
		}
	})
}

// used returns the credits used this month: taken from the bucket and not
// still in this process's lease.
func (c *credits) used(ctx context.Context) (int, error) {
	key := CreditsKey(c.provider, c.now())
	n, _, err := c.get(ctx, key)
	c.leaseMu.Lock()
	defer c.leaseMu.Unlock()
	return max(n-c.leased[key], 0), err
}

// add changes the count under key by delta, within the budget when it
// grows: it returns how much it changed, and [ErrBudgetSpent] when the
// budget has nothing left.
func (c *credits) add(ctx context.Context, key string, delta int) (int, error) {
	for {
		n, rev, err := c.get(ctx, key)
		if err != nil {
			return 0, err
		}
		next := max(n+delta, 0)
		if delta > 0 && c.limit > 0 && next > c.limit {
			next = c.limit
		}
		if delta > 0 && next == n {
			return 0, fmt.Errorf("%w (%d of %d this month)", ErrBudgetSpent, n, c.limit)
		}
		val := []byte(strconv.Itoa(next))
		if rev == 0 {
			_, err = c.kv.Create(ctx, key, val)
		} else {
			_, err = c.kv.Update(ctx, key, val, rev)
		}
		switch {
		case err == nil:
			return next - n, nil
		case events.KVConflict(err):
			continue // another process got there first: read again
		default:
			return 0, fmt.Errorf("credits %s: %w", key, err)
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

// cache keeps a provider's answers in a KV bucket shared with the other
// providers, each under its name; an entry older than the provider's
// cache_ttl is not an answer. Keys end in SHA-256 hashes of what was looked
// up, so no email appears in a key.
//
// In front of the bucket, the process keeps the most recently used final
// answers (not pending ones) for up to a minute, and never past their bucket
// entry's expiry: leads from one company find its answer without a round
// trip to the server, and an entry deleted from the bucket is forgotten by
// every process within the minute.
type cache struct {
	kv       jetstream.KeyValue
	provider string // the keys' first token
	ttl      time.Duration
	local    *lru.Cache[string, localEntry]
	now      func() time.Time
}

// localEntry is an answer kept in the process until expires.
type localEntry struct {
	ce      cacheEntry
	expires time.Time
}

// localAnswers is how many answers a provider's cache keeps in the process,
// and localAge for how long at most.
const (
	localAnswers = 4096
	localAge     = time.Minute
)

func newCache(kv jetstream.KeyValue, provider string, ttl time.Duration) *cache {
	local, _ := lru.New[string, localEntry](localAnswers) // fails only for a size <= 0
	return &cache{kv: kv, provider: provider, ttl: ttl, local: local, now: time.Now}
}

// cacheKey is provider's key for lookup.
func cacheKey(provider, lookup string) string {
	sum := sha256.Sum256([]byte(lookup))
	return provider + "." + hex.EncodeToString(sum[:])
}

// get returns the entry for lookup, if any.
func (c *cache) get(ctx context.Context, lookup string) (cacheEntry, bool, error) {
	key := cacheKey(c.provider, lookup)
	if ce, ok := c.recentKey(key); ok {
		return ce, true, nil
	}
	e, err := c.kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return cacheEntry{}, false, nil
	case err != nil:
		return cacheEntry{}, false, fmt.Errorf("cache: %w", err)
	case !c.now().Before(e.Created().Add(c.ttl)):
		return cacheEntry{}, false, nil // kept for a provider with a longer cache_ttl
	}
	var ce cacheEntry
	if err := jsonalike.Unmarshal(e.Value(), &ce); err != nil {
		return cacheEntry{}, false, nil // unreadable: ask the provider again
	}
	c.keep(key, ce, e.Created())
	return ce, true, nil
}

// recent returns the entry for lookup if the process holds it, without
// asking the bucket.
func (c *cache) recent(lookup string) (cacheEntry, bool) {
	return c.recentKey(cacheKey(c.provider, lookup))
}

func (c *cache) recentKey(key string) (cacheEntry, bool) {
	le, ok := c.local.Get(key)
	if !ok {
		return cacheEntry{}, false
	}
	if !c.now().Before(le.expires) {
		c.local.Remove(key)
		return cacheEntry{}, false
	}
	return le.ce, true
}

// put stores the entry for lookup.
func (c *cache) put(ctx context.Context, lookup string, ce cacheEntry) error {
	b, err := json.Marshal(ce)
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	key := cacheKey(c.provider, lookup)
	if _, err := c.kv.Put(ctx, key, b); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	c.keep(key, ce, c.now())
	return nil
}

// keep holds a final answer stored at created in the process for up to
// localAge, and not past its bucket entry's expiry; a pending one is left to
// the bucket.
func (c *cache) keep(key string, ce cacheEntry, created time.Time) {
	if ce.Pending {
		c.local.Remove(key)
		return
	}
	expires := created.Add(c.ttl)
	if soon := c.now().Add(localAge); soon.Before(expires) {
		expires = soon
	}
	c.local.Add(key, localEntry{ce: ce, expires: expires})
}

// openBuckets creates or updates the credits bucket and the cache bucket
// shared by the providers cfgs (with their defaults), with the deployment's
// replicas. Cache entries live as long as the longest cache_ttl.
func openBuckets(ctx context.Context, r service.Resolved, cfgs []ProviderConfig) (jetstream.KeyValue, jetstream.KeyValue, error) {
	cr, err := r.KeyValue(ctx, jetstream.KeyValueConfig{Bucket: CreditsBucket,
		Description: "enrich: provider credits used per month"})
	if err != nil {
		return nil, nil, err
	}
	var ttl time.Duration
	for _, pc := range cfgs {
		ttl = max(ttl, pc.CacheTTL)
	}
	ca, err := r.KeyValue(ctx, jetstream.KeyValueConfig{Bucket: CacheBucket,
		Description: "enrich: provider answers by provider and domain or email", TTL: ttl})
	if err != nil {
		return nil, nil, err
	}
	return cr, ca, nil
}
