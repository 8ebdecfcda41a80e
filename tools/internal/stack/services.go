package stack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"

	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/services/enrich"
	"github.com/gtmhub/gtmhub/services/ingest"
	"github.com/gtmhub/gtmhub/services/knowledgesync"
	"github.com/gtmhub/gtmhub/services/notify"
	"github.com/gtmhub/gtmhub/services/store"
)

// services holds each service's configuration, read from one gtmhub.yaml.
type services struct {
	ingest    ingest.Config
	enrich    enrich.Config
	store     store.Config
	notify    notify.Config
	knowledge knowledgesync.Config
}

type runner struct {
	name string
	run  func(context.Context, service.Deps) error
	// selfAnnounced: the service registers gtmhub-<name> for discovery itself.
	selfAnnounced bool
}

// loadServices reads every service's part of the config file over its
// defaults, places data under the data dir, and validates them all.
func loadServices(cfg Config) (services, error) {
	s := services{
		ingest: ingest.DefaultConfig(), enrich: enrich.DefaultConfig(), store: store.DefaultConfig(),
		notify: notify.DefaultConfig(), knowledge: knowledgesync.DefaultConfig(),
	}
	s.knowledge.Knowledge.Dir = filepath.Join(cfg.DataDir, "knowledge")
	for _, dst := range []any{&s.ingest, &s.enrich, &s.store, &s.notify, &s.knowledge} {
		if err := service.LoadFile(cfg.ConfigFile, dst); err != nil {
			return services{}, err
		}
	}
	// The flags, then the environment, override the file: the database
	// lives in the data directory this stack holds locked.
	s.ingest.HTTPAddr = cfg.HTTPAddr
	s.store.DataDir = cfg.DataDir
	s.store.DatabaseURL = service.Env(s.store.DatabaseURL, "GTMHUB_DATABASE_URL")
	s.knowledge = s.knowledge.WithEnv()
	var errs []error
	for name, v := range map[string]interface{ Validate() error }{
		"ingest": s.ingest, "enrich": s.enrich, "store": s.store, "notify": s.notify, "knowledge-sync": s.knowledge,
	} {
		if err := v.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	return s, errors.Join(errs...)
}

func (s services) runners(httpLn net.Listener) []runner {
	return []runner{
		{name: "ingest", run: func(ctx context.Context, d service.Deps) error { return ingest.Serve(ctx, httpLn, s.ingest, d) }},
		{name: "enrich", run: func(ctx context.Context, d service.Deps) error { return enrich.Run(ctx, s.enrich, d) }},
		{name: "store", run: func(ctx context.Context, d service.Deps) error { return store.Run(ctx, s.store, d) }, selfAnnounced: true},
		{name: "notify", run: func(ctx context.Context, d service.Deps) error { return notify.Run(ctx, s.notify, d) }},
		{name: "knowledge-sync", run: func(ctx context.Context, d service.Deps) error { return knowledgesync.Run(ctx, s.knowledge, d) }},
	}
}
