package notify

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/services/notify/internal/fakehubspot"
)

const claimsToken = "pat-na1-claims-token"

func hubspotKV(t *testing.T) jetstream.KeyValue {
	t.Helper()
	srv := eventstest.RunServer(t)
	kv, err := openHubSpotBucket(context.Background(), func(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
		return srv.JS.CreateKeyValue(ctx, cfg)
	})
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// TestCompanyClaimsAcrossReplicas: two replicas' senders, each asked for
// the company of one new domain at the same moment while HubSpot's search
// does not show new companies yet, create one company between them when
// they share the bucket, and one each when they do not.
func TestCompanyClaimsAcrossReplicas(t *testing.T) {
	tests := []struct {
		name          string
		shared        bool
		wantCompanies int
	}{
		{"sharing the bucket", true, 1},
		{"each on its own", false, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := fakehubspot.New(t, claimsToken, fakehubspot.WithSearchLag(time.Minute))
			kv := hubspotKV(t)
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
// the others wait and then ask for a retry; a stale or unreadable one is
// taken over; a claim whose search failed is given up at once, one whose
// create failed is left to go stale (HubSpot may have made the company).
func TestCompanyClaimsOfAReplicaThatStopped(t *testing.T) {
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name               string
		claim              string // the value found; "" for none
		searchErr, makeErr error
		wantID             string
		wantRetry          bool
		wantCalls          int  // searches and creates
		wantClaim          bool // a claim without an id left behind
	}{
		{name: "none: claimed, searched, created", wantID: "company-1", wantCalls: 2},
		{name: "fresh claim: wait, then retry", claim: claimAt(start.Add(-time.Second)), wantRetry: true, wantClaim: true},
		{name: "stale claim: taken over", claim: claimAt(start.Add(-3 * time.Minute)), wantID: "company-1", wantCalls: 2},
		{name: "unreadable claim: taken over", claim: "{not json", wantID: "company-1", wantCalls: 2},
		{name: "search fails: given up", searchErr: errors.New("hubspot down"), wantCalls: 1},
		{name: "create fails: left to go stale", makeErr: errors.New("hubspot timed out"), wantCalls: 2, wantClaim: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			c := newCompanyClaims(hubspotKV(t), claimsToken)
			now := start
			c.now = func() time.Time { now = now.Add(10 * time.Millisecond); return now } // each look moves the clock
			c.wait, c.poll = 200*time.Millisecond, time.Millisecond
			key := c.key("example.com")
			if tt.claim != "" {
				if _, err := c.kv.Create(ctx, key, []byte(tt.claim)); err != nil {
					t.Fatal(err)
				}
			}
			calls := 0
			id, err := c.resolve(ctx, "example.com", companyLookup{
				search: func(context.Context) (string, bool, error) { calls++; return "", false, tt.searchErr },
				create: func(context.Context) (string, error) { calls++; return "company-1", tt.makeErr },
			})
			if _, retry := events.RetryDelay(err); retry != tt.wantRetry || id != tt.wantID || calls != tt.wantCalls {
				t.Fatalf("resolve = %q, %v (retry %v) after %d calls; want %q, retry %v, %d calls",
					id, err, retry, calls, tt.wantID, tt.wantRetry, tt.wantCalls)
			}
			rev, cur, err := c.read(ctx, key)
			switch {
			case err != nil:
				t.Fatal(err)
			case tt.wantID != "" && cur.CompanyID != tt.wantID:
				t.Errorf("claim %+v, want company %q recorded", cur, tt.wantID)
			case tt.wantID == "" && (rev != 0 && cur.CompanyID == "") != tt.wantClaim:
				t.Errorf("claim %+v at revision %d; want a claim left behind: %v", cur, rev, tt.wantClaim)
			}
		})
	}
}

func claimAt(at time.Time) string {
	b, _ := json.Marshal(companyClaim{ClaimedAt: at})
	return string(b)
}

// TestCompanyClaimsKeys: one account's claims are not another's, and a key
// reveals neither the token nor the domain.
func TestCompanyClaimsKeys(t *testing.T) {
	a, b := newCompanyClaims(nil, "pat-na1-account-a"), newCompanyClaims(nil, "pat-na1-account-b")
	tests := []struct {
		name string
		x, y string
		same bool
	}{
		{"one account, one domain", a.key("example.com"), a.key("example.com"), true},
		{"one account, two domains", a.key("example.com"), a.key("example.org"), false},
		{"two accounts, one domain", a.key("example.com"), b.key("example.com"), false},
	}
	for _, tt := range tests {
		if (tt.x == tt.y) != tt.same {
			t.Errorf("%s: keys %q and %q", tt.name, tt.x, tt.y)
		}
		if strings.Contains(tt.x, "example") || strings.Contains(tt.x, "account") {
			t.Errorf("%s: key %q tells the domain or the token", tt.name, tt.x)
		}
	}
}
