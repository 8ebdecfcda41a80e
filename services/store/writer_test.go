package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
)

func TestHandleRejectsWhatCanNeverBeStored(t *testing.T) {
	valid := func() event.Event { return enriched(t, "e1", t0, adaLead(nil)) }
	tests := []struct {
		name   string
		ev     func() event.Event
		reason string // in the error
	}{{
		name:   "wrong type",
		ev:     func() event.Event { ev := valid(); ev.SetType(contracts.TypeLeadCaptured); return ev },
		reason: "want com.gtmhub.lead.enriched",
	}, {
		name: "invalid JSON",
		ev: func() event.Event {
			ev := valid()
			_ = ev.SetData(event.ApplicationJSON, []byte(`{"email":`))
			return ev
		},
		reason: "not valid JSON",
	}, {
		name: "no email",
		ev: func() event.Event {
			ev := valid()
			_ = ev.SetData(event.ApplicationJSON, []byte(`{"first_name":"Ada","enrichment":{"status":{}}}`))
			return ev
		},
		reason: "/email: is required",
	}, {
		name: "schema violation",
		ev: func() event.Event {
			return enriched(t, "e1", t0, adaLead(func(l *contracts.Lead) { l.Domain, l.SignalScore = "not a domain", ptr(101.0) }))
		},
		reason: "/domain",
	}, {
		name: "no time",
		ev: func() event.Event {
			ev := valid()
			ev.SetTime(time.Time{})
			return ev
		},
		reason: "no time",
	}}
	for _, b := range testBackends {
		for _, tt := range tests {
			t.Run(b.name+"/"+tt.name, func(t *testing.T) {
				s := b.open(t)
				rec := &recorder{}
				err := newTestWriter(s, rec).handle(context.Background(), tt.ev())
				if !events.IsPermanent(err) || !strings.Contains(err.Error(), tt.reason) {
					t.Fatalf("handle = %v, want a permanent error saying %q", err, tt.reason)
				}
				if n := rowCount(t, s, "contacts") + rowCount(t, s, "processed_events"); n != 0 || len(rec.events()) != 0 {
					t.Errorf("a rejected event left %d rows and %d events", n, len(rec.events()))
				}
			})
		}
	}
}

func TestEventTimeFallsBackToTheStreamTime(t *testing.T) {
	s := openTestSQLite(t)
	ev := enriched(t, "e1", t0, adaLead(nil))
	ev.SetTime(time.Time{})
	ctx := events.WithDelivery(context.Background(), events.Delivery{Subject: events.SubjectLeadsEnriched, Published: t0})
	if err := newTestWriter(s, &recorder{}).handle(ctx, ev); err != nil {
		t.Fatal(err)
	}
	c, ok, err := (&DB{sql: s}).Contact(context.Background(), "ada@example.com")
	if err != nil || !ok || !c.UpdatedAt.Equal(t0) || c.Provenance["source"].At != t0 {
		t.Errorf("contact %+v, %v, %v: want it dated by the stream time %v", c, ok, err, t0)
	}
}

// TestBusyDatabaseIsRetried holds the write lock from another connection:
// the handler must fail with a retryable error, and succeed once the lock
// is gone.
func TestBusyDatabaseIsRetried(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), DBFile)
	s, err := openSQLite(ctx, path, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	other, err := sql.Open("sqlite", sqliteDSN(path, map[string][]string{"_txlock": {"immediate"}}))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	lock, err := other.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}

	rec := &recorder{}
	w := newTestWriter(s, rec)
	ev := enriched(t, "e1", t0, adaLead(nil))
	err = w.handle(ctx, ev)
	if err == nil || events.IsPermanent(err) || !(sqliteDialect{}).retryable(err) {
		t.Fatalf("handle on a locked database = %v, want a retryable SQLITE_BUSY", err)
	}
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := w.handle(ctx, ev); err != nil {
		t.Fatalf("handle after the lock is gone: %v", err)
	}
	if len(rec.events()) != 1 {
		t.Errorf("published %d events, want 1", len(rec.events()))
	}
}

func TestRetryableIsOnlyLockContention(t *testing.T) {
	d := sqliteDialect{}
	if d.retryable(errors.New("SQLITE_BUSY")) || d.retryable(context.Canceled) || d.retryable(nil) {
		t.Error("only *sqlite.Error values with a busy or locked code are retryable")
	}
}

// TestSaveEveryField saves a record whose key and every field were touched
// by one write, and reads back the provenance of each.
func TestSaveEveryField(t *testing.T) {
	for _, b := range testBackends {
		t.Run(b.name, func(t *testing.T) {
			s, ctx := b.open(t), context.Background()
			for _, sc := range []*recordSchema{contactSchema, companySchema} {
				r := record{key: "k@example.com", values: map[string]any{}, prov: map[string]contracts.Provenance{},
					createdAt: t0, updatedAt: t0}
				fields := []string{sc.key}
				r.prov[sc.key] = contracts.Provenance{Source: "form", EventID: "e1", At: t0}
				for _, c := range sc.fields {
					if c.name == sc.key {
						continue
					}
					fields = append(fields, c.name)
					r.prov[c.name] = contracts.Provenance{Source: "form", EventID: "e1", At: t0}
				}
				if err := s.Update(ctx, func(tx recordTx) error { return tx.Save(ctx, sc, r) }); err != nil {
					t.Fatalf("%s: save with %d touched fields: %v", sc.name, len(fields), err)
				}
				var got record
				if err := s.Update(ctx, func(tx recordTx) (err error) { got, _, err = tx.Load(ctx, sc, r.key); return err }); err != nil {
					t.Fatal(err)
				}
				if len(got.prov) != len(fields) {
					t.Errorf("%s: provenance of %d fields, want %d", sc.name, len(got.prov), len(fields))
				}
				for _, f := range fields {
					if p := got.prov[f]; p.EventID != "e1" || p.Source != "form" || !p.At.Equal(t0) {
						t.Errorf("%s: %s read back with provenance %+v", sc.name, f, p)
					}
				}
			}
		})
	}
}
