package enrich_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
)

// TestRunRecordsProviderKeys: enrich records each provider's API key at
// start, from the environment or inline, and never the key itself.
func TestRunRecordsProviderKeys(t *testing.T) {
	srv := eventstest.RunServer(t)
	cfg, _ := withFake(t)
	t.Setenv("GTMHUB_TEST_HUNTER_KEY", fakeKey)
	cfg.Enrich.Providers[1].Key, cfg.Enrich.Providers[1].KeyEnv = "", "GTMHUB_TEST_HUNTER_KEY"
	startEnrich(t, srv, cfg)

	var got []service.Credential
	deadline := time.Now().Add(wait)
	for len(got) < 2 && time.Now().Before(deadline) {
		got, _ = service.ListCredentials(context.Background(), srv.JS)
		time.Sleep(20 * time.Millisecond)
	}
	if len(got) != 2 || got[0].Key() != "enrich.provider.clearbit" || got[0].Origin != "inline" ||
		got[1].Key() != "enrich.provider.hunter" || got[1].Origin != "env GTMHUB_TEST_HUNTER_KEY" {
		t.Fatalf("credentials %+v", got)
	}
	if got[0].Fingerprint != got[1].Fingerprint {
		t.Errorf("one key, two fingerprints: %+v", got)
	}
	kv, err := srv.JS.KeyValue(context.Background(), service.CredentialsBucket)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range got {
		e, err := kv.Get(context.Background(), c.Key())
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(e.Value()), fakeKey) {
			t.Errorf("%s holds the key: %s", c.Key(), e.Value())
		}
	}
}
