package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
)

// testDatabaseURLEnv names the PostgreSQL server the tests use. CI sets it;
// without it the tests start a throwaway server with the machine's initdb and
// pg_ctl (the Debian postgresql package) and fail if they cannot.
const testDatabaseURLEnv = "GTMHUB_TEST_DATABASE_URL"

// pg is the PostgreSQL server of this test binary, found or started on
// first use and stopped by TestMain.
var pg struct {
	once sync.Once
	url  string
	err  error
	stop func()
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pg.stop != nil {
		pg.stop()
	}
	os.Exit(code)
}

// testPostgresURL returns the URL of the tests' PostgreSQL server.
func testPostgresURL(t testing.TB) string {
	t.Helper()
	pg.once.Do(func() {
		if pg.url = os.Getenv(testDatabaseURLEnv); pg.url == "" {
			pg.url, pg.stop, pg.err = startPostgres()
		}
	})
	if pg.err != nil {
		t.Fatalf("PostgreSQL: %s is not set and no local server could be started: %v", testDatabaseURLEnv, pg.err)
	}
	return pg.url
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

// startPostgres runs initdb and pg_ctl on a temporary directory and a free
// port, as the postgres user when running as root (they refuse root), and
// returns the server's URL and a function that stops it and removes the
// directory.
func startPostgres() (string, func(), error) {
	initdb, err := postgresBin("initdb")
	if err != nil {
		return "", nil, err
	}
	pgctl, err := postgresBin("pg_ctl")
	if err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp("", "gtmhub-pg-")
	if err != nil {
		return "", nil, err
	}
	var prefix []string
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return "", nil, fmt.Errorf("running as root needs a postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return "", nil, err
		}
		prefix = []string{"runuser", "-u", "postgres", "--"}
	}
	run := func(args ...string) error {
		args = append(slices.Clone(prefix), args...)
		cmd := exec.Command(args[0], args[1:]...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %w\n%s", filepath.Base(args[len(prefix)]), err, out.String())
		}
		return nil
	}
	data := filepath.Join(dir, "data")
	if err := run(initdb, "-D", data, "-U", "gtmhub", "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off", port, dir)
	if err := run(pgctl, "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("%w\n%s", err, log)
	}
	stop := func() {
		if err := run(pgctl, "-D", data, "-m", "immediate", "-w", "stop"); err != nil {
			fmt.Fprintln(os.Stderr, "stop postgres:", err)
		}
		os.RemoveAll(dir)
	}
	return fmt.Sprintf("postgres://gtmhub@127.0.0.1:%d/postgres?sslmode=disable", port), stop, nil
}

// postgresBin finds a PostgreSQL server program on PATH or in Debian's
// versioned directories, newest first.
func postgresBin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(found) == 0 {
		return "", errors.New(name + " not found on PATH or in /usr/lib/postgresql/*/bin: install the postgresql package")
	}
	slices.SortFunc(found, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(a))))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(b))))
		return vb - va
	})
	return found[0], nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
