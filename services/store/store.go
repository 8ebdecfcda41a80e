// Package store keeps gtmhub's contacts and companies.
//
// It consumes com.gtmhub.lead.enriched events from gtm.leads.enriched and
// upserts each lead into SQLite, or PostgreSQL when [Config.DatabaseURL] is
// a postgres:// URL: the contact keyed by its lowercased email, the company
// keyed by its registrable domain (acme.com for www.acme.com), and an
// activity for every event that touched the contact. Fields merge by
// per-field last-writer-wins on the event time, ties going to the greater
// event id: a non-empty incoming value replaces the stored one only when its
// event is newer than the event that set the stored one, and an empty value
// never erases anything, so any order of delivery, with any event delivered
// again, leaves the same rows. Which event set each field, and when, is kept
// beside the record as its provenance.
//
// Every change is published on the RECORDS stream as
// com.gtmhub.contact.created|updated and com.gtmhub.company.created|updated
// with the field diff. Handling one event is one transaction: the write, the
// event's id in processed_events, and the change events in an outbox table.
// Concurrent handlers' transactions are grouped into one commit (group
// commit), and wait there while the database cannot be reached. The change
// events are published from the outbox after the commit, and the input
// event is acknowledged only once they are all stored. A redelivered event
// whose write already committed is not applied again but still publishes
// what its outbox holds; the outbox is also emptied at start-up and
// periodically. Change event ids derive from the input event id, so a
// publish repeated after a crash is de-duplicated by the stream.
//
// Run also serves the read API, the NATS micro service gtmhub-store
// (contacts.get, contacts.list, companies.get); [Client] calls it.
//
// The SQL lives behind small interfaces declared where they are used, with
// dialect differences (placeholders, locking, migrations) in one place; the
// same conformance suite runs on SQLite and PostgreSQL.
package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/service"
)

// Name is the service name: the consumer's durable name and the CloudEvent
// source's last element.
const Name = "store"

// Source is the CloudEvent source of every event the store publishes.
const Source = "/gtmhub/" + Name

// DBFile is the name of the SQLite database file in [Config.DataDir].
const DBFile = "gtmhub.db"

// Config is the store service's configuration.
type Config struct {
	// DataDir is the directory that holds the database file, DBFile. It is
	// created when missing.
	DataDir string `yaml:"data_dir"`
	// DatabaseURL, when set, is a postgres:// (or postgresql://) URL: the
	// store then keeps its records in that PostgreSQL database instead of
	// SQLite in DataDir. Binaries read it from GTMHUB_DATABASE_URL.
	DatabaseURL string `yaml:"database_url"`
	// ProcessedRetention is how long the store remembers which events it
	// processed (default 30 days, as long as LEADS keeps them); 0 keeps
	// them forever.
	ProcessedRetention time.Duration `yaml:"processed_retention"`
	// NATSURL is where to connect when the host passes no connection.
	NATSURL string `yaml:"-"`
}

// DefaultConfig returns the configuration used when gtmhub.yaml says
// nothing: the database in ./data.
func DefaultConfig() Config {
	return Config{DataDir: "./data", ProcessedRetention: DefaultProcessedRetention}
}

// dbSystem names the database for traces, as OpenTelemetry's semantic
// conventions do.
func (c Config) dbSystem() string {
	if IsPostgresURL(c.DatabaseURL) {
		return "postgresql"
	}
	return "sqlite"
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var p service.Problems
	if c.ProcessedRetention < 0 {
		p.Addf("processed_retention: must not be negative")
	}
	switch {
	case c.DatabaseURL != "":
		if !IsPostgresURL(c.DatabaseURL) {
			p.Addf("database_url: want a postgres:// URL, or nothing for SQLite in data_dir")
		}
	case c.DataDir == "":
		p.Addf("data_dir: must not be empty")
	default:
		if fi, err := os.Stat(c.DataDir); err == nil && !fi.IsDir() {
			p.Addf("data_dir: %s is not a directory", c.DataDir)
		}
	}
	return p.Err()
}

// DBPath returns the path of the SQLite database file.
func (c Config) DBPath() string { return filepath.Join(c.DataDir, DBFile) }

// Database describes where the records are kept, without secrets: the
// SQLite file, or the PostgreSQL URL without its password.
func (c Config) Database() string {
	if c.DatabaseURL == "" {
		return c.DBPath()
	}
	u, err := url.Parse(c.DatabaseURL)
	if err != nil {
		return "postgres"
	}
	return u.Redacted()
}

// Timing of the outbox relay: how often it looks for change events that
// their handler did not publish, and how old an entry must be before the
// relay takes it over from a handler that may still be publishing it.
const (
	relayInterval = 30 * time.Second
	relayGrace    = 30 * time.Second
)

// maxBatch bounds how many events' writes share one transaction.
const maxBatch = 64

// openWhenReachable opens the database, waiting for it while it cannot be
// reached (PostgreSQL starting after gtmhub, say), and registers its
// readiness check, which fails meanwhile.
func openWhenReachable(ctx context.Context, cfg Config, r service.Resolved) (*DB, error) {
	var opened atomic.Pointer[DB]
	r.Health.Add(Name, func(ctx context.Context) error {
		if db := opened.Load(); db != nil {
			return db.Ping(ctx)
		}
		return errors.New("database not reachable yet")
	})
	var db *DB
	err := untilReachable(ctx, r.Logger, func() (err error) {
		db, err = Open(ctx, cfg)
		return err
	})
	if err != nil {
		return nil, err
	}
	opened.Store(db)
	return db, nil
}

// Run opens the database, publishes change events left in the outbox, and
// consumes enriched leads until ctx is cancelled. It then drains in-flight
// events, closes the database and returns nil. It returns an error if the
// configuration is invalid, the database cannot be opened, or the consumer
// cannot run.
func Run(ctx context.Context, cfg Config, deps service.Deps) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	r, closeNATS, err := deps.Resolve(ctx, cfg.NATSURL, Name)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer closeNATS()
	defer r.KeepCredentialsSeen(ctx, Name, cfg.credentials(os.Getenv), 0)()

	db, err := openWhenReachable(ctx, cfg, r)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while waiting for the database
		}
		return err
	}
	defer db.Close()
	api, err := serveAPI(ctx, r.Conn, db, r.Logger)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer func() { _ = api.Stop() }() // before the database closes
	r.Health.Add(Name+".streams", service.StreamsCheck(r.JS, events.StreamLeads, events.StreamRecords))

	pub, err := r.Publisher()
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	// Handlers write, and remove what they published from the outbox, in
	// batches; the relay that sweeps the outbox in the background does not
	// need to wait for them.
	stale, err := newStaleCounter(r.Registry)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	batches := newBatcher(db.sql, maxBatch, r.Logger)
	rl := &relay{store: db.sql, pub: pub, prop: r.Propagator, log: r.Logger, now: time.Now}
	handlerRelay := *rl
	handlerRelay.store = batches
	w := &writer{store: batches, relay: &handlerRelay, prop: r.Propagator, now: time.Now, log: r.Logger,
		tracer: r.TracerProvider.Tracer("github.com/gtmhub/gtmhub/services/store"), dbSystem: cfg.dbSystem(), stale: stale}

	spec, ok := events.DefaultTopology().Consumer(Name)
	if !ok {
		return errors.New("store: no consumer named store in the topology")
	}
	// As many handlers as a batch holds, so that a burst fills batches.
	c, err := events.NewConsumer(r.JS, spec, w.handle, r.ConsumerOptions(events.WithConcurrency(maxBatch))...)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}

	r.Logger.InfoContext(ctx, "store running", "db", cfg.Database(), "consumer", spec.Durable)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return rl.run(gctx, relayInterval, relayGrace) })
	// The batcher outlives the consumer, which drains its in-flight events
	// through it.
	bctx, stopBatches := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBatches()
	g.Go(func() error { batches.run(bctx, db.sql.writers); return nil })
	if cfg.ProcessedRetention > 0 {
		f := &forgetter{store: batches, retention: cfg.ProcessedRetention, log: r.Logger, now: time.Now}
		g.Go(func() error { f.run(gctx, forgetEvery); return nil })
	}
	g.Go(func() error {
		defer stopBatches()
		err := c.Run(gctx)
		if err == nil && ctx.Err() == nil {
			err = errors.New("consumer stopped")
		}
		return err
	})
	if err := g.Wait(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}
