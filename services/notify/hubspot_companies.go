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

// companyClaims lets the replicas of notify agree on the HubSpot company of
// a domain, so that new contacts of a new company handled by two replicas
// at once do not each create it: HubSpot's search shows a new company only
// after a while, so asking it first is not enough. The first replica to
// claim the domain in the ledger bucket finds or creates the company and
// records its id there; the others wait for the id, and a claim whose
// replica stopped halfway is taken over once it is stale.
type companyClaims struct {
	kv  jetstream.KeyValue
	now func() time.Time
	// stale is how old a claim without an id must be before another
	// replica takes it over; wait how long a replica waits for another's
	// claim to settle before it asks for a retry; poll how often it looks.
	stale, wait, poll time.Duration
}

func newCompanyClaims(kv jetstream.KeyValue) *companyClaims {
	return &companyClaims{kv: kv, now: time.Now, stale: 2 * time.Minute, wait: 10 * time.Second,
		poll: 100 * time.Millisecond}
}

// companyClaim is the ledger's value for a domain: claimed, then with the
// company's id.
type companyClaim struct {
	ClaimedAt time.Time `json:"claimed_at"`
	CompanyID string    `json:"hubspot_company_id,omitempty"`
}

// companyClaimKey is the ledger key of domain's company: a hash, since a
// domain may hold characters a key may not.
func companyClaimKey(domain string) string {
	sum := sha256.Sum256([]byte(domain))
	return "hubspot-company." + hex.EncodeToString(sum[:16])
}

// resolve returns the id of domain's company: the one the ledger holds, or
// the one find returns when this replica wins the claim. While another
// replica's fresh claim has no id after c.wait, it returns an error to
// retry later.
func (c *companyClaims) resolve(ctx context.Context, domain string, find func(context.Context) (string, error)) (string, error) {
	key := companyClaimKey(domain)
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
				return c.settle(ctx, key, won, find)
			}
			continue // another replica claimed it first: read its claim
		}
		if !c.now().Before(deadline) {
			return "", events.RetryAfter(c.wait, fmt.Errorf("hubspot company of a domain: another notify replica is still creating it"))
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(c.poll):
		}
	}
}

// read returns the claim of key and its revision, 0 when there is none.
func (c *companyClaims) read(ctx context.Context, key string) (uint64, companyClaim, error) {
	e, err := c.kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return 0, companyClaim{}, nil
	case err != nil:
		return 0, companyClaim{}, fmt.Errorf("read hubspot company claim: %w", err)
	}
	var cur companyClaim
	if err := json.Unmarshal(e.Value(), &cur); err != nil {
		return e.Revision(), companyClaim{}, nil // unreadable: as good as stale
	}
	return e.Revision(), cur, nil
}

// take claims key, new when rev is 0, else over the stale claim at rev. It
// returns the claim's revision, or 0 when another replica's write came
// first.
func (c *companyClaims) take(ctx context.Context, key string, rev uint64) (uint64, error) {
	b, err := json.Marshal(companyClaim{ClaimedAt: c.now().UTC()})
	if err != nil {
		return 0, err
	}
	var won uint64
	if rev == 0 {
		won, err = c.kv.Create(ctx, key, b)
	} else {
		won, err = c.kv.Update(ctx, key, b, rev)
	}
	switch {
	case errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("claim hubspot company: %w", err)
	}
	return won, nil
}

// settle finds or creates the company under the claim at rev and records
// its id. A failed lookup gives the claim up at once, so that the next
// attempt, on any replica, need not wait for it to go stale.
func (c *companyClaims) settle(ctx context.Context, key string, rev uint64, find func(context.Context) (string, error)) (string, error) {
	id, err := find(ctx)
	if err != nil {
		_ = c.kv.Delete(context.WithoutCancel(ctx), key, jetstream.LastRevision(rev))
		return "", err
	}
	b, err := json.Marshal(companyClaim{ClaimedAt: c.now().UTC(), CompanyID: id})
	if err == nil {
		// Not recorded, the claim goes stale, and whoever takes it over
		// finds the company by search by then.
		_, _ = c.kv.Update(ctx, key, b, rev)
	}
	return id, nil
}
