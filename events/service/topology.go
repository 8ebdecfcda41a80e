package service

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/events"
)

// EnsureTopology creates or updates gtmhub's streams and consumers with the
// given replica count, waiting up to 30s for JetStream to become available
// (a cluster may still be electing its meta leader). It gives up at once
// when the server closes the connection (it refused the credentials, say),
// and names the server's reason.
func EnsureTopology(ctx context.Context, js jetstream.JetStream, replicas int) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	nc := js.Conn()
	stop := cancelOnClose(nc, cancel)
	defer stop()
	var err error
	for {
		if err = ensureAll(ctx, js, replicas); err == nil {
			return nil
		}
		if nc.IsClosed() {
			return fmt.Errorf("topology: nats closed the connection (%v): %w", nc.LastError(), err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topology: %w", err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// cancelOnClose calls cancel when nc closes (or at once if it is closed),
// until stop is called.
func cancelOnClose(nc *nats.Conn, cancel context.CancelFunc) (stop func()) {
	closed := nc.StatusChanged(nats.CLOSED)
	done := make(chan struct{})
	go func() {
		select {
		case <-closed:
			cancel()
		case <-done:
		}
	}()
	if nc.IsClosed() {
		cancel()
	}
	return func() { close(done); nc.RemoveStatusListener(closed) }
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

// ReplaysBucket holds the checkpoints of `gtmhub replay`, so a replay can
// be resumed; a checkpoint is kept 30 days.
const ReplaysBucket = "replays"

// ensureAll creates the streams and consumers, the shared state buckets
// with the same replicas, and the installation's credential fingerprint key.
func ensureAll(ctx context.Context, js jetstream.JetStream, replicas int) error {
	if err := events.DefaultTopology().Ensure(ctx, js, events.WithReplicas(replicas)); err != nil {
		return err
	}
	for _, cfg := range stateBuckets(replicas) {
		kv, err := js.CreateOrUpdateKeyValue(ctx, cfg)
		if err != nil {
			return fmt.Errorf("bucket %s: %w", cfg.Bucket, err)
		}
		// The services' users may read the fingerprint key, not write it.
		if cfg.Bucket == CredentialsBucket {
			if _, err := fingerprintKey(ctx, kv); err != nil {
				return fmt.Errorf("bucket %s: %w", cfg.Bucket, err)
			}
		}
	}
	return nil
}

// stateBuckets are the KV buckets the services and the CLI share.
func stateBuckets(replicas int) []jetstream.KeyValueConfig {
	return []jetstream.KeyValueConfig{
		{Bucket: UsageBucket, History: 1, Replicas: replicas},
		{Bucket: NotesBucket, History: 1, Replicas: replicas},
		{Bucket: CredentialsBucket, Description: "credential fingerprints and ages", History: 1, Replicas: replicas},
		{Bucket: ReplaysBucket, Description: "replay checkpoints", History: 1, TTL: 30 * 24 * time.Hour, Replicas: replicas},
	}
}
