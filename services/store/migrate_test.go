package store

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events/service"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

func TestOpenMigratesOnceAndKeepsTheSchemaContract(t *testing.T) {
	ctx := context.Background()
	cfg := Config{DataDir: filepath.Join(t.TempDir(), "nested", "data")}
	for range 2 {
		db, err := Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	db, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := db.sql

	migs, err := loadMigrations(sqliteMigrations, "migrations/sqlite")
	if err != nil {
		t.Fatal(err)
	}
	if n := rowCount(t, s, "schema_migrations"); n != len(migs) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(migs))
	}

	var mode string
	var fk, busy int
	if err := writerDB(t, s).QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode %q, %v; want wal", mode, err)
	}
	if err := writerDB(t, s).QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys %d, %v; want 1", fk, err)
	}
	if err := s.reader.QueryRow("PRAGMA busy_timeout").Scan(&busy); err != nil || busy != int(busyTimeout.Milliseconds()) {
		t.Errorf("busy_timeout %d, %v", busy, err)
	}

	// The columns other services and tools rely on, with their types.
	contract := map[string]map[string]string{
		"contacts": {"email": "TEXT", "first_name": "TEXT", "last_name": "TEXT", "company": "TEXT",
			"domain": "TEXT", "status": "TEXT", "signal_score": "REAL", "created_at": "TEXT", "updated_at": "TEXT",
			"provenance": "TEXT"},
		"companies":        {"domain": "TEXT", "name": "TEXT", "provenance": "TEXT"},
		"processed_events": {"event_id": "TEXT", "subject": "TEXT", "processed_at": "TEXT"},
		"activities":       {"email": "TEXT", "event_id": "TEXT", "type": "TEXT", "source": "TEXT", "event_time": "TEXT"},
	}
	for table, want := range contract {
		rows, err := s.reader.Query("SELECT name, type FROM pragma_table_info(?)", table)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for rows.Next() {
			var name, typ string
			if err := rows.Scan(&name, &typ); err != nil {
				t.Fatal(err)
			}
			got[name] = typ
		}
		rows.Close()
		for col, typ := range want {
			if got[col] != typ {
				t.Errorf("%s.%s has type %q, want %q", table, col, got[col], typ)
			}
		}
	}
	for _, idx := range []struct{ table, col string }{{"contacts", "email"}, {"companies", "domain"}} {
		var unique int
		err := s.reader.QueryRow(`SELECT count(*) FROM pragma_index_list(?) l, pragma_index_info(l.name) i
			WHERE l."unique" = 1 AND i.name = ?`, idx.table, idx.col).Scan(&unique)
		if err != nil || unique != 1 {
			t.Errorf("%s.%s unique: %d, %v", idx.table, idx.col, unique, err)
		}
	}
}

func TestOpenPostgresMigratesOnceAndKeepsTheSchemaContract(t *testing.T) {
	ctx := context.Background()
	cfg := Config{DatabaseURL: testPostgresSchema(t)}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if d := cfg.Database(); !strings.HasPrefix(d, "postgres://") || strings.Contains(d, DBFile) {
		t.Errorf("Database() = %q", d)
	}
	for range 2 {
		db, err := Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	db, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	migs, err := loadMigrations(postgresMigrations, "migrations/postgres")
	if err != nil {
		t.Fatal(err)
	}
	sqliteMigs, err := loadMigrations(sqliteMigrations, "migrations/sqlite")
	if err != nil {
		t.Fatal(err)
	}
	if len(migs) != len(sqliteMigs) {
		t.Errorf("%d postgres migrations, %d sqlite ones: each version must exist in both", len(migs), len(sqliteMigs))
	}
	if n := rowCount(t, db.sql, "schema_migrations"); n != len(migs) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(migs))
	}
	contract := map[string]map[string]string{
		"contacts": {"email": "text", "first_name": "text", "domain": "text", "status": "text",
			"signal_score": "double precision", "created_at": "text", "updated_at": "text"},
		"companies":        {"domain": "text", "name": "text", "employees": "bigint"},
		"processed_events": {"event_id": "text", "subject": "text", "processed_at": "text"},
		"activities":       {"email": "text", "event_id": "text", "type": "text", "source": "text", "event_time": "text"},
	}
	for table, want := range contract {
		rows, err := db.sql.reader.Query(`SELECT column_name, data_type FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1`, table)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for rows.Next() {
			var name, typ string
			if err := rows.Scan(&name, &typ); err != nil {
				t.Fatal(err)
			}
			got[name] = typ
		}
		rows.Close()
		for col, typ := range want {
			if got[col] != typ {
				t.Errorf("%s.%s has type %q, want %q", table, col, got[col], typ)
			}
		}
	}
	if err := (Config{DatabaseURL: "mysql://x"}).Validate(); err == nil || !strings.Contains(err.Error(), "database_url") {
		t.Errorf("Validate(mysql://) = %v", err)
	}
}

func TestFailedMigrationLeavesNoTrace(t *testing.T) {
	ctx := context.Background()
	s := openTestSQLite(t)
	migs, err := loadMigrations(sqliteMigrations, "migrations/sqlite")
	if err != nil {
		t.Fatal(err)
	}
	bad := migration{version: len(migs) + 1, name: "bad",
		sql: "CREATE TABLE half (a TEXT); INSERT INTO no_such_table VALUES (1);"}
	err = migrate(ctx, writerDB(t, s), sqliteDialect{}, append(migs, bad), time.Now())
	if err == nil || !strings.Contains(err.Error(), "migration bad") {
		t.Fatalf("migrate = %v, want the bad migration's error", err)
	}
	var n int
	if err := s.reader.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = 'half'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("table of the failed migration exists: %d, %v", n, err)
	}
	if n := rowCount(t, s, "schema_migrations"); n != len(migs) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(migs))
	}
}

func TestOpenRefusesANewerSchema(t *testing.T) {
	ctx := context.Background()
	cfg := Config{DataDir: t.TempDir()}
	db, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = writerDB(t, db.sql).Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 'x')`)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(ctx, cfg); !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("Open = %v, want ErrSchemaTooNew", err)
	}
}

func TestLoadMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name    string
		fs      fstest.MapFS
		want    []string
		wantErr string
	}{
		{name: "in version order", fs: fstest.MapFS{"m/0010_b.sql": file("B"), "m/0002_a.sql": file("A"), "m/README": file("")},
			want: []string{"0002_a", "0010_b"}},
		{name: "bad name", fs: fstest.MapFS{"m/init.sql": file("")}, wantErr: "want NNNN_name.sql"},
		{name: "version zero", fs: fstest.MapFS{"m/0000_x.sql": file("")}, wantErr: "want NNNN_name.sql"},
		{name: "shared version", fs: fstest.MapFS{"m/0001_a.sql": file(""), "m/001_b.sql": file("")}, wantErr: "share version 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := loadMigrations(tt.fs, "m")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, m := range ms {
				names = append(names, m.name)
			}
			if !reflect.DeepEqual(names, tt.want) {
				t.Errorf("got %v, want %v", names, tt.want)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("default config: %v", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "data_dir: must not be empty"},
		{Config{DataDir: file}, "is not a directory"},
		{Config{DataDir: "./data", ProcessedRetention: -time.Hour}, "processed_retention: must not be negative"},
	} {
		if err := c.cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%+v) = %v, want %q", c.cfg, err, c.want)
		}
		if _, err := Open(context.Background(), c.cfg); err == nil {
			t.Errorf("Open(%+v) succeeded", c.cfg)
		}
	}
}

func TestConfigFromGtmhubYAML(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gtmhub.yaml")
	yaml := "data_dir: /var/lib/gtmhub\ndatabase_url: postgres://gtmhub:secret@db:5432/gtmhub\nprocessed_retention: 720h\nenrich:\n  free_mail_domains: [gmail.com]\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	if err := service.LoadFile(path, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/var/lib/gtmhub" || cfg.DBPath() != "/var/lib/gtmhub/gtmhub.db" ||
		cfg.DatabaseURL != "postgres://gtmhub:secret@db:5432/gtmhub" || cfg.ProcessedRetention != 720*time.Hour {
		t.Errorf("config %+v, db %s", cfg, cfg.DBPath())
	}
	if d := cfg.Database(); strings.Contains(d, "secret") {
		t.Errorf("Database() = %q shows the password", d)
	}
}

// TestUpgradeMovesProvenanceIntoRows opens a database written by the
// migrations before provenance moved into the records' rows, on SQLite and
// PostgreSQL, and checks that every field keeps the event, time and source
// that set it, that the per-field tables are gone, and that processed
// events survive (SQLite also stores them clustered on their key).
func TestUpgradeMovesProvenanceIntoRows(t *testing.T) {
	ctx := context.Background()
	at1, at2 := "2025-11-20T09:14:03.000000000Z", "2025-11-21T10:00:00.500000000Z"
	old := []string{
		`INSERT INTO contacts (email, first_name, title, created_at, updated_at) VALUES ('ada@example.com', 'Ada', 'CTO', '` + at1 + `', '` + at2 + `')`,
		`INSERT INTO contact_fields VALUES ('ada@example.com', 'email', 'e1', '` + at1 + `', 'form')`,
		`INSERT INTO contact_fields VALUES ('ada@example.com', 'first_name', 'e1', '` + at1 + `', 'form')`,
		`INSERT INTO contact_fields VALUES ('ada@example.com', 'title', 'e2', '` + at2 + `', 'hubspot')`,
		`INSERT INTO contacts (email, created_at, updated_at) VALUES ('bare@example.com', '` + at1 + `', '` + at1 + `')`,
		`INSERT INTO companies (domain, name, created_at, updated_at) VALUES ('example.com', 'Example', '` + at1 + `', '` + at1 + `')`,
		`INSERT INTO company_fields VALUES ('example.com', 'name', 'e1', '` + at1 + `', 'clearbit')`,
		`INSERT INTO processed_events VALUES ('e1', 'gtm.leads.enriched', 't')`,
	}
	sqliteAt := func(from int) func(t *testing.T) (*sqlStore, error) {
		return func(t *testing.T) (*sqlStore, error) {
			path := filepath.Join(t.TempDir(), "old.db")
			db, err := sql.Open("sqlite", sqliteDSN(path, url.Values{"_foreign_keys": {"1"}}))
			if err != nil {
				t.Fatal(err)
			}
			writeOld(t, db, sqliteDialect{}, sqliteMigrations, "migrations/sqlite", from, old)
			return openSQLite(ctx, path, busyTimeout)
		}
	}
	tests := []struct {
		name string
		open func(t *testing.T) (*sqlStore, error) // at an older version, holding old's rows
	}{
		{"sqlite from version 3", sqliteAt(3)},
		{"sqlite from version 2, before provenance was clustered", sqliteAt(2)},
		{"postgres from version 3", func(t *testing.T) (*sqlStore, error) {
			dsn := testPostgresSchema(t)
			cfg, err := pgx.ParseConfig(dsn)
			if err != nil {
				t.Fatal(err)
			}
			writeOld(t, stdlib.OpenDB(*cfg), postgresDialect{}, postgresMigrations, "migrations/postgres", 3, old)
			return openPostgres(ctx, dsn)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.open(t)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			want := map[string]map[string]contracts.Provenance{
				"ada@example.com": {
					"email":      {EventID: "e1", At: mustTime(t, at1), Source: "form"},
					"first_name": {EventID: "e1", At: mustTime(t, at1), Source: "form"},
					"title":      {EventID: "e2", At: mustTime(t, at2), Source: "hubspot"},
				},
				"bare@example.com": {},
			}
			for email, prov := range want {
				r, found, err := s.load(ctx, writerDB(t, s), contactSchema, email)
				if err != nil || !found || !sameProvenance(r.prov, prov) {
					t.Errorf("%s after the upgrade: found %v, provenance %+v, %v; want %+v", email, found, r.prov, err, prov)
				}
			}
			r, found, err := s.load(ctx, writerDB(t, s), companySchema, "example.com")
			if err != nil || !found || r.values["name"] != "Example" || !sameProvenance(r.prov,
				map[string]contracts.Provenance{"name": {EventID: "e1", At: mustTime(t, at1), Source: "clearbit"}}) {
				t.Errorf("company after the upgrade: found %v, %+v, %v", found, r, err)
			}
			if n := rowCount(t, s, "processed_events"); n != 1 {
				t.Errorf("processed_events has %d rows after the upgrade, want 1", n)
			}
			for _, table := range []string{"contact_fields", "company_fields"} {
				if _, err := s.reader.ExecContext(ctx, "SELECT 1 FROM "+table); err == nil {
					t.Errorf("table %s still exists after the upgrade", table)
				}
			}
			if !strings.HasPrefix(tt.name, "sqlite") {
				return
			}
			var withoutRowid bool
			if err := writerDB(t, s).QueryRowContext(ctx, `SELECT wr FROM pragma_table_list WHERE name = 'processed_events'`).
				Scan(&withoutRowid); err != nil || !withoutRowid {
				t.Errorf("processed_events WITHOUT ROWID = %v (%v), want true", withoutRowid, err)
			}
		})
	}
}

// writeOld migrates db to schema version from, writes rows in it and closes
// it.
func writeOld(t *testing.T, db *sql.DB, d dialect, fsys fs.FS, dir string, from int, rows []string) {
	t.Helper()
	ctx := context.Background()
	defer db.Close()
	migs, err := loadMigrations(fsys, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, db, d, migs[:from], clock); err != nil {
		t.Fatal(err)
	}
	for _, q := range rows {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := parseTime(s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// sameProvenance reports whether two records' provenance name the same
// event, instant and source for the same fields.
func sameProvenance(a, b map[string]contracts.Provenance) bool {
	return maps.EqualFunc(a, b, func(x, y contracts.Provenance) bool {
		return x.EventID == y.EventID && x.Source == y.Source && x.At.Equal(y.At)
	})
}
