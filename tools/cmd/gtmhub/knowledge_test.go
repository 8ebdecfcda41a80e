package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/services/knowledgesync"
)

func TestKnowledgeSyncPublishesACommand(t *testing.T) {
	srv := eventstest.RunServer(t)
	out, err := gtmhub(t, srv, "", "knowledge", "sync", "--dry-run", "--json")
	if err != nil {
		t.Fatalf("gtmhub knowledge sync: %v\n%s", err, out)
	}
	msgs := srv.Await(t, events.StreamKnowledge, knowledgesync.SubjectSyncCommand, 1, 5*time.Second)
	ev, err := events.Decode(msgs[0].Headers(), msgs[0].Data())
	if err != nil {
		t.Fatal(err)
	}
	var req knowledgesync.SyncRequest
	if err := json.Unmarshal(ev.Data(), &req); err != nil || !req.DryRun || ev.Type() != knowledgesync.TypeSyncRequested {
		t.Errorf("command %s %s: %v", ev.Type(), ev.Data(), err)
	}
	if !strings.Contains(out, ev.ID()) {
		t.Errorf("output %q does not name the command %s", out, ev.ID())
	}
}
