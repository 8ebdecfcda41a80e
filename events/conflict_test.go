package events_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
)

func TestKVConflictForms(t *testing.T) {
	wrongLast := &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequence}
	wrongLastReplicated := &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequenceConstant}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"other error", errors.New("boom"), false},
		{"key not found", jetstream.ErrKeyNotFound, false},
		{"other API error", &jetstream.APIError{Code: 503, ErrorCode: jetstream.JSErrCodeStreamNotFound}, false},
		{"key exists", jetstream.ErrKeyExists, true},
		{"revision mismatch, wrapped", fmt.Errorf("quota: %w", jetstream.ErrKeyRevisionMismatch), true},
		{"wrong last sequence", wrongLast, true},
		{"wrong last sequence on a replicated stream, wrapped", fmt.Errorf("claim: %w", wrongLastReplicated), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := events.KVConflict(tt.err); got != tt.want {
				t.Errorf("KVConflict(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// TestKVConflictFromTheServer loses each kind of compare-and-set race on a
// real bucket, with one replica and with three: every loss is a conflict,
// and nothing else is.
func TestKVConflictFromTheServer(t *testing.T) {
	for _, replicas := range []int{1, 3} {
		t.Run(fmt.Sprintf("R%d", replicas), func(t *testing.T) {
			t.Parallel()
			kv := conflictBucket(t, replicas)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			first, err := kv.Create(ctx, "k", []byte("1"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := kv.Update(ctx, "k", []byte("2"), first); err != nil {
				t.Fatal(err)
			}
			losses := map[string]func() error{
				"create of a key that exists": func() error { _, err := kv.Create(ctx, "k", []byte("3")); return err },
				"update at a stale revision":  func() error { _, err := kv.Update(ctx, "k", []byte("3"), first); return err },
				"delete at a stale revision":  func() error { return kv.Delete(ctx, "k", jetstream.LastRevision(first)) },
				"purge at a stale revision":   func() error { return kv.Purge(ctx, "k", jetstream.LastRevision(first)) },
			}
			for name, lose := range losses {
				err := lose()
				if !events.KVConflict(err) {
					t.Errorf("%s: KVConflict(%v) = false, want true", name, err)
				}
			}
			if _, err := kv.Get(ctx, "absent"); events.KVConflict(err) {
				t.Errorf("get of an absent key: KVConflict(%v) = true", err)
			}
		})
	}
}

// conflictBucket returns a key-value bucket with the given replicas, on a
// single server for one and on a cluster of as many nodes otherwise.
func conflictBucket(t *testing.T, replicas int) jetstream.KeyValue {
	t.Helper()
	var js jetstream.JetStream
	if replicas == 1 {
		js = eventstest.RunServer(t, eventstest.WithoutTopology()).JS
	} else {
		js = clusterClient(t, eventstest.RunCluster(t, replicas))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "conflicts", Replicas: replicas})
	if err != nil {
		t.Fatal(err)
	}
	return kv
}
