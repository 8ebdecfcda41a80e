// Package knowledgesync keeps an index of a folder of Markdown pages, the
// local side of the Markdown ⇄ Notion knowledge sync.
//
// On start, every interval (15 minutes by default) and on demand
// ([Syncer.Scan]), it walks the folder for *.md files, reads their optional
// YAML front matter (title, notion_id, tags, and any other keys as
// properties) and indexes each page by path with its title, Notion id, tags,
// content hash and modification time. A page without front matter takes its
// title from its first "# heading", else from its file name. A file whose
// front matter is malformed is left out of the index and reported by name;
// it never stops a scan.
//
// Syncing with a Notion database is not implemented yet. The service says so
// once at start and only indexes; it publishes no knowledge events until it
// copies pages.
package knowledgesync

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gtmhub/gtmhub/events/service"
)

// Name is the service name, as the binary and the logs know it.
const Name = "knowledge-sync"

// Defaults of the knowledge: section.
const (
	DefaultDir            = "./data/knowledge"
	DefaultInterval       = 15 * time.Minute
	DefaultNotionTokenEnv = "NOTION_TOKEN"
)

// Config is the knowledge-sync service's configuration.
type Config struct {
	// Knowledge is the knowledge: section of gtmhub.yaml.
	Knowledge Knowledge `yaml:"knowledge"`
	// NATSURL is where to connect when the host passes no connection.
	NATSURL string `yaml:"-"`
}

// Knowledge configures the Markdown folder and its Notion database.
type Knowledge struct {
	// Dir is the Markdown folder, created if missing.
	// Default ./data/knowledge.
	Dir string `yaml:"dir"`
	// Interval is the time between scans. Default 15m.
	Interval time.Duration `yaml:"interval"`
	// NotionDatabaseID is the Notion database the folder syncs with. Empty:
	// no Notion sync.
	NotionDatabaseID string `yaml:"notion_database_id"`
	// NotionTokenEnv names the environment variable holding the Notion
	// integration token. Default NOTION_TOKEN.
	NotionTokenEnv string `yaml:"notion_token_env"`
}

// DefaultConfig returns the configuration used when gtmhub.yaml says
// nothing: ./data/knowledge scanned every 15 minutes, no Notion database.
func DefaultConfig() Config {
	return Config{Knowledge: Knowledge{Dir: DefaultDir, Interval: DefaultInterval,
		NotionTokenEnv: DefaultNotionTokenEnv}}
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var p service.Problems
	k := c.Knowledge
	if strings.TrimSpace(k.Dir) == "" {
		p.Addf("knowledge.dir is required")
	}
	if k.Interval < time.Second {
		p.Addf("knowledge.interval must be at least 1s, not %s", k.Interval)
	}
	if id := k.NotionDatabaseID; id != "" && !isNotionID(id) {
		p.Addf("knowledge.notion_database_id %q: want the database's 32 hexadecimal digits", id)
	}
	if strings.TrimSpace(k.NotionTokenEnv) == "" {
		p.Addf("knowledge.notion_token_env is required")
	}
	return p.Err()
}

// isNotionID reports whether id is a Notion id: 32 hex digits, dashes
// allowed (the UUID form).
func isNotionID(id string) bool {
	hex := strings.ReplaceAll(id, "-", "")
	if len(hex) != 32 {
		return false
	}
	for _, c := range hex {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

// Run creates the folder if it is missing, registers the "knowledge"
// readiness check, and scans the folder at start and every interval until
// ctx is cancelled; it then returns nil. It returns an error if the
// configuration is invalid or the folder cannot be created.
func Run(ctx context.Context, cfg Config, deps service.Deps) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	r, closeConn, err := deps.Resolve(ctx, cfg.NATSURL, Name)
	if err != nil {
		return fmt.Errorf("knowledge-sync: %w", err)
	}
	defer closeConn()

	k := cfg.Knowledge
	if err := os.MkdirAll(k.Dir, 0o755); err != nil {
		return fmt.Errorf("knowledge-sync: knowledge folder: %w", err)
	}
	s := NewSyncer(k.Dir, r.Logger)
	r.Health.Add("knowledge", s.Check)

	logNotionState(ctx, r, k)
	r.Logger.InfoContext(ctx, "knowledge-sync started", "dir", k.Dir, "interval", k.Interval.String())
	if err := s.Run(ctx, k.Interval); err != nil {
		return fmt.Errorf("knowledge-sync: %w", err)
	}
	r.Logger.Info("knowledge-sync stopped")
	return nil
}

// logNotionState says once why the folder is only indexed. The token itself
// is never logged.
func logNotionState(ctx context.Context, r service.Resolved, k Knowledge) {
	hasToken := os.Getenv(k.NotionTokenEnv) != ""
	switch {
	case k.NotionDatabaseID == "" && !hasToken:
		r.Logger.InfoContext(ctx, "Notion not configured: indexing the Markdown folder only",
			"set", "knowledge.notion_database_id and "+k.NotionTokenEnv)
	case k.NotionDatabaseID == "" || !hasToken:
		r.Logger.WarnContext(ctx, "Notion half configured: indexing the Markdown folder only",
			"database_id_set", k.NotionDatabaseID != "", "token_env", k.NotionTokenEnv, "token_set", hasToken)
	default:
		r.Logger.WarnContext(ctx, "Notion sync is not implemented yet: indexing the Markdown folder only",
			"database_id", k.NotionDatabaseID)
	}
}
