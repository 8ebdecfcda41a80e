package stack

import (
	"os"
	"path/filepath"
	"testing"
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
