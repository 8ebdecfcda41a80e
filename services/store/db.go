package store

import (
	"context"
	"fmt"
	"os"
)

// DB is the store's database: the contacts and companies, for the service
// and for tools that read them. It is safe for concurrent use.
type DB struct {
	sql *sqlStore
}

// Open opens the database of cfg, migrated to the latest schema: the
// PostgreSQL database of cfg.DatabaseURL, or else the SQLite file in
// cfg.DataDir, creating the directory and the file when missing.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.DatabaseURL != "" {
		s, err := openPostgres(ctx, cfg.DatabaseURL)
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		return &DB{sql: s}, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("store: data dir: %w", err)
	}
	s, err := openSQLite(ctx, cfg.DBPath(), busyTimeout)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return &DB{sql: s}, nil
}

// Close closes the database.
func (db *DB) Close() error { return db.sql.Close() }

// Ping checks that the database answers; it is the store's readiness check.
func (db *DB) Ping(ctx context.Context) error { return db.sql.Ping(ctx) }

// Contact returns the contact with the given email, which is matched
// case-insensitively, and whether there is one.
func (db *DB) Contact(ctx context.Context, email string) (Contact, bool, error) {
	r, ok, err := db.sql.get(ctx, contactSchema, normalizeEmail(email))
	if err != nil || !ok {
		return Contact{}, false, err
	}
	return contactFromRecord(r), true, nil
}

// Contacts returns up to limit contacts, newest first (by CreatedAt), or all
// of them when limit <= 0.
func (db *DB) Contacts(ctx context.Context, limit int) ([]Contact, error) {
	return db.ListContacts(ctx, ContactFilter{Limit: limit})
}

// ListContacts returns the contacts f selects, newest first (by
// CreatedAt): up to f.Limit of them, or all when f.Limit <= 0.
func (db *DB) ListContacts(ctx context.Context, f ContactFilter) ([]Contact, error) {
	var where []condition
	if !f.Since.IsZero() {
		where = append(where, condition{"updated_at >= ?", []any{formatTime(f.Since)}})
	}
	if f.Status != "" {
		where = append(where, condition{"status = ?", []any{f.Status}})
	}
	if f.MinScore != nil {
		where = append(where, condition{"signal_score >= ?", []any{*f.MinScore}})
	}
	recs, err := db.sql.find(ctx, contactSchema, where, f.Limit)
	if err != nil {
		return nil, err
	}
	out := make([]Contact, len(recs))
	for i, r := range recs {
		out[i] = contactFromRecord(r)
	}
	return out, nil
}

// CountContacts returns how many contacts the store holds.
func (db *DB) CountContacts(ctx context.Context) (int, error) {
	return db.sql.count(ctx, contactSchema)
}

// Activities returns the events that touched the contact with the given
// email, oldest first.
func (db *DB) Activities(ctx context.Context, email string) ([]Activity, error) {
	return db.sql.activities(ctx, normalizeEmail(email))
}

// Company returns the company of the given domain, and whether there is
// one. Companies are keyed by registrable domain, so www.acme.com finds
// acme.com.
func (db *DB) Company(ctx context.Context, domain string) (Company, bool, error) {
	key := registrableDomain(domain)
	if key == "" {
		return Company{}, false, nil
	}
	r, ok, err := db.sql.get(ctx, companySchema, key)
	if err != nil || !ok {
		return Company{}, false, err
	}
	return companyFromRecord(r), true, nil
}

// Companies returns up to limit companies, newest first (by CreatedAt), or
// all of them when limit <= 0.
func (db *DB) Companies(ctx context.Context, limit int) ([]Company, error) {
	recs, err := db.sql.list(ctx, companySchema, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Company, len(recs))
	for i, r := range recs {
		out[i] = companyFromRecord(r)
	}
	return out, nil
}

// CountCompanies returns how many companies the store holds.
func (db *DB) CountCompanies(ctx context.Context) (int, error) {
	return db.sql.count(ctx, companySchema)
}
