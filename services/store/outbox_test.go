package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
)

// companyLead is a lead whose write creates a contact and a company.
func companyLead() contracts.LeadEnriched {
	l := adaLead(func(l *contracts.Lead) { l.FirstName, l.Domain = "Ada", "example.com" })
	l.Enrichment.Company = &contracts.Company{Name: "Acme Inc"}
	return l
}

func TestPublishFailureIsRetriedWithoutWritingTwice(t *testing.T) {
	for _, b := range testBackends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := b.open(t)
			rec := &recorder{err: errors.New("nats: timeout")}
			w := newTestWriter(s, rec)
			ev := enriched(t, "e1", t0, companyLead())

			err := w.handle(ctx, ev)
			if err == nil || events.IsPermanent(err) {
				t.Fatalf("handle with a failing publisher = %v, want a retryable error", err)
			}
			if got := pendingIDs(t, s); len(got) != 2 {
				t.Fatalf("outbox holds %v after the failed publish, want the 2 change events", got)
			}

			rec.setErr(nil)
			for range 2 { // the redelivery, and a replay after it
				if err := w.handle(ctx, ev); err != nil {
					t.Fatalf("redelivered handle: %v", err)
				}
			}
			var ids []string
			for _, p := range rec.events() {
				changeOf(t, p)
				ids = append(ids, p.ev.ID())
			}
			want := []string{ChangeEventID("contact", "e1"), ChangeEventID("company", "e1")}
			if !reflect.DeepEqual(ids, want) {
				t.Errorf("published %v, want %v once each", ids, want)
			}
			if got := pendingIDs(t, s); len(got) != 0 {
				t.Errorf("outbox still holds %v", got)
			}
			if n := rowCount(t, s, "processed_events"); n != 1 {
				t.Errorf("%d processed events, want 1", n)
			}
		})
	}
}

func pendingIDs(t *testing.T, s *sqlStore) []string {
	t.Helper()
	entries, err := s.PendingBefore(context.Background(), time.Now().Add(time.Hour), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.event.ID())
	}
	return ids
}

func rowCount(t *testing.T, s *sqlStore, table string) int {
	t.Helper()
	var n int
	if err := s.reader.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestOutboxHealsACrashAfterCommit commits a write whose change events were
// never published, as if the process died right after the commit, restarts
// the service on the same database, and expects each change event on the
// stream exactly once.
func TestOutboxHealsACrashAfterCommit(t *testing.T) {
	tests := []struct {
		name string
		// redeliver: the input event is still unacknowledged in LEADS.
		redeliver bool
		// published: the crash came after the publish, before the outbox
		// entries were removed.
		published bool
	}{
		{name: "input redelivered", redeliver: true},
		{name: "input gone, start-up relay publishes"},
		{name: "published before the crash", redeliver: true, published: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			srv := eventstest.RunServer(t)
			cfg := Config{DataDir: t.TempDir()}
			ev := enriched(t, "lead-1", t0, companyLead())
			want := []string{ChangeEventID("company", "lead-1"), ChangeEventID("contact", "lead-1")}

			db, err := Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			crashed := newTestWriter(db.sql, &recorder{err: errors.New("process killed")})
			if err := crashed.handle(ctx, ev); err == nil {
				t.Fatal("the write's publish should have failed")
			}
			if tt.published {
				pub, err := events.NewPublisher(srv.JS)
				if err != nil {
					t.Fatal(err)
				}
				entries, err := db.sql.PendingFor(ctx, "lead-1")
				if err != nil || len(entries) != 2 {
					t.Fatalf("outbox: %d entries, %v", len(entries), err)
				}
				for _, e := range entries {
					if err := pub.Publish(ctx, e.subject, e.event); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if tt.redeliver {
				srv.Publish(t, events.SubjectLeadsEnriched, ev)
			}

			runCtx, cancel := context.WithCancel(ctx)
			errc := make(chan error, 1)
			go func() {
				errc <- Run(runCtx, cfg, service.Deps{Conn: srv.Conn, Logger: slog.New(slog.DiscardHandler)})
			}()
			msgs := srv.Await(t, events.StreamRecords, "gtm.records.>", 2, 10*time.Second)

			check, err := sql.Open("sqlite", "file:"+cfg.DBPath()+"?mode=ro")
			if err != nil {
				t.Fatal(err)
			}
			defer check.Close()
			settled := func() bool {
				var outbox, processed int
				_ = check.QueryRow(`SELECT count(*) FROM outbox`).Scan(&outbox)
				_ = check.QueryRow(`SELECT count(*) FROM processed_events`).Scan(&processed)
				return outbox == 0 && processed == 1 && (!tt.redeliver || consumerSettled(t, srv))
			}
			for deadline := time.Now().Add(10 * time.Second); !settled(); time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("outbox not emptied")
				}
			}
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("Run = %v, want nil", err)
			}

			if n := srv.Count(t, events.StreamRecords, "gtm.records.>"); n != 2 {
				t.Errorf("RECORDS holds %d events, want 2", n)
			}
			var ids []string
			for _, m := range msgs {
				got, err := events.Decode(m.Headers(), m.Data())
				if err != nil {
					t.Fatal(err)
				}
				if err := contracts.Validate(got.Type(), got.Data()); err != nil {
					t.Error(err)
				}
				ids = append(ids, got.ID())
			}
			slices.Sort(ids)
			slices.Sort(want)
			if !reflect.DeepEqual(ids, want) {
				t.Errorf("change events %v, want %v", ids, want)
			}
			var contacts int
			if err := check.QueryRow(`SELECT count(*) FROM contacts`).Scan(&contacts); err != nil || contacts != 1 {
				t.Errorf("%d contacts, %v; want 1", contacts, err)
			}
		})
	}
}

func consumerSettled(t *testing.T, srv *eventstest.Server) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := srv.JS.Consumer(ctx, events.StreamLeads, Name)
	if err != nil {
		return false
	}
	info, err := c.Info(ctx)
	return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Consumer > 0
}

func TestRelaySweepsOnlyStaleEntries(t *testing.T) {
	ctx := context.Background()
	s := openTestSQLite(t)
	w := newTestWriter(s, &recorder{err: errors.New("down")})
	for i, at := range []time.Time{t0, t0.Add(time.Minute)} {
		w.now = func() time.Time { return clock.Add(time.Duration(i) * time.Minute) }
		_ = w.handle(ctx, enriched(t, []string{"old", "new"}[i], at,
			adaLead(func(l *contracts.Lead) { l.Email = []string{"a@example.com", "b@example.com"}[i] })))
	}
	rec := &recorder{}
	r := &relay{store: s, pub: rec, prop: w.prop, log: slog.New(slog.DiscardHandler), now: time.Now}

	r.sweep(ctx, clock) // the entry of "new" is younger than that
	if got := rec.events(); len(got) != 1 || got[0].ev.ID() != ChangeEventID("contact", "old") {
		t.Fatalf("first sweep published %v, want only the stale entry", got)
	}
	r.sweep(ctx, clock.Add(time.Minute))
	if got := rec.events(); len(got) != 2 || got[1].ev.ID() != ChangeEventID("contact", "new") {
		t.Fatalf("second sweep published %v", got)
	}
	if ids := pendingIDs(t, s); len(ids) != 0 {
		t.Errorf("outbox still holds %v", ids)
	}
}

// TestRemoveInChunks: removing published entries takes them out in chunks
// of removeChunk, a short chunk and repeated or already removed entries
// included, and leaves every other entry.
func TestRemoveInChunks(t *testing.T) {
	for _, b := range testBackends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := b.open(t)
			n := 2*removeChunk + 6
			seqs := enqueueChanges(t, s, n)
			steps := []struct {
				name   string
				remove []int64
				keep   []int64
			}{
				{"more than a chunk, one twice", append(slices.Clone(seqs[:removeChunk+3]), seqs[1]), seqs[removeChunk+3:]},
				{"a short chunk, one already removed", []int64{seqs[0], seqs[n-1], seqs[removeChunk+5]},
					slices.Concat(seqs[removeChunk+3:removeChunk+5], seqs[removeChunk+6:n-1])},
				{"the rest", seqs, nil},
			}
			for _, st := range steps {
				if err := s.Done(ctx, st.remove...); err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				left, err := s.PendingBefore(ctx, clock.Add(time.Hour), 10*n)
				if err != nil {
					t.Fatal(err)
				}
				var got []int64
				for _, e := range left {
					got = append(got, e.seq)
				}
				if !slices.Equal(got, st.keep) {
					t.Fatalf("after removing %s: outbox holds %v, want %v", st.name, got, st.keep)
				}
			}
		})
	}
}

// pendingOutage is a recordStore whose outbox cannot be read while down is
// set, as when the database cannot be reached.
type pendingOutage struct {
	recordStore
	down, broken atomic.Bool // broken: failing for another reason
}

func (p *pendingOutage) PendingBefore(ctx context.Context, before time.Time, limit int) ([]outboxEntry, error) {
	switch {
	case p.down.Load():
		return nil, fmt.Errorf("pending: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})
	case p.broken.Load():
		return nil, errors.New("pending: malformed outbox row")
	}
	return p.recordStore.PendingBefore(ctx, before, limit)
}

// TestRelayLogsAnOutageOnce: sweeps failing in a row because the database
// is out of reach log one warning, the rest at debug level, and the sweep
// that works again says so once; a later outage is warned of again, and a
// failure for another reason at every sweep.
func TestRelayLogsAnOutageOnce(t *testing.T) {
	ctx := context.Background()
	s := &pendingOutage{recordStore: openTestSQLite(t)}
	logs := &logCounter{}
	r := &relay{store: s, pub: &recorder{}, prop: propagation.TraceContext{}, log: slog.New(logs), now: time.Now}
	steps := []struct {
		down, broken              bool
		warned, still, recoveries int
	}{
		{true, false, 1, 0, 0},
		{true, false, 1, 1, 0},
		{true, false, 1, 2, 0},
		{false, false, 1, 2, 1},
		{false, false, 1, 2, 1},
		{true, false, 2, 2, 1},
		{false, false, 2, 2, 2},
		{false, true, 3, 2, 2},
		{false, true, 4, 2, 2},
		{false, false, 4, 2, 3},
	}
	for i, st := range steps {
		s.down.Store(st.down)
		s.broken.Store(st.broken)
		r.sweep(ctx, time.Now())
		if w, f, rc := logs.count(logRelayFailed), logs.count(logRelayStill), logs.count(logRelayRecovered); w != st.warned ||
			f != st.still || rc != st.recoveries {
			t.Errorf("after sweep %d: %d warnings, %d repeats, %d recoveries; want %d, %d, %d",
				i, w, f, rc, st.warned, st.still, st.recoveries)
		}
	}
}

// TestPendingForFindsTheEntriesOfOneInput: an input event's outbox entries
// are found by the ids of the change events it can cause, and no other
// input's entries come with them.
func TestPendingForFindsTheEntriesOfOneInput(t *testing.T) {
	for _, b := range testBackends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := b.open(t)
			seqs := enqueueChanges(t, s, 3)
			// in-1 changed its company too, after its contact.
			err := s.Update(ctx, func(tx recordTx) error {
				ev := enriched(t, ChangeEventID(companySchema.name, "in-1"), clock, contracts.LeadEnriched{})
				seq, err := tx.Enqueue(ctx, outboxEntry{inputID: "in-1", subject: events.SubjectCompanyCreated, event: ev, createdAt: clock})
				seqs = append(seqs, seq)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			tests := []struct {
				input string
				want  []int64
			}{
				{"in-0", seqs[:1]},
				{"in-1", []int64{seqs[1], seqs[3]}},
				{"in-2", seqs[2:3]},
				{"in-9", nil},
			}
			for _, tt := range tests {
				entries, err := s.PendingFor(ctx, tt.input)
				if err != nil {
					t.Fatal(err)
				}
				var got []int64
				for _, e := range entries {
					if e.inputID != tt.input {
						t.Errorf("%s: entry %d of input %q", tt.input, e.seq, e.inputID)
					}
					got = append(got, e.seq)
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("%s: entries %v, want %v", tt.input, got, tt.want)
				}
			}
		})
	}
}
