package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

//go:embed migrations/postgres/*.sql
var postgresMigrations embed.FS

// postgresDialect is PostgreSQL as pgx speaks it.
type postgresDialect struct{}

// rebind numbers the ? placeholders: $1, $2, ... The store's queries have
// no ? inside string literals.
func (postgresDialect) rebind(query string) string {
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (postgresDialect) upsert(table string, conflict, cols []string, rows int) string {
	return upsertOnConflict(table, conflict, cols, rows)
}

// retryable reports a serialization failure or a deadlock: another
// transaction touched the same rows, and running this one again will see
// its result.
func (postgresDialect) retryable(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "40001", "40P01": // serialization_failure, deadlock_detected
		return true
	}
	return false
}

// lockMigrations serializes migrations of one database across processes.
func (postgresDialect) lockMigrations() string { return `SELECT pg_advisory_xact_lock(4711001)` }

// lockWrites serializes write transactions on the database, across
// processes: a write reads a record, merges and writes it back, and two
// writes of the same contact or company must not interleave. One lock,
// taken first, cannot deadlock; group commit (see batcher) keeps its cost
// to one transaction per batch of events.
func (postgresDialect) lockWrites() string { return `SELECT pg_advisory_xact_lock(4711002)` }

// boundedWaits is false: a statement can wait on a row lock for as long
// as another transaction holds it, so only its context can end the wait.
func (postgresDialect) boundedWaits() bool { return false }

// insertedID is false: PostgreSQL's drivers give no LastInsertId; an insert
// reads its id back with RETURNING.
func (postgresDialect) insertedID() bool { return false }

// Pool sizes of a PostgreSQL store. Write transactions take turns (see
// lockWrites): a second writer prepares its batch while the first commits.
const (
	pgMaxWriters = 2
	pgMaxReaders = 4
)

// IsPostgresURL reports whether a database URL names PostgreSQL: a
// postgres:// or postgresql:// URL.
func IsPostgresURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql")
}

// openPostgres connects to the PostgreSQL database at dsn and migrates it
// to the latest schema.
func openPostgres(ctx context.Context, dsn string) (*sqlStore, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("database_url: %w", err)
	}
	writer := stdlib.OpenDB(*cfg)
	writer.SetMaxOpenConns(pgMaxWriters)
	writer.SetMaxIdleConns(pgMaxWriters)
	writer.SetConnMaxIdleTime(5 * time.Minute)

	migs, err := loadMigrations(postgresMigrations, "migrations/postgres")
	if err == nil {
		err = writer.PingContext(ctx)
	}
	if err == nil {
		err = migrate(ctx, writer, postgresDialect{}, migs, time.Now())
	}
	if err != nil {
		_ = writer.Close()
		return nil, fmt.Errorf("open postgres %s@%s/%s: %w", cfg.User, cfg.Host, cfg.Database, err)
	}
	reader := stdlib.OpenDB(*cfg)
	reader.SetMaxOpenConns(pgMaxReaders)
	reader.SetMaxIdleConns(pgMaxReaders)
	reader.SetConnMaxIdleTime(5 * time.Minute)
	return newSQLStore(ctx, postgresDialect{}, writer, reader)
}
