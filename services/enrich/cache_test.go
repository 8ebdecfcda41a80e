package enrich

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events/eventstest"
)

// TestCacheKeepsFinalAnswersInProcess serves a final answer from the
// process, without the bucket, until the bucket entry would expire, and
// leaves pending answers to the bucket.
func TestCacheKeepsFinalAnswersInProcess(t *testing.T) {
	const ttl = time.Hour
	acme := cacheEntry{Result: Result{Company: &contracts.Company{Name: "Acme"}}}
	tests := []struct {
		name    string
		ttl     time.Duration // the provider's cache_ttl
		entry   cacheEntry
		age     time.Duration // how long after the put the lookup comes
		wantHit bool
	}{
		{"a final answer, fresh", ttl, acme, 30 * time.Second, true},
		{"a refusal, fresh", ttl, cacheEntry{Skip: "not a company domain"}, 30 * time.Second, true},
		{"a final answer, held for the local age", ttl, acme, localAge, false},
		{"a final answer past its bucket entry's expiry", 10 * time.Second, acme, 10 * time.Second, false},
		{"a pending answer", ttl, cacheEntry{Pending: true}, 0, false},
	}
	srv := eventstest.RunServer(t)
	kv, err := srv.JS.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: "cache_test", TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			now := time.Now()
			c := newCache(kv, "clearbit", tt.ttl)
			c.now = func() time.Time { return now }
			lookup := "domain:" + tt.name
			if err := c.put(ctx, lookup, tt.entry); err != nil {
				t.Fatal(err)
			}
			// Gone from the bucket: only the process can still answer.
			if err := kv.Purge(ctx, cacheKey("clearbit", lookup)); err != nil {
				t.Fatal(err)
			}
			now = now.Add(tt.age)
			got, hit, err := c.get(ctx, lookup)
			if err != nil || hit != tt.wantHit {
				t.Fatalf("get = %+v, hit %v, %v; want hit %v", got, hit, err, tt.wantHit)
			}
			if hit && got.Skip != tt.entry.Skip {
				t.Errorf("get = %+v, want %+v", got, tt.entry)
			}
		})
	}
}

// TestCacheKeepsWhatAnotherProcessStored reads another process's answer
// from the bucket once, then from the process until that entry expires.
func TestCacheKeepsWhatAnotherProcessStored(t *testing.T) {
	ctx := t.Context()
	srv := eventstest.RunServer(t)
	kv, err := srv.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "cache_test"})
	if err != nil {
		t.Fatal(err)
	}
	other, mine := newCache(kv, "clearbit", time.Hour), newCache(kv, "clearbit", time.Hour)
	if err := other.put(ctx, "domain:acme.io", cacheEntry{Result: Result{Company: &contracts.Company{Name: "Acme"}}}); err != nil {
		t.Fatal(err)
	}
	for i, purge := range []bool{false, true} {
		if purge {
			if err := kv.Purge(ctx, cacheKey("clearbit", "domain:acme.io")); err != nil {
				t.Fatal(err)
			}
		}
		got, hit, err := mine.get(ctx, "domain:acme.io")
		if err != nil || !hit || got.Company == nil || got.Company.Name != "Acme" {
			t.Errorf("read %d: %+v, hit %v, %v; want Acme", i, got, hit, err)
		}
	}
}

// TestCacheSharedByProviders: providers share the bucket, each under its
// name, and one with a short cache_ttl does not take an entry past it that
// the bucket still holds for a provider with a longer one.
func TestCacheSharedByProviders(t *testing.T) {
	ctx := t.Context()
	srv := eventstest.RunServer(t)
	kv, err := srv.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "cache_test", TTL: 30 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	acme := cacheEntry{Result: Result{Company: &contracts.Company{Name: "Acme"}}}
	tests := []struct {
		name     string
		provider string
		ttl      time.Duration
		age      time.Duration // how long after the put the lookup comes
		wantHit  bool
	}{
		{"the provider that stored it", "clearbit", time.Hour, 0, true},
		{"another provider", "apollo", time.Hour, 0, false},
		{"the provider, within its cache_ttl", "clearbit", time.Hour, 59 * time.Minute, true},
		{"the provider, past its cache_ttl", "clearbit", time.Hour, time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lookup := "domain:" + tt.name
			if err := newCache(kv, "clearbit", time.Hour).put(ctx, lookup, acme); err != nil {
				t.Fatal(err)
			}
			c := newCache(kv, tt.provider, tt.ttl)
			c.now = func() time.Time { return time.Now().Add(tt.age) }
			if _, hit, err := c.get(ctx, lookup); err != nil || hit != tt.wantHit {
				t.Errorf("get: hit %v, %v; want hit %v", hit, err, tt.wantHit)
			}
		})
	}
}
