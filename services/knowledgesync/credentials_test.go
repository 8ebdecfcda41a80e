package knowledgesync_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/services/knowledgesync"
)

// TestRunRecordsNotionToken: knowledge-sync records the Notion token it
// reads at start, and never the token itself.
func TestRunRecordsNotionToken(t *testing.T) {
	srv := eventstest.RunServer(t)
	t.Setenv("GTMHUB_TEST_NOTION_TOKEN", "ntn_secret_0123456789")
	cfg := knowledgesync.DefaultConfig()
	cfg.Knowledge.Dir = filepath.Join(t.TempDir(), "kb")
	cfg.Knowledge.NotionTokenEnv = "GTMHUB_TEST_NOTION_TOKEN" // no database: the folder is only indexed
	start(t, cfg, service.Deps{Conn: srv.Conn})

	var got []service.Credential
	eventually(t, "the token recorded", func() bool {
		got, _ = service.ListCredentials(context.Background(), srv.JS)
		return len(got) == 1
	})
	if got[0].Key() != knowledgesync.Name+".notion.token" || got[0].Origin != "env GTMHUB_TEST_NOTION_TOKEN" {
		t.Errorf("credential %+v", got[0])
	}
	e, err := srv.JS.KeyValue(context.Background(), service.CredentialsBucket)
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.Get(context.Background(), got[0].Key())
	if err != nil || strings.Contains(string(v.Value()), "ntn_secret") {
		t.Errorf("%s: %s, %v", got[0].Key(), v.Value(), err)
	}
}
