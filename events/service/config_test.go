package service_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gtmhub/gtmhub/events/service"
)

// TestLoadFileErrorsShowNoSource: a mistake in the file is reported with its
// line and column and without the lines around it, which often hold
// secrets.
func TestLoadFileErrorsShowNoSource(t *testing.T) {
	type source struct {
		Name    string `yaml:"name"`
		Secrets []struct {
			Value string `yaml:"value"`
		} `yaml:"secrets"`
		MaxBody int `yaml:"max_body"`
	}
	type config struct {
		Sources []source `yaml:"sources"`
	}
	const secret = "REAL-SECRET-abc123"
	tests := []struct {
		name, doc, wantAt string
	}{
		{"a wrong type next to a secret", "sources:\n  - name: a\n    secrets:\n      - value: " + secret + "\n    max_body: lots\n", "[5:15]"},
		{"a secret where a list belongs", "sources:\n  - name: a\n    secrets: " + secret + "\n", "[3:14]"},
		{"bad YAML after a secret", "sources:\n  - name: a\n    secrets:\n      - value: " + secret + "\n   bad: [\n", "[5:4]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "gtmhub.yaml")
			if err := os.WriteFile(path, []byte(tt.doc), 0o600); err != nil {
				t.Fatal(err)
			}
			var cfg config
			err := service.LoadFile(path, &cfg)
			if err == nil {
				t.Fatal("LoadFile = nil, want an error")
			}
			if msg := err.Error(); strings.Contains(msg, secret) || !strings.Contains(msg, path+": "+tt.wantAt) {
				t.Errorf("LoadFile = %q, want the position %s and not the secret", msg, tt.wantAt)
			}
		})
	}
}
