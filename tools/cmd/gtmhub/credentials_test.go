package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
)

// recordAged records one credential per age in days, each with its own
// secret, and returns the secrets.
func recordAged(t *testing.T, srv *eventstest.Server, ages map[string]int) []string {
	t.Helper()
	var secrets []string
	for name, days := range ages {
		secret := "secret-value-of-" + name
		secrets = append(secrets, secret)
		at := time.Now().AddDate(0, 0, -days)
		if err := service.RecordCredentials(context.Background(), srv.JS, "notify",
			[]service.Secret{service.SecretFrom(name, "", secret)}, at); err != nil {
			t.Fatal(err)
		}
	}
	return secrets
}

// TestCredentialsRotation: status and credentials rate every credential
// ok, due soon or overdue against the rotation period given by the flag,
// the config file or the default, and warn about the late ones; neither
// prints a secret.
func TestCredentialsRotation(t *testing.T) {
	srv := eventstest.RunServer(t)
	secrets := recordAged(t, srv, map[string]int{"slack.webhook": 10, "smtp.password": 65, "hubspot.token": 120})
	config := filepath.Join(t.TempDir(), "gtmhub.yaml")
	if err := os.WriteFile(config, []byte("credentials:\n  rotate_after: 200d\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want map[string]string // credential name: rotation
	}{
		{"default 90 days", nil,
			map[string]string{"slack.webhook": "ok", "smtp.password": "due_soon", "hubspot.token": "overdue"}},
		{"flag", []string{"--rotate-after", "30d"},
			map[string]string{"slack.webhook": "ok", "smtp.password": "overdue", "hubspot.token": "overdue"}},
		{"config file", []string{"--config", config},
			map[string]string{"slack.webhook": "ok", "smtp.password": "ok", "hubspot.token": "ok"}},
		{"flag over config file", []string{"--config", config, "--rotate-after", "2160h"},
			map[string]string{"slack.webhook": "ok", "smtp.password": "due_soon", "hubspot.token": "overdue"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, command := range []string{"status", "credentials"} {
				out, err := gtmhub(t, srv, "", append([]string{command, "--json"}, tt.args...)...)
				if err != nil {
					t.Fatal(err, out)
				}
				var got struct {
					Credentials []credentialStatus `json:"credentials"`
				}
				if command == "status" {
					err = json.Unmarshal([]byte(out), &got)
				} else {
					err = json.Unmarshal([]byte(out), &got.Credentials)
				}
				if err != nil {
					t.Fatal(err, out)
				}
				rated := map[string]string{}
				for _, c := range got.Credentials {
					rated[c.Name] = string(c.Rotation)
				}
				if len(rated) != len(tt.want) {
					t.Errorf("%s: credentials %v, want %v", command, rated, tt.want)
				}
				for name, want := range tt.want {
					if rated[name] != want {
						t.Errorf("%s: %s %s, want %s", command, name, rated[name], want)
					}
				}
				assertNoSecret(t, command, out, secrets)
			}
		})
	}
}

// TestCredentialsTables: the tables show each credential's age, origin and
// rotation state, and the late ones get a warning; no secret, and not the
// fingerprint key, is printed.
func TestCredentialsTables(t *testing.T) {
	srv := eventstest.RunServer(t)
	secrets := recordAged(t, srv, map[string]int{"slack.webhook": 10, "smtp.password": 65, "hubspot.token": 120})
	kv, err := srv.JS.KeyValue(context.Background(), service.CredentialsBucket)
	if err != nil {
		t.Fatal(err)
	}
	key, err := kv.Get(context.Background(), service.FingerprintKey)
	if err != nil {
		t.Fatal(err)
	}
	ages := map[string][]string{"status": {"120 days old", "65 days old"}, "credentials": {"120d", "65d"}}
	for _, command := range []string{"status", "credentials"} {
		out, err := gtmhub(t, srv, "", command)
		if err != nil {
			t.Fatal(err, out)
		}
		for _, want := range append(ages[command], "hubspot.token", "OVERDUE", "DUE SOON", "inline",
			"warning: credential notify.hubspot.token (inline) is overdue for rotation: 120 days old, rotate every 90 days",
			"warning: credential notify.smtp.password (inline) is due soon for rotation: 65 days old",
		) {
			if !strings.Contains(out, want) {
				t.Errorf("%s: no %q in\n%s", command, want, out)
			}
		}
		if strings.Contains(out, "warning: credential notify.slack.webhook") {
			t.Errorf("%s: a warning for a fresh credential:\n%s", command, out)
		}
		assertNoSecret(t, command, out, append(secrets, string(key.Value())))
	}
}

func assertNoSecret(t *testing.T, command, out string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("%s prints %q:\n%s", command, s, out)
		}
	}
}

// TestCredentialsForget: forget removes the named credentials and says so,
// reports the names nobody recorded without stopping at them, and fails.
func TestCredentialsForget(t *testing.T) {
	srv := eventstest.RunServer(t)
	recordAged(t, srv, map[string]int{"slack.webhook": 10, "smtp.password": 65, "hubspot.token": 120})
	out, err := gtmhub(t, srv, "", "credentials", "forget", "notify.hubspot.token", "notify.nothing", "notify.smtp.password")
	if err == nil || !strings.Contains(err.Error(), "notify.nothing: no such credential") {
		t.Errorf("forget with an unknown name: %v, want it named as unknown", err)
	}
	for _, want := range []string{"forgot notify.hubspot.token", "forgot notify.smtp.password"} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
	out, err = gtmhub(t, srv, "", "credentials", "--json")
	if err != nil {
		t.Fatal(err, out)
	}
	var left []credentialStatus
	if err := json.Unmarshal([]byte(out), &left); err != nil {
		t.Fatal(err, out)
	}
	if len(left) != 1 || left[0].Key() != "notify.slack.webhook" {
		t.Errorf("left %+v, want only notify.slack.webhook", left)
	}
}
