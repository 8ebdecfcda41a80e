package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// stmtCache holds the writer's queries prepared once, before any
// transaction, so that a write transaction does not parse its SQL again for
// every event. database/sql prepares a statement again on another
// connection of the pool the first time a transaction there uses it. A
// store on SQLite prepares its statements on the one writer connection it
// holds instead (see heldWriter).
type stmtCache struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// preparer is where statements are prepared: a pool, or one connection.
type preparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// prepareStmts prepares every query on db.
func prepareStmts(ctx context.Context, db preparer, queries ...string) (*stmtCache, error) {
	c := &stmtCache{m: make(map[string]*sql.Stmt, len(queries))}
	for _, q := range queries {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("prepare %q: %w", q, err), c.Close())
		}
		c.m[q] = st
	}
	return c, nil
}

// get returns the prepared statement for query, or nil.
func (c *stmtCache) get(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[query]
}

// Close closes every prepared statement.
func (c *stmtCache) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for q, st := range c.m {
		errs = append(errs, st.Close())
		delete(c.m, q)
	}
	return errors.Join(errs...)
}

// querier is what reading a record needs: a transaction, or a transaction
// running prepared statements.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// preparedTx runs queries in tx through the statements of cache. Each
// statement is bound to tx once, on first use: binding allocates, and a
// batch of writes runs the same few statements many times.
type preparedTx struct {
	tx execQuerier
	// bind returns query's statement bound to tx, nil when it was not
	// prepared; nil when bound already holds every prepared statement.
	bind func(ctx context.Context, query string) *sql.Stmt
	// detach runs statements without the caller's cancellation (see
	// dialect.boundedWaits).
	detach bool
	bound  map[string]*sql.Stmt
}

// execQuerier is where a write transaction runs its statements: a
// database/sql transaction, or a held connection between BEGIN and COMMIT.
type execQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func newPreparedTx(tx *sql.Tx, cache *stmtCache, detach bool) *preparedTx {
	bind := func(ctx context.Context, query string) *sql.Stmt {
		if prepared := cache.get(query); prepared != nil {
			return tx.StmtContext(ctx, prepared)
		}
		return nil
	}
	return &preparedTx{tx: tx, bind: bind, detach: detach, bound: make(map[string]*sql.Stmt)}
}

func (p *preparedTx) context(ctx context.Context) context.Context {
	if p.detach {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// stmt returns query's statement bound to the transaction, or nil when the
// query was not prepared. A statement bound to a transaction closes with it.
func (p *preparedTx) stmt(ctx context.Context, query string) *sql.Stmt {
	if st, ok := p.bound[query]; ok || p.bind == nil {
		return st
	}
	st := p.bind(ctx, query)
	p.bound[query] = st
	return st
}

// A query that was not prepared runs as it is.

func (p *preparedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = p.context(ctx)
	if st := p.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return p.tx.ExecContext(ctx, query, args...)
}

func (p *preparedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = p.context(ctx)
	if st := p.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return p.tx.QueryContext(ctx, query, args...)
}

func (p *preparedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = p.context(ctx)
	if st := p.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return p.tx.QueryRowContext(ctx, query, args...)
}
