package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/sqlite/*.sql
var sqliteMigrations embed.FS

// sqliteDialect is SQLite as modernc.org/sqlite speaks it.
type sqliteDialect struct{}

func (sqliteDialect) rebind(query string) string { return query }

func (sqliteDialect) upsert(table string, conflict, cols []string, rows int) string {
	return upsertOnConflict(table, conflict, cols, rows)
}

// retryable reports SQLITE_BUSY and SQLITE_LOCKED, with their extended
// codes: another connection, in this process or another, holds the lock
// longer than busy_timeout.
func (sqliteDialect) retryable(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}

// lockMigrations is empty: the writer's transactions begin IMMEDIATE, which
// already serializes them across processes.
func (sqliteDialect) lockMigrations() string { return "" }

// lockWrites is empty: the single writer connection, and BEGIN IMMEDIATE
// across processes, serialize write transactions.
func (sqliteDialect) lockWrites() string { return "" }

// boundedWaits is true: a statement waits for another connection's lock at
// most busy_timeout.
func (sqliteDialect) boundedWaits() bool { return true }

// insertedID is true: LastInsertId is the rowid, which an INTEGER PRIMARY
// KEY is.
func (sqliteDialect) insertedID() bool { return true }

// upsertOnConflict writes INSERT ... ON CONFLICT (...) DO UPDATE, which
// SQLite (3.24+) and PostgreSQL (9.5+) both understand.
func upsertOnConflict(table string, conflict, cols []string, rows int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES %s ON CONFLICT (%s) DO UPDATE SET ",
		table, strings.Join(cols, ", "), strings.TrimSuffix(strings.Repeat(row+", ", rows), ", "),
		strings.Join(conflict, ", "))
	first := true
	for _, c := range cols {
		if slices.Contains(conflict, c) {
			continue
		}
		if !first {
			b.WriteString(", ")
		}
		first = false
		fmt.Fprintf(&b, "%s = excluded.%s", c, c)
	}
	return b.String()
}

// busyTimeout is how long a connection waits for another's lock before
// SQLITE_BUSY.
const busyTimeout = 5 * time.Second

// maxReaders bounds the read pool. WAL lets readers run beside the writer.
const maxReaders = 4

// openSQLite opens (creating) the database file at path and migrates it to
// the latest schema. A connection waits up to busy for another's lock. Writes go through one connection that starts every
// transaction with BEGIN IMMEDIATE, so a transaction never fails to upgrade
// its lock halfway; commits are synchronous (FULL), so an acknowledged
// event's write survives a power loss.
func openSQLite(ctx context.Context, path string, busy time.Duration) (*sqlStore, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	base := url.Values{}
	base.Set("_busy_timeout", fmt.Sprint(busy.Milliseconds()))
	base.Set("_foreign_keys", "1")

	wq := maps.Clone(base)
	wq.Set("_journal_mode", "WAL")
	wq.Set("_synchronous", "FULL")
	wq.Set("_txlock", "immediate")
	writer, err := sql.Open("sqlite", sqliteDSN(abs, wq))
	if err != nil {
		return nil, err
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)

	migs, err := loadMigrations(sqliteMigrations, "migrations/sqlite")
	if err == nil {
		err = migrate(ctx, writer, sqliteDialect{}, migs, time.Now())
	}
	if err != nil {
		_ = writer.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}

	rq := maps.Clone(base)
	rq.Set("_query_only", "1")
	reader, err := sql.Open("sqlite", sqliteDSN(abs, rq))
	if err != nil {
		_ = writer.Close()
		return nil, err
	}
	reader.SetMaxOpenConns(maxReaders)
	reader.SetMaxIdleConns(maxReaders)
	return newSQLStore(ctx, sqliteDialect{}, writer, reader)
}

// sqliteDSN is a file: URI, so that any path is safe in it.
func sqliteDSN(path string, q url.Values) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: q.Encode()}).String()
}
