package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.opentelemetry.io/otel/propagation"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
)

// testBackends are the databases every storage test runs on: the
// conformance suite of the store.
var testBackends = []struct {
	name string
	open func(t testing.TB) *sqlStore
}{
	{"sqlite", openTestSQLite},
	{"postgres", openTestPostgres},
}

func openTestSQLite(t testing.TB) *sqlStore {
	t.Helper()
	s, err := openSQLite(context.Background(), filepath.Join(t.TempDir(), DBFile), busyTimeout)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// t0 is the base event time of the tests.
var t0 = time.Date(2025, 11, 20, 9, 0, 0, 0, time.UTC)

// clock is the store's wall clock in tests.
var clock = time.Date(2025, 11, 21, 12, 0, 0, 0, time.UTC)

// published is one event a recorder was asked to publish.
type published struct {
	subject string
	ev      event.Event
}

// recorder is a publisher that keeps what it is given, or fails with err.
type recorder struct {
	mu   sync.Mutex
	err  error
	pubs []published
}

func (r *recorder) Publish(_ context.Context, subject string, ev event.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.pubs = append(r.pubs, published{subject, ev})
	return nil
}

func (r *recorder) setErr(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
}

func (r *recorder) events() []published {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]published(nil), r.pubs...)
}

func newTestWriter(s recordStore, pub publisher) *writer {
	now := func() time.Time { return clock }
	prop := propagation.TraceContext{}
	return &writer{store: s, prop: prop, now: now, log: slog.New(slog.DiscardHandler),
		relay: &relay{store: s, pub: pub, prop: prop, log: slog.New(slog.DiscardHandler), now: now}}
}

// enriched returns a lead.enriched event from /gtmhub/enrich.
func enriched(t testing.TB, id string, at time.Time, l contracts.LeadEnriched) event.Event {
	t.Helper()
	if l.Enrichment.Status == nil {
		l.Enrichment.Status = map[string]contracts.ProviderStatus{}
	}
	ev := event.New()
	ev.SetID(id)
	ev.SetSource("/gtmhub/enrich")
	ev.SetType(contracts.TypeLeadEnriched)
	ev.SetTime(at)
	if err := ev.SetData(event.ApplicationJSON, l); err != nil {
		t.Fatal(err)
	}
	return ev
}

func ptr[T any](v T) *T { return &v }

// changeOf decodes a published change event's data, after checking that it
// is valid against its contract and carries the store's envelope.
func changeOf(t testing.TB, p published) (typ string, changes []contracts.FieldChange, prov map[string]contracts.Provenance) {
	t.Helper()
	ev := p.ev
	if err := contracts.Validate(ev.Type(), ev.Data()); err != nil {
		t.Errorf("%s %s breaks its contract: %v", ev.Type(), ev.ID(), err)
	}
	if e, ok := contracts.Lookup(ev.Type()); !ok || e.Subject != p.subject {
		t.Errorf("%s published on %s, want %s", ev.Type(), p.subject, e.Subject)
	}
	if ev.Source() != Source || ev.Subject() == "" || ev.Time().IsZero() || ev.DataContentType() != event.ApplicationJSON {
		t.Errorf("%s envelope: source %q subject %q time %v content type %q", ev.ID(), ev.Source(), ev.Subject(),
			ev.Time(), ev.DataContentType())
	}
	var data struct {
		Changes    []contracts.FieldChange         `json:"changes"`
		Provenance map[string]contracts.Provenance `json:"provenance"`
	}
	if err := json.Unmarshal(ev.Data(), &data); err != nil {
		t.Fatalf("decode %s: %v", ev.ID(), err)
	}
	return ev.Type(), data.Changes, data.Provenance
}

// enqueueChanges adds to the outbox of s, in one transaction, the contact
// change events of n input events ("in-0", "in-1", ...), and returns their
// sequences.
func enqueueChanges(t testing.TB, s recordStore, n int) []int64 {
	t.Helper()
	var seqs []int64
	err := s.Update(context.Background(), func(tx recordTx) error {
		for i := range n {
			in := fmt.Sprintf("in-%d", i)
			ev := enriched(t, ChangeEventID(contactSchema.name, in), clock, contracts.LeadEnriched{})
			seq, err := tx.Enqueue(context.Background(), outboxEntry{inputID: in,
				subject: events.SubjectContactCreated, event: ev, createdAt: clock})
			if err != nil {
				return err
			}
			seqs = append(seqs, seq)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return seqs
}

// writerDB returns the store's writer pool with its connection free: a
// connection the store holds for its writes (see heldWriter) is given back
// first, and taken again at the next write, which waits for the pool. Use
// it only while the store writes nothing, and leave no rows open on it.
func writerDB(t testing.TB, s *sqlStore) *sql.DB {
	t.Helper()
	if s.held != nil {
		if err := s.held.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return s.writer
}
