package store

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/contracts"
)

// TestForgetProcessed forgets the events processed before the retention, in
// batches, and keeps the others.
func TestForgetProcessed(t *testing.T) {
	for _, b := range testBackends {
		t.Run(b.name, func(t *testing.T) {
			s, ctx := b.open(t), context.Background()
			const old = forgetBatch + 5 // more than one batch
			if err := s.Update(ctx, func(tx recordTx) error {
				for i := range old {
					if _, err := tx.MarkProcessed(ctx, "old-"+time.Duration(i).String(), "s", clock.Add(-40*24*time.Hour)); err != nil {
						return err
					}
				}
				_, err := tx.MarkProcessed(ctx, "recent", "s", clock.Add(-29*24*time.Hour))
				return err
			}); err != nil {
				t.Fatal(err)
			}
			f := &forgetter{store: s, retention: DefaultProcessedRetention, log: slog.New(slog.DiscardHandler),
				now: func() time.Time { return clock }}
			n, err := f.forget(ctx)
			if err != nil || n != old {
				t.Fatalf("forget = %d, %v; want %d", n, err, old)
			}
			for id, want := range map[string]bool{"recent": true, "old-0s": false} {
				if done := processed(t, s, id); done != want {
					t.Errorf("%s remembered = %v, want %v", id, done, want)
				}
			}
		})
	}
}

// TestForgottenEventAgainChangesNothing applies a lead, forgets that it was
// processed, and applies it again: nothing changes and no change event is
// published, which is what makes forgetting safe.
func TestForgottenEventAgainChangesNothing(t *testing.T) {
	for _, b := range testBackends {
		t.Run(b.name, func(t *testing.T) {
			s, ctx := b.open(t), context.Background()
			rec := &recorder{}
			w := newTestWriter(s, rec)
			ev := enriched(t, "e1", t0, adaLead(func(l *contracts.Lead) { l.FirstName, l.Domain = "Ada", "example.com" }))
			if err := w.handle(ctx, ev); err != nil {
				t.Fatal(err)
			}
			published := len(rec.events())
			if published == 0 {
				t.Fatal("the first write published no change event")
			}
			f := &forgetter{store: s, retention: time.Nanosecond, log: slog.New(slog.DiscardHandler),
				now: func() time.Time { return clock.Add(time.Hour) }}
			if n, err := f.forget(ctx); err != nil || n != 1 {
				t.Fatalf("forget = %d, %v; want 1", n, err)
			}
			if err := w.handle(ctx, ev); err != nil {
				t.Fatal(err)
			}
			if got := len(rec.events()); got != published {
				t.Errorf("applying the forgotten event again published %d more change events", got-published)
			}
			acts, err := s.activities(ctx, "ada@example.com")
			if err != nil || len(acts) != 1 {
				t.Errorf("activities %v, %v; want one", acts, err)
			}
		})
	}
}

// TestMarkProcessedOnce marks an event processed the first time only, within
// a transaction and across them, and keeps nothing of a rolled-back mark.
func TestMarkProcessedOnce(t *testing.T) {
	rollback := errors.New("rollback")
	for _, b := range testBackends {
		t.Run(b.name, func(t *testing.T) {
			s, ctx := b.open(t), context.Background()
			mark := func(tx recordTx, id string) bool {
				fresh, err := tx.MarkProcessed(ctx, id, "s", clock)
				if err != nil {
					t.Fatal(err)
				}
				return fresh
			}
			var got []bool
			if err := s.Update(ctx, func(tx recordTx) error {
				got = append(got, mark(tx, "a"), mark(tx, "a"))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if err := s.Update(ctx, func(tx recordTx) error {
				got = append(got, mark(tx, "a"), mark(tx, "b"))
				return rollback
			}); !errors.Is(err, rollback) {
				t.Fatalf("rolled-back update: %v", err)
			}
			if err := s.Update(ctx, func(tx recordTx) error {
				got = append(got, mark(tx, "b"))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if want := []bool{true, false, false, true, true}; !slices.Equal(got, want) {
				t.Errorf("fresh = %v, want %v", got, want)
			}
		})
	}
}

// processed reports whether s remembers processing the event id, without
// changing what it remembers.
func processed(t *testing.T, s recordStore, id string) bool {
	t.Helper()
	errPeek := errors.New("peek")
	var fresh bool
	err := s.Update(context.Background(), func(tx recordTx) (err error) {
		if fresh, err = tx.MarkProcessed(context.Background(), id, "s", clock); err != nil {
			return err
		}
		return errPeek // roll the mark back
	})
	if !errors.Is(err, errPeek) {
		t.Fatal(err)
	}
	return !fresh
}

// TestStatementsAfterCancel: on SQLite, whose lock waits end at
// busy_timeout, a statement runs to the end even when its caller has
// given up; on PostgreSQL, where only the context can end a wait, it does
// not start.
func TestStatementsAfterCancel(t *testing.T) {
	for _, b := range testBackends {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t)
			gone, cancel := context.WithCancel(context.Background())
			cancel()
			var err error
			if uerr := s.Update(context.Background(), func(tx recordTx) error {
				_, err = tx.MarkProcessed(gone, "cancelled", "s", clock)
				return nil
			}); uerr != nil {
				t.Fatal(uerr)
			}
			detached := s.d.boundedWaits()
			if detached != (b.name == "sqlite") {
				t.Errorf("%s: bounded waits = %v", b.name, detached)
			}
			if ran := err == nil; ran != detached {
				t.Errorf("statement after cancel: err = %v, want it to run: %v", err, detached)
			}
			if detached && !processed(t, s, "cancelled") {
				t.Error("the statement ran but its row is not there")
			}
		})
	}
}
