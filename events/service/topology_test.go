package service

import (
	"context"
	"testing"

	"github.com/gtmhub/gtmhub/events/eventstest"
)

// TestEnsureTopologyCreatesTheStateBuckets: the usage, notes, replays and credentials
// buckets are created with the topology, each with the stack's replicas,
// so no client has to create one (with a single replica) on first use; the
// credentials bucket has its fingerprint key, which services may only read.
func TestEnsureTopologyCreatesTheStateBuckets(t *testing.T) {
	for _, cfg := range stateBuckets(3) {
		if cfg.Replicas != 3 {
			t.Errorf("bucket %s has %d replicas, want the stack's 3", cfg.Bucket, cfg.Replicas)
		}
	}
	srv := eventstest.RunServer(t)
	ctx := context.Background()
	if err := EnsureTopology(ctx, srv.JS, 1); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{UsageBucket, NotesBucket, ReplaysBucket, CredentialsBucket} {
		if _, err := srv.JS.KeyValue(ctx, b); err != nil {
			t.Errorf("bucket %s: %v", b, err)
		}
	}
	kv, err := srv.JS.KeyValue(ctx, CredentialsBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(ctx, FingerprintKey); err != nil {
		t.Errorf("fingerprint key: %v", err)
	}
}
