package ingest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
)

// TestCredentialNames: webhook secrets and /events tokens are named by their
// environment variable, inline ones by their place; unset ones have no value.
func TestCredentialNames(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Sources = append(cfg.Sources, Source{Name: "github", Scheme: "github",
		Secrets: []Secret{{Env: "GH_OLD"}, {Env: "GH_NEW"}, {Value: "inline-gh"}}})
	cfg.Events.Tokens = []Secret{{Value: "inline-token"}}
	env := map[string]string{"GH_OLD": "gh-old-value", "GH_NEW": "gh-new-value", EventsTokenEnv: "env-token"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var got []string
	for _, s := range cfg.credentials(lookup) {
		got = append(got, fmt.Sprintf("%s(%s)=%s", s.Name, s.Origin, s.Value))
	}
	want := []string{
		"webhook.clay.CLAY_WEBHOOK_SECRET(env CLAY_WEBHOOK_SECRET)=",
		"webhook.github.GH_OLD(env GH_OLD)=gh-old-value",
		"webhook.github.GH_NEW(env GH_NEW)=gh-new-value",
		"webhook.github.inline-3(inline)=inline-gh",
		"events.token.inline-1(inline)=inline-token",
		"events.token.GTMHUB_EVENTS_TOKEN(env GTMHUB_EVENTS_TOKEN)=env-token",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("credentials\n%q\nwant\n%q", got, want)
	}
}

// TestServeRecordsCredentials: ingest records its secrets at start, and the
// credentials bucket holds none of them.
func TestServeRecordsCredentials(t *testing.T) {
	srv := eventstest.RunServer(t)
	t.Setenv(EventsTokenEnv, "events-token-value")
	_, stop := serve(t, service.Deps{Conn: srv.Conn})
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	var got []service.Credential
	waitFor(t, "credentials recorded", func() bool {
		got, _ = service.ListCredentials(context.Background(), srv.JS)
		return len(got) == 4
	})
	var keys []string
	for _, c := range got {
		keys = append(keys, c.Key())
	}
	want := "[ingest.events.token.GTMHUB_EVENTS_TOKEN ingest.webhook.clay.inline-1 ingest.webhook.clay.inline-2 ingest.webhook.github.inline-1]"
	if fmt.Sprint(keys) != want {
		t.Errorf("keys %v, want %s", keys, want)
	}
	kv, err := srv.JS.KeyValue(context.Background(), service.CredentialsBucket)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		e, err := kv.Get(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{"old-secret", "new-secret", "gh-secret", "events-token-value"} {
			if strings.Contains(string(e.Value()), secret) {
				t.Errorf("%s holds a secret: %s", k, e.Value())
			}
		}
	}
	if got[0].FirstSeen.Before(time.Now().Add(-time.Minute)) {
		t.Errorf("first seen %s", got[0].FirstSeen)
	}
}
