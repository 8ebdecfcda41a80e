package bench_test

import (
	"database/sql"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/gtmhub/gtmhub/services/store/pgtest"
	"github.com/gtmhub/gtmhub/tools/internal/bench"
)

// pg is the PostgreSQL server of this test binary, stopped by TestMain.
var pg pgtest.Server

func TestMain(m *testing.M) {
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

// TestRunStore runs the store scenarios: on SQLite, on PostgreSQL in a
// scratch schema it drops after, and after gtmhub has run the pipeline on
// the same consumer. Each stores every lead (the scenario counts the
// contacts) and reports a ratio to J consume.
func TestRunStore(t *testing.T) {
	pgURL, err := pg.URL()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		only     []string
		postgres string
		want     []string
		notRun   string // the scenario reported as not run, if any
	}{
		{"sqlite", []string{"ceiling/jetstream-consume", "store"}, "",
			[]string{"ceiling/jetstream-consume", "store"}, "store/postgres"},
		{"sqlite and postgres", []string{"ceiling/jetstream-consume", "store"}, pgURL,
			[]string{"ceiling/jetstream-consume", "store", "store/postgres"}, ""},
		{"after the pipeline", []string{"ceiling/jetstream-consume", "pipeline", "store"}, "",
			[]string{"ceiling/jetstream-consume", "pipeline", "pipeline/latency", "store"}, "store/postgres"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := bench.Config{Events: 150, Duration: time.Second, PayloadSize: 300, Concurrency: 8, Rate: 50,
				Only: tt.only, PostgresURL: tt.postgres}
			rep, err := bench.Run(t.Context(), cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rep.Results {
				got = append(got, r.Name)
				if strings.HasPrefix(r.Name, "store") && (r.Ops != cfg.Events || r.Ratio <= 0 || r.AllocsOp <= 0) {
					t.Errorf("%s: %d ops, ratio %.3f, %.0f allocs/op; want %d ops", r.Name, r.Ops, r.Ratio, r.AllocsOp, cfg.Events)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("results %v, want %v", got, tt.want)
			}
			var notRun []string
			for _, n := range rep.NotRun {
				notRun = append(notRun, n.Name)
				if !strings.Contains(n.Why, "--postgres-url") {
					t.Errorf("not run: %s needs %q, want it to name --postgres-url", n.Name, n.Why)
				}
			}
			if strings.Join(notRun, ",") != tt.notRun {
				t.Errorf("not run %v, want %q", notRun, tt.notRun)
			}
		})
	}
	if n := benchSchemas(t, pgURL); n != 0 {
		t.Errorf("%d scratch schemas left in the database", n)
	}
}

// TestRunStoreRefuses: store/postgres needs a database, and one that
// cannot be reached is named without its password.
func TestRunStoreRefuses(t *testing.T) {
	tests := []struct {
		name, postgres, want string
	}{
		{"no database", "", "needs --postgres-url"},
		{"database unreachable", "postgres://bench:s3cret-pw@127.0.0.1:1/none?sslmode=disable", "scratch schema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := bench.Config{Events: 10, Duration: time.Second, PayloadSize: 300, Concurrency: 1, Rate: 10,
				Only: []string{"store/postgres"}, PostgresURL: tt.postgres}
			_, err := bench.Run(t.Context(), cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "s3cret-pw") {
				t.Fatalf("Run() = %v, want an error saying %q without the password", err, tt.want)
			}
		})
	}
}

// benchSchemas counts the scratch schemas the store scenario left.
func benchSchemas(t *testing.T, url string) int {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(t.Context(),
		`SELECT count(*) FROM information_schema.schemata WHERE schema_name LIKE 'gtmhub_bench_%'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
