package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/gtmhub/gtmhub/services/store/pgtest"
)

// pg is the PostgreSQL server of this test binary (pgtest.EnvURL, or one
// started on first use), stopped by TestMain.
var pg pgtest.Server

func TestMain(m *testing.M) {
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

// testPostgresURL returns the URL of the tests' PostgreSQL server.
func testPostgresURL(t testing.TB) string {
	t.Helper()
	u, err := pg.URL()
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// openTestPostgres opens a store in a schema of its own, dropped when the
// test ends.
func openTestPostgres(t testing.TB) *sqlStore {
	t.Helper()
	s, err := openPostgres(context.Background(), testPostgresSchema(t))
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// testPostgresSchema creates a schema with a unique name, to be dropped when
// the test ends, and returns a URL whose connections use it.
func testPostgresSchema(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	base := testPostgresURL(t)
	admin, err := sql.Open("pgx", base) // the driver pgx/v5/stdlib registers
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "test_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	t.Cleanup(func() { // after the cleanups registered later, which close the store
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	return u.String()
}
