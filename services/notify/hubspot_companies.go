package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/events"
)

// HubSpotBucket is the JetStream key-value bucket where the replicas of
// notify agree on the HubSpot company of each domain.
const HubSpotBucket = "notify-hubspot"

// hubspotBucketTTL is how long the bucket keeps a company's id: long past
// the time HubSpot's search takes to show a new company.
const hubspotBucketTTL = 24 * time.Hour

// openHubSpotBucket creates or updates [HubSpotBucket].
func openHubSpotBucket(ctx context.Context, open bucketOpener) (jetstream.KeyValue, error) {
	kv, err := open(ctx, jetstream.KeyValueConfig{
		Bucket:      HubSpotBucket,
		Description: "the HubSpot company of each domain, claimed by one notify replica at a time",
		TTL:         hubspotBucketTTL,
		History:     1,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("hubspot bucket %s: %w", HubSpotBucket, err)
	}
	return kv, nil
}

// companyClaims lets the replicas of notify agree on the HubSpot company of
// a domain, so that new contacts of a new company handled by two replicas
// at once do not each create it: HubSpot's search shows a new company only
// after a while, so asking it first is not enough. The first replica to
// claim the domain searches for the company, creates it when search finds
// none, and records its id; the others wait for the id. A claim whose
// replica stopped halfway is taken over once stale; a claim whose search
// failed is given up at once; a claim whose create failed is left to go
// stale, since HubSpot may have created the company all the same and its
// search shows it by then.
type companyClaims struct {
	kv jetstream.KeyValue
	// account tells one HubSpot account's claims from another's sharing
	// the bucket: a hash of the token, never the token.
	account string
	now     func() time.Time
	// stale is how old a claim without an id must be before another
	// replica takes it over (its owner gives up at half of it); wait how
	// long a replica waits for another's claim before it asks for a
	// retry; poll how often it looks meanwhile.
	stale, wait, poll time.Duration
}

func newCompanyClaims(kv jetstream.KeyValue, token string) *companyClaims {
	sum := sha256.Sum256([]byte("gtmhub hubspot account\x00" + token))
	return &companyClaims{kv: kv, account: hex.EncodeToString(sum[:8]), now: time.Now,
		stale: 2 * time.Minute, wait: 10 * time.Second, poll: 100 * time.Millisecond}
}

// companyClaim is the bucket's value for a domain: claimed, then with the
// company's id.
type companyClaim struct {
	ClaimedAt time.Time `json:"claimed_at"`
	CompanyID string    `json:"hubspot_company_id,omitempty"`
}

// companyLookup is how a claim's owner finds the company of its domain.
type companyLookup struct {
	search func(context.Context) (id string, found bool, err error)
	create func(context.Context) (id string, err error)
}

// find returns the id of the company search finds, or of the one create
// makes when it finds none.
func (l companyLookup) find(ctx context.Context) (string, error) {
	id, found, err := l.search(ctx)
	if err != nil || found {
		return id, err
	}
	return l.create(ctx)
}

// key is the bucket key of domain's company: a hash of the account and the
// domain, since a domain may hold characters a key may not.
func (c *companyClaims) key(domain string) string {
	sum := sha256.Sum256([]byte(c.account + "\x00" + domain))
	return "company." + hex.EncodeToString(sum[:16])
}

// resolve returns the id of domain's company: the one the bucket holds, or
// the one look finds or creates when this replica wins the claim. While
// another replica's fresh claim has no id after c.wait, it returns an
// error to retry later.
func (c *companyClaims) resolve(ctx context.Context, domain string, look companyLookup) (string, error) {
	key := c.key(domain)
	deadline := c.now().Add(c.wait)
	for {
		rev, cur, err := c.read(ctx, key)
		if err != nil {
			return "", err
		}
		if cur.CompanyID != "" {
			return cur.CompanyID, nil
		}
		if rev == 0 || c.now().Sub(cur.ClaimedAt) >= c.stale {
			won, err := c.take(ctx, key, rev)
			if err != nil {
				return "", err
			}
			if won != 0 {
				return c.settle(ctx, key, won, look)
			}
			continue // another replica claimed it first: read its claim
		}
		if !c.now().Before(deadline) {
			return "", events.RetryAfter(c.wait, errors.New("hubspot company of a domain: another notify replica is still creating it"))
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(c.poll):
		}
	}
}

// read returns the claim of key and its revision, 0 when there is none.
// An unreadable value reads as a claim made at the zero time: stale.
func (c *companyClaims) read(ctx context.Context, key string) (uint64, companyClaim, error) {
	e, err := c.kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return 0, companyClaim{}, nil
	case err != nil:
		return 0, companyClaim{}, fmt.Errorf("read hubspot company claim: %w", err)
	}
	var cur companyClaim
	if json.Unmarshal(e.Value(), &cur) != nil {
		cur = companyClaim{}
	}
	return e.Revision(), cur, nil
}

// take claims key, new when rev is 0, else over the stale claim at rev. It
// returns the claim's revision, or 0 when another replica's write came
// first.
func (c *companyClaims) take(ctx context.Context, key string, rev uint64) (uint64, error) {
	b, _ := json.Marshal(companyClaim{ClaimedAt: c.now().UTC()}) // a time always encodes
	var (
		won uint64
		err error
	)
	if rev == 0 {
		won, err = c.kv.Create(ctx, key, b)
	} else {
		won, err = c.kv.Update(ctx, key, b, rev)
	}
	switch {
	case events.KVConflict(err):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("claim hubspot company: %w", err)
	}
	return won, nil
}

// settle looks the company up under the claim at rev, within half the
// claim's life so that nobody takes it over meanwhile, and records its id.
func (c *companyClaims) settle(ctx context.Context, key string, rev uint64, look companyLookup) (string, error) {
	lctx, cancel := context.WithTimeout(ctx, c.stale/2)
	defer cancel()
	id, found, err := look.search(lctx)
	if err != nil {
		// Nothing was created: give the claim up for the next attempt.
		_ = c.kv.Delete(context.WithoutCancel(ctx), key, jetstream.LastRevision(rev))
		return "", err
	}
	if !found {
		if id, err = look.create(lctx); err != nil {
			return "", err // the claim goes stale (see companyClaims)
		}
	}
	// Not recorded, the claim goes stale, and whoever takes it over finds
	// the company by search by then.
	b, _ := json.Marshal(companyClaim{ClaimedAt: c.now().UTC(), CompanyID: id}) // always encodes
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer rcancel()
	_, _ = c.kv.Update(rctx, key, b, rev)
	return id, nil
}
