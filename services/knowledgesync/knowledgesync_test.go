package knowledgesync_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/services/knowledgesync"
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

func TestRunWithNotionConfiguredOnlyIndexes(t *testing.T) {
	srv := eventstest.RunServer(t)
	logs := &logBuffer{}
	t.Setenv("GTMHUB_TEST_NOTION_TOKEN", "secret_notion_token_value")
	cfg := knowledgesync.DefaultConfig()
	cfg.Knowledge.Dir = t.TempDir()
	cfg.Knowledge.NotionDatabaseID = "1f2e3d4c5b6a79881f2e3d4c5b6a7988"
	cfg.Knowledge.NotionTokenEnv = "GTMHUB_TEST_NOTION_TOKEN"
	start(t, cfg, service.Deps{Conn: srv.Conn, Logger: slog.New(slog.NewJSONHandler(logs, nil))})

	eventually(t, "the not-implemented notice", func() bool {
		return len(logs.records(t, "Notion sync is not implemented yet: indexing the Markdown folder only")) == 1
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
	want := knowledgesync.Knowledge{Dir: "/srv/kb", Interval: 5 * time.Minute,
		NotionDatabaseID: "1f2e3d4c5b6a79881f2e3d4c5b6a7988", NotionTokenEnv: knowledgesync.DefaultNotionTokenEnv}
	if cfg.Knowledge != want {
		t.Errorf("loaded %+v, want %+v", cfg.Knowledge, want)
	}
}
