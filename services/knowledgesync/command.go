package knowledgesync

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"

	"github.com/gtmhub/gtmhub/events"
)

// The sync command.
const (
	// SubjectSyncCommand is where sync commands are published; the
	// KNOWLEDGE stream holds them.
	SubjectSyncCommand = "gtm.knowledge.command.sync"
	// TypeSyncRequested is the type of a sync command.
	TypeSyncRequested = "com.gtmhub.knowledge.sync.requested"
)

// SyncRequest is the data of a sync command.
type SyncRequest struct {
	// DryRun reports what a sync would do, changing nothing.
	DryRun bool `json:"dry_run"`
	// AllowMassDeletion deletes the files of archived pages even when they
	// are more than the safety limit allows ([MassDeletionFiles]).
	AllowMassDeletion bool `json:"allow_mass_deletion,omitempty"`
}

// RequestSync publishes a sync command and returns its event id.
func RequestSync(ctx context.Context, pub Publisher, req SyncRequest) (string, error) {
	data, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	ev := event.New()
	ev.SetID(uuid.NewString())
	ev.SetSource("/gtmhub/cli")
	ev.SetType(TypeSyncRequested)
	ev.SetTime(time.Now().UTC())
	if err := ev.SetData(event.ApplicationJSON, data); err != nil {
		return "", err
	}
	if err := pub.Publish(ctx, SubjectSyncCommand, ev); err != nil {
		return "", fmt.Errorf("publish sync command: %w", err)
	}
	return ev.ID(), nil
}

// HandleCommand runs a sync for a sync command. A command that is not a
// sync request is dead-lettered; a sync that cannot read the folder, the
// database or its state is retried. Running a sync twice for a redelivered
// command changes nothing the second time.
func (s *NotionSync) HandleCommand(ctx context.Context, ev event.Event) error {
	if ev.Type() != TypeSyncRequested {
		return events.Permanent(fmt.Errorf("unknown command type %q", ev.Type()))
	}
	var req SyncRequest
	if len(ev.Data()) > 0 {
		if err := json.Unmarshal(ev.Data(), &req); err != nil {
			return events.Permanent(fmt.Errorf("sync command %s: %w", ev.ID(), err))
		}
	}
	rep, err := s.SyncWith(ctx, SyncOptions{DryRun: req.DryRun, AllowMassDeletion: req.AllowMassDeletion})
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "knowledge sync command done", "command", ev.ID(), "dry_run", req.DryRun,
		"allow_mass_deletion", req.AllowMassDeletion, "held", rep.Held, "actions", rep.Actions, "failed", len(rep.Errors), "left_out", len(rep.Problems))
	return nil
}
