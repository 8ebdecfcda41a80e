package knowledgesync

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

// Durable is the consumer of sync commands in [events.DefaultTopology].
const Durable = "knowledge-sync"

// Run creates the folder if it is missing and registers the "knowledge"
// readiness check. With a Notion database id and a token it syncs the
// folder with the database at start, every interval and on every sync
// command until ctx is cancelled; without them it only indexes the folder.
// It then returns nil. It returns an error if the configuration is invalid
// or the folder, the state bucket or the command consumer cannot be set up.
func Run(ctx context.Context, cfg Config, deps service.Deps) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	r, closeConn, err := deps.Resolve(ctx, cfg.NATSURL, Name)
	if err != nil {
		return fmt.Errorf("knowledge-sync: %w", err)
	}
	defer closeConn()

	k := cfg.Knowledge
	if err := os.MkdirAll(k.Dir, 0o755); err != nil {
		return fmt.Errorf("knowledge-sync: knowledge folder: %w", err)
	}
	index := NewSyncer(k.Dir, r.Logger)
	r.Health.Add("knowledge", index.Check)

	token := os.Getenv(k.NotionTokenEnv)
	defer r.KeepCredentialsSeen(ctx, Name, []service.Secret{service.SecretFrom("notion.token", k.NotionTokenEnv, token)}, 0)()
	if k.NotionDatabaseID == "" || token == "" {
		logNotionState(ctx, r, k, token != "")
		r.Logger.InfoContext(ctx, "knowledge-sync started", "dir", k.Dir, "interval", k.Interval.String())
		if err := index.Run(ctx, k.Interval); err != nil {
			return fmt.Errorf("knowledge-sync: %w", err)
		}
		r.Logger.Info("knowledge-sync stopped")
		return nil
	}
	if err := runSync(ctx, r, k, index, token); err != nil {
		return fmt.Errorf("knowledge-sync: %w", err)
	}
	r.Logger.Info("knowledge-sync stopped")
	return nil
}

// runSync syncs every interval and on command until ctx is cancelled.
func runSync(ctx context.Context, r service.Resolved, k Knowledge, index *Syncer, token string) error {
	kv, err := r.KeyValue(ctx, jetstream.KeyValueConfig{Bucket: StateBucket,
		Description: "knowledge sync: per Notion page, both sides at the last sync"})
	if err != nil {
		return fmt.Errorf("state bucket: %w", err)
	}
	pub, err := r.Publisher()
	if err != nil {
		return err
	}
	opts := []notion.Option{notion.WithRateLimit(rate.Limit(k.RequestsPerSecond), k.Burst),
		notion.WithBreakers(r.Breakers.Register(events.NewBreakers(events.WithDestinations(notion.Destination))))}
	if k.NotionBaseURL != "" {
		opts = append(opts, notion.WithBaseURL(k.NotionBaseURL))
	}
	if r.TracerProvider != nil {
		opts = append(opts, notion.WithTracerProvider(r.TracerProvider))
	}
	client, err := notion.New(token, opts...)
	if err != nil {
		return err
	}
	s := NewNotionSync(index, k.NotionDatabaseID, client, kv, pub, k, r.Logger)
	if r.TracerProvider != nil {
		s.tracer = r.TracerProvider.Tracer("github.com/gtmhub/gtmhub/services/knowledgesync")
	}

	spec, ok := events.DefaultTopology().Consumer(Durable)
	if !ok {
		return errors.New("no " + Durable + " consumer in the topology")
	}
	consumer, err := events.NewConsumer(r.JS, spec, s.HandleCommand, r.ConsumerOptions()...)
	if err != nil {
		return fmt.Errorf("command consumer: %w", err)
	}
	r.Logger.InfoContext(ctx, "knowledge-sync started", "dir", k.Dir, "interval", k.Interval.String(),
		"database_id", k.NotionDatabaseID)
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return consumer.Run(ctx) })
	g.Go(func() error { return s.Every(ctx, k.Interval) })
	return g.Wait()
}

// Every syncs now and then every interval until ctx is cancelled, and
// returns nil then. A failed sync is logged and tried again at the next
// tick.
func (s *NotionSync) Every(ctx context.Context, interval time.Duration) error {
	service.Every(ctx, interval, func(ctx context.Context) {
		if _, err := s.Sync(ctx, false); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "knowledge sync failed", "err", err)
		}
	})
	return nil
}

// logNotionState says once why the folder is only indexed. The token itself
// is never logged.
func logNotionState(ctx context.Context, r service.Resolved, k Knowledge, hasToken bool) {
	if k.NotionDatabaseID == "" && !hasToken {
		r.Logger.InfoContext(ctx, "Notion not configured: indexing the Markdown folder only",
			"set", "knowledge.notion_database_id and "+k.NotionTokenEnv)
		return
	}
	r.Logger.WarnContext(ctx, "Notion half configured: indexing the Markdown folder only",
		"database_id_set", k.NotionDatabaseID != "", "token_env", k.NotionTokenEnv, "token_set", hasToken)
}
