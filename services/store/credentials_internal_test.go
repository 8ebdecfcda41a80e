package store

import (
	"fmt"
	"testing"
)

// TestCredentials: the store's one credential is the database password.
func TestCredentials(t *testing.T) {
	fromEnv := "postgres://gtmhub:env-pass@db:5432/gtmhub"
	tests := []struct {
		url, want string
	}{
		{"", "[]"},
		{"postgres://db:5432/gtmhub", "[]"},
		{"postgres://gtmhub@db:5432/gtmhub", "[]"},
		{"postgres://gtmhub:file-pass@db:5432/gtmhub", "[database.password (inline)=file-pass]"},
		{fromEnv, "[database.password (env GTMHUB_DATABASE_URL)=env-pass]"},
	}
	getenv := func(k string) string {
		if k == databaseURLEnv {
			return fromEnv
		}
		return ""
	}
	for _, tt := range tests {
		var got []string
		for _, s := range (Config{DatabaseURL: tt.url}).credentials(getenv) {
			got = append(got, s.String()+"="+s.Value)
		}
		if fmt.Sprint(got) != tt.want {
			t.Errorf("%q: %v, want %s", tt.url, got, tt.want)
		}
	}
}
