package stack

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// TestLoadServicesPrecedence: for the store's database, --data-dir and
// GTMHUB_DATABASE_URL win over gtmhub.yaml, which wins over the defaults.
func TestLoadServicesPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gtmhub.yaml")
	yaml := "database_url: postgres://gtmhub:wrong@db.example:5432/gtmhub\ndata_dir: /elsewhere\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, env, wantURL string
	}{
		{"the file", "", "postgres://gtmhub:wrong@db.example:5432/gtmhub"},
		{"the environment over the file", "postgres://gtmhub:right@db.example:5432/gtmhub", "postgres://gtmhub:right@db.example:5432/gtmhub"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GTMHUB_DATABASE_URL", tt.env)
			cfg := DefaultConfig()
			cfg.DataDir, cfg.ConfigFile = filepath.Join(dir, "data"), file
			s, err := loadServices(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if s.store.DatabaseURL != tt.wantURL || s.store.DataDir != cfg.DataDir {
				t.Errorf("store database %q in %q, want %q in %q", s.store.DatabaseURL, s.store.DataDir, tt.wantURL, cfg.DataDir)
			}
		})
	}
}

// TestLoadServicesKnowledgeDir: the knowledge folder is under the data
// directory, unless gtmhub.yaml names one; GTMHUB_KNOWLEDGE_DIR wins over
// both.
func TestLoadServicesKnowledgeDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gtmhub.yaml")
	if err := os.WriteFile(file, []byte("knowledge:\n  dir: /from/file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file, env, want string
	}{
		{"the data directory", "", "", filepath.Join(dir, "data", "knowledge")},
		{"the file", file, "", "/from/file"},
		{"the environment over the file", file, "/from/env", "/from/env"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GTMHUB_KNOWLEDGE_DIR", tt.env)
			cfg := DefaultConfig()
			cfg.DataDir, cfg.ConfigFile = filepath.Join(dir, "data"), tt.file
			s, err := loadServices(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if s.knowledge.Knowledge.Dir != tt.want {
				t.Errorf("knowledge folder %q, want %q", s.knowledge.Knowledge.Dir, tt.want)
			}
		})
	}
}

// TestExampleConfig: gtmhub.example.yaml, which deploy/README.md says to
// copy, is valid for every service as it stands, and with its commented
// sections in use once their variables are set.
func TestExampleConfig(t *testing.T) {
	example, err := os.ReadFile(filepath.Join("..", "..", "..", "gtmhub.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	uncommented := regexp.MustCompile(`(?m)^(\s*)# ([a-z_]+:|  |- )`).ReplaceAll(example, []byte("$1$2"))
	tests := []struct {
		name string
		yaml []byte
		env  map[string]string
	}{
		{"as it is", example, nil},
		{"uncommented", uncommented, map[string]string{"CLEARBIT_API_KEY": "ck", "HUNTER_API_KEY": "hk",
			"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/x", "SMTP_PASSWORD": "pw",
			"GTMHUB_EVENTS_TOKEN": "tk", "HUBSPOT_TOKEN": "hs", "AIRTABLE_TOKEN": "at",
			"SLACK_WEBHOOK_HIGH_INTENT": "https://hooks.slack.com/services/T0/B1/x",
			"SLACK_WEBHOOK_ALERTS":      "https://hooks.slack.com/services/T0/B2/x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			file := filepath.Join(t.TempDir(), "gtmhub.yaml")
			if err := os.WriteFile(file, tt.yaml, 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := DefaultConfig()
			cfg.DataDir, cfg.ConfigFile = t.TempDir(), file
			s, err := loadServices(cfg)
			if err != nil {
				t.Fatalf("%v\n%s", err, tt.yaml)
			}
			if time.Duration(s.notify.Credentials.RotateAfter) != 90*24*time.Hour {
				t.Errorf("credentials.rotate_after %v, want 90 days", time.Duration(s.notify.Credentials.RotateAfter))
			}
			if len(s.ingest.Sources) != 3 || s.ingest.Sources[1].FieldsAt != "row_data" {
				t.Errorf("sources %+v, want 3 with clay's rows read from row_data", s.ingest.Sources)
			}
			if tt.env != nil && (len(s.enrich.Enrich.Providers) != 2 || len(s.notify.Digest.To) != 1 ||
				s.knowledge.Knowledge.NotionDatabaseID == "" || len(s.ingest.Events.Tokens) != 1 ||
				len(s.enrich.Enrich.Scoring.TrustScoresFrom) != 1 || s.notify.HubSpot.TokenEnv == "" ||
				s.notify.Airtable.Table != "Leads" || len(s.notify.Rules) != 2) {
				t.Errorf("the commented sections were not read:\n%s", tt.yaml)
			}
		})
	}
}
