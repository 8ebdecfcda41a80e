package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/services/store"
	"github.com/gtmhub/gtmhub/services/store/pgtest"
)

// The store scenarios run gtmhub's store service on its own, on a database
// of its own, and measure how fast it turns enriched leads into rows: each
// lead decoded and checked against its contract, its contact and company
// merged field by field with provenance, its activity, processed and outbox
// rows written in the same group-committed transaction, and its change
// events published and removed from the outbox. The leads are stored on
// LEADS first with the store's consumer paused, so the figure is the
// store's alone, as J consume is the consumer's alone.

// storeConsumer is the store's consumer of enriched leads.
var storeConsumer = []consumer{{events.StreamLeads, "store"}}

func runStoreSQLite(ctx context.Context, e *env, p Progress) (Result, error) {
	return runStore(ctx, e, p, "store", "")
}

// needsPostgres says what store/postgres needs when cfg has no database for it.
func needsPostgres(cfg Config) string {
	if cfg.PostgresURL != "" {
		return ""
	}
	return "a PostgreSQL database: --postgres-url or GTMHUB_BENCH_POSTGRES_URL"
}

// runStorePostgres runs the store on a schema of its own in the database at
// Config.PostgresURL, dropped when the scenario ends.
func runStorePostgres(ctx context.Context, e *env, p Progress) (Result, error) {
	dsn, drop, err := scratchSchema(ctx, e.cfg.PostgresURL)
	if err != nil {
		return Result{}, err
	}
	r, err := runStore(ctx, e, p, "store/postgres", dsn)
	return r, errors.Join(err, drop())
}

// runStore stores --events enriched leads on LEADS, then lets a store
// service of its own on the database at databaseURL (SQLite when empty)
// consume them, and measures until the last is acknowledged. It checks that
// every lead became a contact.
func runStore(ctx context.Context, e *env, p Progress, name, databaseURL string) (Result, error) {
	// The store service binds the store's durable consumer, which
	// gtmhub's own store shares: it must not run beside it.
	e.stopGtmhub()
	if err := service.EnsureTopology(ctx, e.js, 1); err != nil {
		return Result{}, err
	}
	cfg := store.DefaultConfig()
	cfg.DataDir, cfg.DatabaseURL = filepath.Join(e.dir, "store-"+filepath.Base(name)), databaseURL
	sctx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{}) // closed when store.Run has returned runErr
	var runErr error
	go func() {
		defer close(stopped)
		runErr = store.Run(sctx, cfg, service.Deps{Conn: e.nc, Logger: slog.New(slog.DiscardHandler)})
	}()
	stop := func() error { cancel(); <-stopped; return runErr }
	r, err := measureStore(ctx, e, p, name, stopped)
	if err := errors.Join(err, stop()); err != nil {
		return Result{}, err
	}
	return r, storedEvery(ctx, cfg, e.cfg.Events)
}

// measureStore waits for the store's consumer, pauses it while the leads
// are stored on LEADS, and times it from its resumption to its last ack.
func measureStore(ctx context.Context, e *env, p Progress, name string, stopped <-chan struct{}) (Result, error) {
	if err := untilStopped(ctx, stopped, func(ctx context.Context) error {
		return waitConsumersIdle(ctx, e.js, storeConsumer, e.patience())
	}); err != nil {
		return Result{}, err
	}
	resume, err := pauseConsumers(ctx, e.js, storeConsumer)
	if err != nil {
		return Result{}, err
	}
	n := e.cfg.Events
	if err := e.publishEnriched(ctx, n, func(done int) { p(name+" (leads to store)", done, n) }); err != nil {
		return Result{}, errors.Join(err, resume())
	}
	m := startMeter()
	if err := resume(); err != nil {
		return Result{}, err
	}
	tick := ticker(func() {
		if left, _, err := consumerBacklog(ctx, e.js, storeConsumer[0]); err == nil {
			p(name, n-left, n)
		}
	})
	defer tick()
	if err := untilStopped(ctx, stopped, func(ctx context.Context) error {
		return waitConsumersIdle(ctx, e.js, storeConsumer, 2*e.patience())
	}); err != nil {
		return Result{}, err
	}
	return m.result(n), nil
}

// untilStopped runs wait, and fails at once if the store stops first (its
// error is the one stop returns).
func untilStopped(ctx context.Context, stopped <-chan struct{}, wait func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- wait(ctx) }()
	select {
	case err := <-done:
		return err
	case <-stopped:
		return errors.New("the store stopped before its consumer was done")
	}
}

// publishEnriched stores n enriched leads on LEADS, as enrich publishes
// them: unique emails from benchCompanies companies, each with what the
// providers found.
func (e *env) publishEnriched(ctx context.Context, n int, progress func(done int)) error {
	run := uuid.NewString()[:8]
	for i := range n {
		msg, err := events.Encode(events.SubjectLeadsEnriched, enrichedLead(run, i))
		if err != nil {
			return err
		}
		if _, err := e.js.PublishMsgAsync(msg); err != nil {
			return fmt.Errorf("publish enriched lead: %w", err)
		}
		if i%1000 == 999 {
			progress(i + 1)
		}
	}
	select {
	case <-e.js.PublishAsyncComplete():
	case <-ctx.Done():
		return ctx.Err()
	}
	if failed := e.asyncFailed.Swap(0); failed > 0 {
		return fmt.Errorf("%d of %d enriched leads were not stored", failed, n)
	}
	progress(n)
	return nil
}

// enrichedLead is lead i of a run after enrichment.
func enrichedLead(run string, i int) event.Event {
	employees, score, signal := i%5000+10, 0.9, float64(i%100)
	email := leadEmail(run, i)
	_, domain, _ := strings.Cut(email, "@")
	l := contracts.LeadEnriched{
		Lead: contracts.Lead{Email: email, FirstName: "Ada", LastName: "Lovelace", Company: "Example Inc",
			Domain: domain, Title: "Head of Growth", Source: benchSource, SignalScore: &signal},
		Enrichment: contracts.Enrichment{
			Status: map[string]contracts.ProviderStatus{
				"clearbit": {State: contracts.ProviderDone}, "hunter": {State: contracts.ProviderDone}},
			Company: &contracts.Company{Name: "Example Inc", Domain: domain, Employees: &employees,
				Industry: "Software", Country: "GB"},
			EmailVerification: &contracts.EmailVerification{Status: "valid", Score: &score},
		},
	}
	ev := event.New()
	ev.SetID(fmt.Sprintf("bench-%s-%d", run, i))
	ev.SetSource("/gtmhub/enrich")
	ev.SetType(contracts.TypeLeadEnriched)
	ev.SetTime(time.Now())
	_ = ev.SetData(event.ApplicationJSON, l) // a struct of strings and numbers always marshals
	return ev
}

// storedEvery checks that the store's database holds a contact for each of
// the n leads.
func storedEvery(ctx context.Context, cfg store.Config, n int) error {
	db, err := store.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	got, err := db.CountContacts(ctx)
	if err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("the store holds %d contacts after %d leads", got, n)
	}
	return nil
}

// scratchSchema creates a schema with a unique name in the database at base
// and returns a URL whose connections use it, and the function that drops
// it with everything the store wrote there.
func scratchSchema(ctx context.Context, base string) (string, func() error, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, errors.New("--postgres-url does not parse as a URL")
	}
	dsn, drop, err := pgtest.Schema(ctx, base, "gtmhub_bench_")
	if err != nil {
		return "", nil, fmt.Errorf("PostgreSQL at %s: create a scratch schema: %s: --postgres-url must name a database its user may create schemas in",
			u.Redacted(), events.Redact(err.Error()))
	}
	return dsn, drop, nil
}
