package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestHeldWriter: SQLite's write transactions run on the connection the
// store holds; a transaction that fails or panics rolls back all it wrote
// and leaves the connection usable; a lost connection (closed, or reported
// bad by the driver) is replaced at the next transaction, which loses
// nothing.
func TestHeldWriter(t *testing.T) {
	ctx := context.Background()
	s := openTestSQLite(t)
	if s.held == nil {
		t.Fatal("the SQLite store holds no writer connection")
	}
	mark := func(id string, fail error) error {
		return s.Update(ctx, func(tx recordTx) error {
			if _, err := tx.MarkProcessed(ctx, id, "test", time.Now()); err != nil {
				return err
			}
			return fail
		})
	}
	refused := errors.New("refused")
	steps := []struct {
		name string
		do   func() error
		want error
	}{
		{"a write commits", func() error { return mark("a", nil) }, nil},
		{"a failed write rolls back", func() error { return mark("b", refused) }, refused},
		{"the connection lost", func() error {
			if err := s.held.conn.Close(); err != nil {
				t.Fatal(err)
			}
			return mark("c", nil)
		}, nil},
		{"the next write, on the new connection", func() error { return mark("d", nil) }, nil},
		{"the connection reported bad", func() error {
			_ = s.held.conn.Raw(func(any) error { return driver.ErrBadConn })
			return mark("e", nil)
		}, nil},
		{"a write that panics is rolled back", func() error {
			defer func() { _ = recover() }()
			return s.Update(ctx, func(tx recordTx) error {
				if _, err := tx.MarkProcessed(ctx, "f", "test", time.Now()); err != nil {
					return err
				}
				panic("write failed halfway")
			})
		}, nil},
		{"the write after it", func() error { return mark("g", nil) }, nil},
		{"the store closed", func() error { return s.held.Close() }, nil},
		{"a write after the connection was given back", func() error { return mark("h", nil) }, nil},
	}
	for _, st := range steps {
		if err := st.do(); !errors.Is(err, st.want) || (st.want == nil) != (err == nil) {
			t.Fatalf("%s: %v, want %v", st.name, err, st.want)
		}
	}
	var ids []string
	rows, err := s.reader.QueryContext(ctx, `SELECT event_id FROM processed_events ORDER BY event_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if got := fmt.Sprint(ids); got != "[a c d e g h]" {
		t.Errorf("processed events %s, want [a c d e g h]", got)
	}
}
