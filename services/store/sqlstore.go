package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/gtmhub/gtmhub/contracts"
)

// dialect is what differs between the SQL databases the store runs on. Every
// query is written once, with ? placeholders, and passed through the dialect.
type dialect interface {
	// rebind rewrites a query's ? placeholders into the driver's own.
	rebind(query string) string
	// upsert returns an INSERT of rows rows of cols into table that, where
	// a row with the same conflict columns exists, updates its other
	// columns instead.
	upsert(table string, conflict, cols []string, rows int) string
	// retryable reports whether err is lock contention after which the
	// whole transaction may simply run again.
	retryable(err error) bool
	// lockMigrations is a statement that, run first in a migration's
	// transaction, keeps other processes from migrating at the same time;
	// empty when the transaction alone does.
	lockMigrations() string
	// lockWrites is a statement that, run first in a write transaction,
	// waits until no other write transaction on the database runs; empty
	// when the driver already serializes them.
	lockWrites() string
	// boundedWaits reports whether no statement can wait on a lock longer
	// than a fixed timeout. Statements then run without the caller's
	// cancellation, which would cost the driver a watcher per statement;
	// a caller that gives up waits at most that long for the statement
	// it was in.
	boundedWaits() bool
	// insertedID reports whether an insert's result gives the INTEGER
	// PRIMARY KEY of the row it inserted (LastInsertId), so that the
	// outbox need not read its sequence back with RETURNING: rows read in
	// a transaction cost database/sql a watcher goroutine each.
	insertedID() bool
}

// sqlStore keeps records in a SQL database through database/sql. Writes go
// through the writer pool and take turns (one connection on SQLite; an
// advisory lock on PostgreSQL), so that the read-merge-write of a record
// never interleaves with another; reads use their own pool.
type sqlStore struct {
	d dialect
	// writers is how many write transactions may run at once.
	writers int
	writer  *sql.DB
	reader  *sql.DB
	q       queries
	// stmts are the writer's prepared statements; held, on a database of
	// one writer connection whose statements wait for a lock at most a
	// fixed time (SQLite), is instead that connection, which every write
	// transaction runs on.
	stmts *stmtCache
	held  *heldWriter
}

// maxTxAttempts bounds how often Update runs a transaction that met lock
// contention before returning the error for the consumer to retry later.
const maxTxAttempts = 4

// queries are the store's SQL, rebound for its dialect once at open.
type queries struct {
	markProcessed, forgetProcessed             string
	addActivity, activities                    string
	attribution                                string
	enqueue, pendingFor, pendingBefore, delete string
	tables                                     map[*recordSchema]tableQueries
}

// tableQueries are the queries on one record table.
type tableQueries struct {
	load, save, count string
}

func newSQLStore(ctx context.Context, d dialect, writer, reader *sql.DB) (*sqlStore, error) {
	r := d.rebind
	enqueue := `INSERT INTO outbox (event_id, input_event_id, subject, event, created_at) VALUES (?, ?, ?, ?, ?)`
	if !d.insertedID() {
		enqueue += ` RETURNING seq`
	}
	q := queries{
		markProcessed: r(`INSERT INTO processed_events (event_id, subject, processed_at) VALUES (?, ?, ?)
			ON CONFLICT (event_id) DO NOTHING`),
		forgetProcessed: r(`DELETE FROM processed_events WHERE event_id IN
			(SELECT event_id FROM processed_events WHERE processed_at < ? ORDER BY processed_at LIMIT ?)`),
		enqueue: r(enqueue),
		// By the ids of the change events the input can have caused (one
		// per kind of record), which the outbox's unique index finds: an
		// index on input_event_id would cost a B-tree page per lead in
		// every commit, and again when the entry is removed.
		pendingFor: r(`SELECT seq, input_event_id, subject, event, created_at FROM outbox
			WHERE event_id IN (?` + strings.Repeat(", ?", len(recordSchemas)-1) + `) ORDER BY seq`),
		pendingBefore: r(`SELECT seq, input_event_id, subject, event, created_at FROM outbox
			WHERE created_at <= ? ORDER BY seq LIMIT ?`),
		delete: r(`DELETE FROM outbox WHERE seq IN (?` + strings.Repeat(", ?", removeChunk-1) + `)`),
		addActivity: r(`INSERT INTO activities (email, event_id, type, source, event_time) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (email, event_id) DO NOTHING`),
		activities: r(`SELECT event_id, type, source, event_time FROM activities WHERE email = ?
			ORDER BY event_time, event_id`),
		// The touches before the window's end of the contacts with a touch
		// in it (until, since, until), each contact's together and in time
		// order, as the attributor reads them.
		attribution: r(`SELECT email, source FROM activities
			WHERE event_time < ? AND email IN
				(SELECT email FROM activities WHERE event_time >= ? AND event_time < ?)
			ORDER BY email, event_time, id`),
		tables: map[*recordSchema]tableQueries{},
	}
	for _, s := range recordSchemas {
		q.tables[s] = newTableQueries(d, s)
	}
	s := &sqlStore{d: d, writers: max(writer.Stats().MaxOpenConnections, 1), writer: writer, reader: reader, q: q}
	var err error
	if d.boundedWaits() && s.writers == 1 {
		s.held, err = newHeldWriter(ctx, writer, q.writes())
	} else {
		s.stmts, err = prepareStmts(ctx, writer, q.writes()...)
	}
	if err != nil {
		return nil, errors.Join(err, writer.Close(), reader.Close())
	}
	return s, nil
}

// writes lists the queries that write transactions run.
func (q queries) writes() []string {
	out := []string{q.markProcessed, q.enqueue, q.delete, q.addActivity}
	for _, t := range q.tables {
		out = append(out, t.load, t.save)
	}
	return out
}

func newTableQueries(d dialect, s *recordSchema) tableQueries {
	cols := s.columns()
	sel := "SELECT " + strings.Join(cols, ", ") + " FROM " + s.table
	r := d.rebind
	return tableQueries{
		load:  r(sel + " WHERE " + s.key + " = ?"),
		save:  r(d.upsert(s.table, []string{s.key}, cols, 1)),
		count: r("SELECT count(*) FROM " + s.table),
	}
}

// columns lists the record table's columns in scan order.
func (s *recordSchema) columns() []string {
	cols := make([]string, 0, len(s.fields)+4)
	cols = append(cols, s.key)
	for _, c := range s.fields {
		cols = append(cols, c.name)
	}
	return append(cols, "created_at", "updated_at", "provenance")
}

// Close closes both pools.
func (s *sqlStore) Close() error {
	var errs []error
	if s.held != nil {
		errs = append(errs, s.held.Close())
	}
	if s.stmts != nil {
		errs = append(errs, s.stmts.Close())
	}
	return errors.Join(append(errs, s.reader.Close(), s.writer.Close())...)
}

// Ping checks that the database answers.
func (s *sqlStore) Ping(ctx context.Context) error {
	var one int
	if err := s.reader.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// Update runs fn in one write transaction and commits it when fn returns
// nil. A transaction that meets lock contention runs again, a few times.
func (s *sqlStore) Update(ctx context.Context, fn func(tx recordTx) error) error {
	return s.retry(ctx, func() error { return s.update(ctx, fn) })
}

// retry runs the transaction txn again while it meets lock contention, up to
// maxTxAttempts times.
func (s *sqlStore) retry(ctx context.Context, txn func() error) error {
	for attempt := 1; ; attempt++ {
		err := txn()
		if err == nil || !s.d.retryable(err) || attempt == maxTxAttempts {
			return err
		}
		select {
		case <-time.After(time.Duration(attempt) * 50 * time.Millisecond):
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		}
	}
}

func (s *sqlStore) update(ctx context.Context, fn func(tx recordTx) error) (err error) {
	if s.held != nil {
		return s.held.update(ctx, func(tx *preparedTx) error { return fn(&sqlTx{tx: tx, s: s}) })
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if lock := s.d.lockWrites(); lock != "" {
		if _, err := tx.ExecContext(ctx, lock); err != nil {
			return fmt.Errorf("lock writes: %w", err)
		}
	}
	if err := fn(&sqlTx{tx: newPreparedTx(tx, s.stmts, s.d.boundedWaits()), s: s}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// PendingFor returns the outbox entries of the input event inputID.
func (s *sqlStore) PendingFor(ctx context.Context, inputID string) ([]outboxEntry, error) {
	ids := make([]any, len(recordSchemas))
	for i, rs := range recordSchemas {
		ids[i] = ChangeEventID(rs.name, inputID)
	}
	return s.pending(ctx, s.q.pendingFor, ids...)
}

// PendingBefore returns up to limit outbox entries created no later than
// before, oldest first.
func (s *sqlStore) PendingBefore(ctx context.Context, before time.Time, limit int) ([]outboxEntry, error) {
	return s.pending(ctx, s.q.pendingBefore, formatTime(before), limit)
}

func (s *sqlStore) pending(ctx context.Context, query string, args ...any) ([]outboxEntry, error) {
	rows, err := s.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	defer rows.Close()
	var out []outboxEntry
	for rows.Next() {
		var (
			e               outboxEntry
			data, createdAt string
		)
		if err := rows.Scan(&e.seq, &e.inputID, &e.subject, &data, &createdAt); err != nil {
			return nil, fmt.Errorf("read outbox: %w", err)
		}
		if err := json.Unmarshal([]byte(data), &e.event); err != nil {
			return nil, fmt.Errorf("outbox entry %d: %w", e.seq, err)
		}
		if e.createdAt, err = parseTime(createdAt); err != nil {
			return nil, fmt.Errorf("outbox entry %d: %w", e.seq, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	return out, nil
}

// Done removes published outbox entries, in one transaction. Removing an
// entry twice is not an error.
func (s *sqlStore) Done(ctx context.Context, seqs ...int64) error {
	return done(ctx, s, seqs)
}

// done removes published outbox entries in one transaction of s.
func done(ctx context.Context, s interface {
	Update(context.Context, func(recordTx) error) error
}, seqs []int64) error {
	if len(seqs) == 0 {
		return nil
	}
	if err := s.Update(ctx, func(tx recordTx) error { return tx.Remove(ctx, seqs...) }); err != nil {
		return fmt.Errorf("remove published outbox entries: %w", err)
	}
	return nil
}

// get reads one record and its provenance outside any write transaction.
func (s *sqlStore) get(ctx context.Context, sc *recordSchema, key string) (rec record, found bool, err error) {
	err = s.read(ctx, func(tx *sql.Tx) error {
		rec, found, err = s.load(ctx, tx, sc, key)
		return err
	})
	return rec, found, err
}

// list reads up to limit records, newest first, or all when limit <= 0.
func (s *sqlStore) list(ctx context.Context, sc *recordSchema, limit int) ([]record, error) {
	return s.find(ctx, sc, nil, limit)
}

// condition is one term of a WHERE clause, with ? placeholders.
type condition struct {
	sql  string
	args []any
}

// find reads up to limit records matching every condition, newest first,
// or all of them when limit <= 0, with their provenance.
func (s *sqlStore) find(ctx context.Context, sc *recordSchema, where []condition, limit int) ([]record, error) {
	from := " FROM " + sc.table
	var (
		terms []string
		args  []any
	)
	for _, c := range where {
		terms = append(terms, c.sql)
		args = append(args, c.args...)
	}
	if len(terms) > 0 {
		from += " WHERE " + strings.Join(terms, " AND ")
	}
	from += " ORDER BY created_at DESC, id DESC"
	if limit > 0 {
		from += " LIMIT ?"
		args = append(args, limit)
	}
	rowsQ := s.d.rebind("SELECT " + strings.Join(sc.columns(), ", ") + from)
	// One statement, with each record's provenance in its row: it reads a
	// consistent state without a transaction of its own.
	rows, err := s.reader.QueryContext(ctx, rowsQ, args...)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", sc.table, err)
	}
	defer rows.Close()
	var recs []record
	for rows.Next() {
		r, err := scanRecord(sc, rows)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", sc.table, err)
		}
		recs = append(recs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list %s: %w", sc.table, err)
	}
	return recs, nil
}

// count returns how many records the table holds.
func (s *sqlStore) count(ctx context.Context, sc *recordSchema) (int, error) {
	var n int
	if err := s.reader.QueryRowContext(ctx, s.q.tables[sc].count).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", sc.table, err)
	}
	return n, nil
}

// read runs fn in a read-only transaction, so that its queries see one
// state of the database.
func (s *sqlStore) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	return fn(tx)
}

// load reads one record and its provenance within tx.
func (s *sqlStore) load(ctx context.Context, tx querier, sc *recordSchema, key string) (record, bool, error) {
	r, err := scanRecord(sc, tx.QueryRowContext(ctx, s.q.tables[sc].load, key))
	if errors.Is(err, sql.ErrNoRows) {
		return record{}, false, nil
	}
	if err != nil {
		return record{}, false, fmt.Errorf("load %s: %w", sc.name, err)
	}
	return r, true, nil
}

// scanRecord reads a row of sc.columns into a record with its provenance.
func scanRecord(sc *recordSchema, row interface{ Scan(dest ...any) error }) (record, error) {
	var createdAt, updatedAt, prov string
	r := record{values: make(map[string]any, len(sc.fields)), prov: make(map[string]contracts.Provenance, len(sc.fields)+1)}
	scanners := make([]valueScanner, len(sc.fields))
	dest := make([]any, 0, len(sc.fields)+4)
	dest = append(dest, &r.key)
	for i, c := range sc.fields {
		scanners[i] = valueScanner{kind: c.kind, name: c.name, values: r.values}
		dest = append(dest, &scanners[i])
	}
	dest = append(dest, &createdAt, &updatedAt, &prov)
	if err := row.Scan(dest...); err != nil {
		return record{}, err
	}
	var err error
	if r.createdAt, err = parseTime(createdAt); err != nil {
		return record{}, fmt.Errorf("%s %s: created_at: %w", sc.name, sc.key, err)
	}
	if r.updatedAt, err = parseTime(updatedAt); err != nil {
		return record{}, fmt.Errorf("%s %s: updated_at: %w", sc.name, sc.key, err)
	}
	if err := decodeProvenance(prov, r.prov); err != nil {
		return record{}, fmt.Errorf("%s %s: %w", sc.name, sc.key, err)
	}
	return r, nil
}

// valueScanner scans one nullable column into a record's values, leaving
// NULL out.
type valueScanner struct {
	kind   kind
	name   string
	values map[string]any
}

func (v valueScanner) Scan(src any) error {
	switch v.kind {
	case realKind:
		var n sql.NullFloat64
		if err := n.Scan(src); err != nil || !n.Valid {
			return err
		}
		v.values[v.name] = n.Float64
	case intKind:
		var n sql.NullInt64
		if err := n.Scan(src); err != nil || !n.Valid {
			return err
		}
		v.values[v.name] = n.Int64
	default:
		var n sql.NullString
		if err := n.Scan(src); err != nil || !n.Valid || n.String == "" {
			return err
		}
		v.values[v.name] = n.String
	}
	return nil
}

// sqlTx is one write transaction of a sqlStore.
type sqlTx struct {
	tx *preparedTx
	s  *sqlStore
}

func (t *sqlTx) MarkProcessed(ctx context.Context, eventID, subject string, at time.Time) (bool, error) {
	res, err := t.tx.ExecContext(ctx, t.s.q.markProcessed, eventID, subject, formatTime(at))
	if err != nil {
		return false, fmt.Errorf("mark event processed: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("mark event processed: %w", err)
	}
	return n == 1, nil
}

func (t *sqlTx) Load(ctx context.Context, sc *recordSchema, key string) (record, bool, error) {
	return t.s.load(ctx, t.tx, sc, key)
}

func (t *sqlTx) Save(ctx context.Context, sc *recordSchema, r record) error {
	args := make([]any, 0, len(sc.fields)+4)
	args = append(args, r.key)
	for _, c := range sc.fields {
		args = append(args, r.values[c.name]) // nil for no value: NULL
	}
	args = append(args, formatTime(r.createdAt), formatTime(r.updatedAt), encodeProvenance(r.prov))
	if _, err := t.tx.ExecContext(ctx, t.s.q.tables[sc].save, args...); err != nil {
		return fmt.Errorf("save %s: %w", sc.name, err)
	}
	return nil
}

func (t *sqlTx) Enqueue(ctx context.Context, e outboxEntry) (int64, error) {
	// The event's own encoder writes compact JSON; json.Marshal would
	// only scan and copy it again.
	data, err := e.event.MarshalJSON()
	if err != nil {
		return 0, fmt.Errorf("encode %s: %w", e.event.ID(), err)
	}
	args := []any{e.event.ID(), e.inputID, e.subject, string(data), formatTime(e.createdAt)}
	var seq int64
	if t.s.d.insertedID() {
		var res sql.Result
		if res, err = t.tx.ExecContext(ctx, t.s.q.enqueue, args...); err == nil {
			seq, err = res.LastInsertId()
		}
	} else {
		err = t.tx.QueryRowContext(ctx, t.s.q.enqueue, args...).Scan(&seq)
	}
	if err != nil {
		return 0, fmt.Errorf("enqueue %s: %w", e.event.ID(), err)
	}
	return seq, nil
}

// removeChunk is how many outbox entries one statement removes: the
// entries published since the last batch go in a statement or two instead
// of one each.
const removeChunk = 32

func (t *sqlTx) Remove(ctx context.Context, seqs ...int64) error {
	args := make([]any, removeChunk)
	for chunk := range slices.Chunk(seqs, removeChunk) {
		for i := range args {
			// A short chunk repeats its last entry: the statement is
			// prepared for removeChunk of them.
			args[i] = chunk[min(i, len(chunk)-1)]
		}
		if _, err := t.tx.ExecContext(ctx, t.s.q.delete, args...); err != nil {
			return err
		}
	}
	return nil
}

func (t *sqlTx) ForgetProcessed(ctx context.Context, before time.Time, limit int) (int64, error) {
	res, err := t.tx.ExecContext(ctx, t.s.q.forgetProcessed, formatTime(before), limit)
	if err != nil {
		return 0, fmt.Errorf("forget processed events: %w", err)
	}
	return res.RowsAffected()
}

func (t *sqlTx) AddActivity(ctx context.Context, email string, a Activity) error {
	_, err := t.tx.ExecContext(ctx, t.s.q.addActivity, email, a.EventID, a.Type, a.Source, formatTime(a.Time))
	if err != nil {
		return fmt.Errorf("add activity: %w", err)
	}
	return nil
}

// activities reads the activities of the contact email, oldest first.
func (s *sqlStore) activities(ctx context.Context, email string) ([]Activity, error) {
	rows, err := s.reader.QueryContext(ctx, s.q.activities, email)
	if err != nil {
		return nil, fmt.Errorf("read activities: %w", err)
	}
	defer rows.Close()
	var out []Activity
	for rows.Next() {
		var (
			a  Activity
			at string
		)
		if err := rows.Scan(&a.EventID, &a.Type, &a.Source, &at); err != nil {
			return nil, fmt.Errorf("read activities: %w", err)
		}
		if a.Time, err = parseTime(at); err != nil {
			return nil, fmt.Errorf("activity %s: %w", a.EventID, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read activities: %w", err)
	}
	return out, nil
}

// outboxEntry is a change event waiting to be published.
type outboxEntry struct {
	seq       int64
	inputID   string // the input event whose write produced it
	subject   string
	event     event.Event
	createdAt time.Time
}
