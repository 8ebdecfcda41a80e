package store

import (
	"context"
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
	dsn, drop, err := pgtest.Schema(context.Background(), testPostgresURL(t), "test_")
	if err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() { // after the cleanups registered later, which close the store
		if err := drop(); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	return dsn
}
