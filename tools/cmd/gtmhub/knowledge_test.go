package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/services/knowledgesync"
)

// TestKnowledgeSyncPublishesACommand: `knowledge sync` publishes the
// command, and says whether a knowledge-sync service took it.
func TestKnowledgeSyncPublishesACommand(t *testing.T) {
	for _, running := range []bool{true, false} {
		t.Run(fmt.Sprintf("service running %v", running), func(t *testing.T) {
			srv := eventstest.RunServer(t)
			if running {
				spec, _ := events.DefaultTopology().Consumer(knowledgesync.Durable)
				c, err := events.NewConsumer(srv.JS, spec, func(context.Context, event.Event) error { return nil })
				if err != nil {
					t.Fatal(err)
				}
				eventstest.Go(t, c.Run)
				waitPulling(t, srv, events.StreamKnowledge, knowledgesync.Durable)
			}
			var out, errOut strings.Builder
			if err := gtmhubTo(srv, &out, &errOut, "", "knowledge", "sync", "--dry-run", "--json"); err != nil {
				t.Fatalf("gtmhub knowledge sync: %v\n%s", err, errOut.String())
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
			var res struct {
				Command string
				Taken   bool
			}
			if err := json.Unmarshal([]byte(out.String()), &res); err != nil || res.Command != ev.ID() || res.Taken != running {
				t.Errorf("output %q (%v), want command %s taken %v", out.String(), err, ev.ID(), running)
			}
			if noted := strings.Contains(errOut.String(), "no knowledge-sync service took the command"); noted == running {
				t.Errorf("errors %q: want the note only when no service runs", errOut.String())
			}
		})
	}
}

// waitPulling waits until a consumer has a pull request waiting for
// messages, so that what is published next is taken at once.
func waitPulling(t *testing.T, srv *eventstest.Server, stream, durable string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := srv.JS.Consumer(context.Background(), stream, durable); err == nil {
			if info, err := c.Info(context.Background()); err == nil && info.NumWaiting > 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer %s never pulled", durable)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestKnowledgeSyncAllowsMassDeletion: --allow-mass-deletion goes with the
// command, and only when given.
func TestKnowledgeSyncAllowsMassDeletion(t *testing.T) {
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprintf("allow %v", allow), func(t *testing.T) {
			srv := eventstest.RunServer(t)
			args := []string{"knowledge", "sync", "--json"}
			if allow {
				args = append(args, "--allow-mass-deletion")
			}
			var out, errOut strings.Builder
			if err := gtmhubTo(srv, &out, &errOut, "", args...); err != nil {
				t.Fatalf("gtmhub knowledge sync: %v\n%s", err, errOut.String())
			}
			msgs := srv.Await(t, events.StreamKnowledge, knowledgesync.SubjectSyncCommand, 1, 5*time.Second)
			ev, err := events.Decode(msgs[0].Headers(), msgs[0].Data())
			if err != nil {
				t.Fatal(err)
			}
			var req knowledgesync.SyncRequest
			if err := json.Unmarshal(ev.Data(), &req); err != nil || req.AllowMassDeletion != allow || req.DryRun {
				t.Errorf("command %s: %v, want allow_mass_deletion %v", ev.Data(), err, allow)
			}
		})
	}
}
