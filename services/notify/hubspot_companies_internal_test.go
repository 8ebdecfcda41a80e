package notify

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/services/notify/internal/fakehubspot"
)

const claimsToken = "pat-na1-claims-token"

func ledgerKV(t *testing.T) jetstream.KeyValue {
	t.Helper()
	srv := eventstest.RunServer(t)
	kv, err := srv.JS.CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: LedgerBucket, History: 1})
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// TestCompanyClaimsAcrossReplicas: two replicas' senders, each asked for
// the company of one new domain at the same moment while HubSpot's search
// does not show new companies yet, create one company between them when
// they share the ledger, and one each when they do not.
func TestCompanyClaimsAcrossReplicas(t *testing.T) {
	tests := []struct {
		name          string
		shared        bool
		wantCompanies int
	}{
		{"sharing the ledger", true, 1},
		{"each on its own", false, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := fakehubspot.New(t, claimsToken, fakehubspot.WithSearchLag(time.Minute))
			kv := ledgerKV(t)
			cfg := HubSpot{Token: claimsToken, BaseURL: hs.URL, HTTPClient: hs.Client()}
			replicas := make([]*HubSpotSender, 2)
			for i := range replicas {
				var opts []HubSpotSenderOption
				if tt.shared {
					opts = append(opts, WithCompanyClaims(kv))
				}
				replicas[i] = NewHubSpotSender(cfg, NewHubSpotClient(cfg, nil), opts...)
			}
			ids := make([]string, len(replicas))
			errs := make([]error, len(replicas))
			var wg sync.WaitGroup
			for i, s := range replicas {
				wg.Go(func() { ids[i], errs[i] = s.company(context.Background(), "example.com", "Example") })
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			if got := len(hs.Companies()); got != tt.wantCompanies {
				t.Errorf("%d companies in HubSpot, want %d", got, tt.wantCompanies)
			}
			if tt.shared && ids[0] != ids[1] {
				t.Errorf("replicas answered companies %q and %q, want one", ids[0], ids[1])
			}
		})
	}
}

// TestCompanyClaimsOfAReplicaThatStopped: a fresh claim without an id makes
// the others wait and then ask for a retry; a stale one is taken over; a
// claim whose lookup failed is given up at once.
func TestCompanyClaimsOfAReplicaThatStopped(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		claimedAt time.Time
		findErr   error
		wantID    string
		wantRetry bool
		wantFinds int
	}{
		{"fresh claim: wait, then retry", now.Add(-time.Second), nil, "", true, 0},
		{"stale claim: taken over", now.Add(-3 * time.Minute), nil, "company-1", false, 1},
		{"stale claim, lookup fails: given up", now.Add(-3 * time.Minute), errors.New("hubspot down"), "", false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			kv := ledgerKV(t)
			key := companyClaimKey("example.com")
			b, _ := json.Marshal(companyClaim{ClaimedAt: tt.claimedAt})
			if _, err := kv.Create(ctx, key, b); err != nil {
				t.Fatal(err)
			}
			c := newCompanyClaims(kv)
			c.now, c.wait, c.poll = func() time.Time { return now }, 0, time.Millisecond
			finds := 0
			id, err := c.resolve(ctx, "example.com", func(context.Context) (string, error) {
				finds++
				return "company-1", tt.findErr
			})
			if _, retry := events.RetryDelay(err); retry != tt.wantRetry || id != tt.wantID || finds != tt.wantFinds {
				t.Fatalf("resolve = %q, %v (retry %v) after %d lookups; want %q, retry %v, %d lookups",
					id, err, retry, finds, tt.wantID, tt.wantRetry, tt.wantFinds)
			}
			_, cur, err := c.read(ctx, key)
			switch {
			case err != nil:
				t.Fatal(err)
			case tt.findErr != nil && !cur.ClaimedAt.IsZero():
				t.Errorf("claim %+v left after the lookup failed, want none", cur)
			case tt.wantID != "" && cur.CompanyID != tt.wantID:
				t.Errorf("claim %+v, want company %q recorded", cur, tt.wantID)
			}
		})
	}
}
