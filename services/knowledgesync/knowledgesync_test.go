package knowledgesync_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/services/knowledgesync"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/fakenotion"
)

const wait = 10 * time.Second

// logBuffer collects JSON log records for a test.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// records returns the logged records whose message is msg.
func (b *logBuffer) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(b.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// eventually polls cond until it holds or the test times out.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// start runs the service until the test ends and checks that it stops
// cleanly.
func start(t *testing.T, cfg knowledgesync.Config, deps service.Deps) {
	t.Helper()
	eventstest.Go(t, func(ctx context.Context) error { return knowledgesync.Run(ctx, cfg, deps) })
}

func TestRunIndexesTheFolder(t *testing.T) {
	srv := eventstest.RunServer(t)
	logs := &logBuffer{}
	health := service.NewHealth()
	cfg := knowledgesync.DefaultConfig()
	cfg.Knowledge.Dir = filepath.Join(t.TempDir(), "kb", "pages")
	cfg.Knowledge.Interval = time.Second
	cfg.Knowledge.NotionTokenEnv = "GTMHUB_TEST_NOTION_TOKEN_NEVER_SET"
	start(t, cfg, service.Deps{Conn: srv.Conn, Health: health,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})

	scanned := func(pages float64) func() bool {
		return func() bool {
			for _, rec := range logs.records(t, "knowledge folder scanned") {
				if rec["pages"] == pages {
					return true
				}
			}
			return false
		}
	}
	eventually(t, "the first scan", scanned(0))
	if _, err := os.Stat(cfg.Knowledge.Dir); err != nil {
		t.Fatalf("Run did not create the folder: %v", err)
	}
	if failed := health.Run(context.Background()); len(failed) != 0 {
		t.Errorf("not ready: %v", failed)
	}

	writeFile(t, cfg.Knowledge.Dir, "icp.md", "---\ntitle: ICP\n---\n")
	eventually(t, "a scan finding the new page", scanned(1))

	if n := len(logs.records(t, "Notion not configured: indexing the Markdown folder only")); n != 1 {
		t.Errorf("Notion state logged %d times, want once", n)
	}

	if err := os.RemoveAll(cfg.Knowledge.Dir); err != nil {
		t.Fatal(err)
	}
	if failed := health.Run(context.Background()); failed["knowledge"] == "" {
		t.Errorf("ready without a folder: %v", failed)
	}
}

func TestRunSyncsOnStartAndOnCommand(t *testing.T) {
	srv := eventstest.RunServer(t)
	fake := fakenotion.New(t.Cleanup, "secret_notion_token_value", fakenotion.WithRateLimit(300, 50))
	db := fake.NewDatabase()
	logs := &logBuffer{}
	t.Setenv("GTMHUB_TEST_NOTION_TOKEN", "secret_notion_token_value")
	cfg := knowledgesync.DefaultConfig()
	cfg.Knowledge.Dir = t.TempDir()
	cfg.Knowledge.Interval = time.Hour
	cfg.Knowledge.NotionDatabaseID = strings.ReplaceAll(db, "-", "")
	cfg.Knowledge.NotionTokenEnv = "GTMHUB_TEST_NOTION_TOKEN"
	cfg.Knowledge.NotionBaseURL = fake.URL
	cfg.Knowledge.RequestsPerSecond = 200
	writeFile(t, cfg.Knowledge.Dir, "icp.md", "---\ntitle: ICP\n---\nWho we sell to.\n")
	start(t, cfg, service.Deps{Conn: srv.Conn, Logger: slog.New(slog.NewJSONHandler(logs, nil))})

	eventually(t, "the first sync", func() bool { return len(fake.Pages(db)) == 1 })
	srv.Await(t, events.StreamKnowledge, events.SubjectKnowledgeSynced, 1, wait)

	if _, err := fake.AddPage(db, "Pricing FAQ", nil, nil); err != nil {
		t.Fatal(err)
	}
	pub, err := events.NewPublisher(srv.JS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := knowledgesync.RequestSync(context.Background(), pub, knowledgesync.SyncRequest{DryRun: true}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the dry run", func() bool { return len(logs.records(t, "knowledge sync command done")) == 1 })
	if _, err := os.Stat(filepath.Join(cfg.Knowledge.Dir, "pricing-faq.md")); !os.IsNotExist(err) {
		t.Fatalf("a dry run wrote a file: %v", err)
	}
	if _, err := knowledgesync.RequestSync(context.Background(), pub, knowledgesync.SyncRequest{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the page pulled on command", func() bool {
		_, err := os.Stat(filepath.Join(cfg.Knowledge.Dir, "pricing-faq.md"))
		return err == nil
	})
	if strings.Contains(logs.String(), "secret_notion_token_value") {
		t.Error("the Notion token was logged")
	}
}

func TestConfigValidate(t *testing.T) {
	if err := knowledgesync.DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
	cfg := knowledgesync.Config{Knowledge: knowledgesync.Knowledge{Dir: " ", Interval: time.Millisecond,
		NotionDatabaseID: "not-an-id"}}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate accepted an invalid config")
	}
	for _, want := range []string{"knowledge.dir", "knowledge.interval", "knowledge.notion_database_id", "knowledge.notion_token_env"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error does not mention %s: %v", want, err)
		}
	}
	if err := knowledgesync.Run(context.Background(), cfg, service.Deps{}); err == nil {
		t.Error("Run started with an invalid config")
	}
}

func TestConfigFromYAML(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gtmhub.yaml")
	yaml := "knowledge:\n  dir: /srv/kb\n  interval: 5m\n  notion_database_id: 1f2e3d4c5b6a79881f2e3d4c5b6a7988\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := knowledgesync.DefaultConfig()
	if err := service.LoadFile(path, &cfg); err != nil {
		t.Fatal(err)
	}
	want := knowledgesync.DefaultConfig().Knowledge
	want.Dir, want.Interval, want.NotionDatabaseID = "/srv/kb", 5*time.Minute, "1f2e3d4c5b6a79881f2e3d4c5b6a7988"
	if !reflect.DeepEqual(cfg.Knowledge, want) {
		t.Errorf("loaded %+v, want %+v", cfg.Knowledge, want)
	}
}

// TestStateBucketHasTheDeploymentsReplicas: on a cluster, the sync state
// bucket gets the replica count the host passes, like every stream.
func TestStateBucketHasTheDeploymentsReplicas(t *testing.T) {
	c := eventstest.RunCluster(t, 3)
	nc, err := nats.Connect(c.URLs())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := service.EnsureTopology(ctx, js, 3); err != nil {
		t.Fatal(err)
	}
	fake := fakenotion.New(t.Cleanup, "secret_notion_token_value", fakenotion.WithRateLimit(300, 50))
	db := fake.NewDatabase()
	t.Setenv("GTMHUB_TEST_NOTION_TOKEN", "secret_notion_token_value")
	cfg := knowledgesync.DefaultConfig()
	cfg.Knowledge.Dir = t.TempDir()
	cfg.Knowledge.Interval = time.Hour
	cfg.Knowledge.NotionDatabaseID = strings.ReplaceAll(db, "-", "")
	cfg.Knowledge.NotionTokenEnv = "GTMHUB_TEST_NOTION_TOKEN"
	cfg.Knowledge.NotionBaseURL = fake.URL
	writeFile(t, cfg.Knowledge.Dir, "icp.md", "---\ntitle: ICP\n---\nWho we sell to.\n")
	start(t, cfg, service.Deps{Conn: nc, Replicas: 3})

	eventually(t, "the first sync", func() bool { return len(fake.Pages(db)) == 1 })
	s, err := js.Stream(ctx, "KV_"+knowledgesync.StateBucket)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.CachedInfo().Config.Replicas; n != 3 {
		t.Errorf("state bucket with %d replicas, want 3", n)
	}
}

// TestConfigWithEnv: GTMHUB_KNOWLEDGE_DIR, when set, names the folder.
func TestConfigWithEnv(t *testing.T) {
	tests := []struct{ name, env, want string }{
		{"unset", "", "/from/file"},
		{"set", "/data/knowledge", "/data/knowledge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(knowledgesync.EnvDir, tt.env)
			cfg := knowledgesync.DefaultConfig()
			cfg.Knowledge.Dir = "/from/file"
			if got := cfg.WithEnv().Knowledge.Dir; got != tt.want {
				t.Errorf("folder %q, want %q", got, tt.want)
			}
		})
	}
}
