package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
)

// heldWriter is the writer's one connection, held by the store for its
// life with the write statements prepared on it, for a database whose
// statements never wait on a lock longer than a fixed timeout (SQLite, see
// dialect.boundedWaits). Write transactions run on it between BEGIN
// IMMEDIATE and COMMIT, without the caller's cancellation: database/sql
// watches a transaction's context, and that of every query run in one,
// with a goroutine each, which a held connection and a context that
// cannot be cancelled do without. A connection the driver reports lost is
// let go and another taken at the next transaction.
type heldWriter struct {
	db      *sql.DB
	queries []string

	mu    sync.Mutex // held for a whole transaction
	conn  *sql.Conn
	stmts *stmtCache // prepared on conn
}

// newHeldWriter holds a connection of db with queries prepared on it.
func newHeldWriter(ctx context.Context, db *sql.DB, queries []string) (*heldWriter, error) {
	h := &heldWriter{db: db, queries: queries}
	if err := h.hold(ctx); err != nil {
		return nil, err
	}
	return h, nil
}

// hold takes a connection and prepares the queries on it.
func (h *heldWriter) hold(ctx context.Context) error {
	conn, err := h.db.Conn(ctx)
	if err != nil {
		return err
	}
	stmts, err := prepareStmts(ctx, conn, h.queries...)
	if err != nil {
		return errors.Join(err, conn.Close())
	}
	h.conn, h.stmts = conn, stmts
	return nil
}

// update runs fn in one transaction on the held connection and commits it
// when fn returns nil. A transaction not committed (fn failed or panicked,
// or the commit failed) is rolled back, and a connection it cannot be
// rolled back on is let go.
func (h *heldWriter) update(ctx context.Context, fn func(tx *preparedTx) error) error {
	ctx = context.WithoutCancel(ctx)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.begin(ctx); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	committed := false
	defer func() {
		if committed {
			return
		}
		if _, err := h.conn.ExecContext(ctx, "ROLLBACK"); err != nil {
			h.drop()
		}
	}()
	// Every statement is prepared, and bound to the connection already.
	if err := fn(&preparedTx{tx: h.conn, detach: true, bound: h.stmts.m}); err != nil {
		return err
	}
	if _, err := h.conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	committed = true
	return nil
}

// begin begins a transaction on the held connection, taking one first if
// none is held, or another if the one held is lost, which nothing was
// written on yet.
func (h *heldWriter) begin(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		if h.conn == nil {
			if err := h.hold(ctx); err != nil {
				return err
			}
		}
		_, err := h.conn.ExecContext(ctx, "BEGIN IMMEDIATE")
		if !lost(err) || attempt > 0 {
			return err
		}
		h.drop()
	}
}

// drop lets go of a connection that is lost, or that may still hold a
// transaction: database/sql is told it is bad, so that it closes it, and
// any transaction with it, rather than pool it again. Its statements are
// not closed: they went with it, and finalizing them on a closed
// connection would fault.
func (h *heldWriter) drop() {
	_ = h.conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = h.conn.Close()
	h.conn, h.stmts = nil, nil
}

// lost reports whether err says the connection is gone.
func lost(err error) bool {
	return errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn)
}

// Close closes the statements and gives the connection back, to be taken
// again by the next transaction, if any.
func (h *heldWriter) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.conn == nil {
		return nil
	}
	err := errors.Join(h.stmts.Close(), h.conn.Close())
	h.conn, h.stmts = nil, nil
	return err
}
