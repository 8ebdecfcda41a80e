package store

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
)

// TestRunOnPostgres runs the service on PostgreSQL: an enriched lead
// becomes a contact and a company with their change events, readable
// through the read API.
func TestRunOnPostgres(t *testing.T) {
	srv := eventstest.RunServer(t)
	cfg := Config{DataDir: t.TempDir(), DatabaseURL: testPostgresSchema(t)}
	health := service.NewHealth()
	stop := eventstest.Go(t, func(ctx context.Context) error {
		return Run(ctx, cfg, service.Deps{Conn: srv.Conn, Logger: slog.New(slog.DiscardHandler), Health: health})
	})
	ev := enriched(t, "lead-1", t0, adaLead(func(l *contracts.Lead) { l.FirstName, l.Domain = "Ada", "example.com" }))
	srv.Publish(t, events.SubjectLeadsEnriched, ev)
	msgs := srv.Await(t, events.StreamRecords, "gtm.records.>", 2, 10*time.Second)
	if len(msgs) != 2 {
		t.Fatalf("%d change events, want a contact and a company", len(msgs))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, found, err := NewClient(srv.Conn).Contact(ctx, "ada@example.com")
	if err != nil || !found || c.FirstName != "Ada" || len(c.Activities) != 1 {
		t.Errorf("Contact = %+v, %v, %v", c, found, err)
	}
	if failed := health.Run(ctx); len(failed) > 0 {
		t.Errorf("readiness failed: %v", failed)
	}
	stop()
	if n := srv.Count(t, events.StreamRecords, "gtm.records.>"); n != 2 {
		t.Errorf("RECORDS holds %d events, want 2", n)
	}
}
