// Package pgtest gives tests a PostgreSQL server: the one the
// GTMHUB_TEST_DATABASE_URL environment variable names (CI sets it), or else
// a throwaway one it starts with the machine's initdb and pg_ctl (the
// Debian postgresql package) and stops when asked. Tests and benchmarks
// keep their tables apart in scratch schemas of it (Schema).
package pgtest

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

	_ "github.com/jackc/pgx/v5/stdlib" // the driver the store uses
)

// EnvURL names the environment variable holding the URL of a PostgreSQL
// server for tests.
const EnvURL = "GTMHUB_TEST_DATABASE_URL"

// Server is a test binary's PostgreSQL server, found or started on the
// first call to URL. The zero value is ready to use; call Stop when the
// tests are done, usually from TestMain.
type Server struct {
	once sync.Once
	url  string
	err  error
	stop func()
}

// URL returns the server's URL, starting a throwaway server on the first
// call when EnvURL is not set. The error says why none could be started.
func (s *Server) URL() (string, error) {
	s.once.Do(func() {
		if s.url = os.Getenv(EnvURL); s.url == "" {
			s.url, s.stop, s.err = start()
		}
	})
	if s.err != nil {
		return "", fmt.Errorf("PostgreSQL: %s is not set and no local server could be started: %w", EnvURL, s.err)
	}
	return s.url, nil
}

// Stop stops and removes the server URL started, if it started one.
func (s *Server) Stop() {
	if s.stop != nil {
		s.stop()
		s.stop = nil
	}
}

// Schema creates a schema with a unique name, prefix and random hex, in the
// database at base, and returns a URL whose connections use it and the
// function that drops it with everything in it.
func Schema(ctx context.Context, base, prefix string) (dsn string, drop func() error, err error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, errors.New("the database URL does not parse")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, err
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := prefix + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, errors.Join(err, admin.Close())
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop = func() error {
		_, err := admin.ExecContext(context.WithoutCancel(ctx), "DROP SCHEMA "+schema+" CASCADE")
		return errors.Join(err, admin.Close())
	}
	return u.String(), drop, nil
}

// start runs initdb and pg_ctl on a temporary directory and a free
// port, as the postgres user when running as root (they refuse root), and
// returns the server's URL and a function that stops it and removes the
// directory.
func start() (string, func(), error) {
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
