package replay

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// pendingConsumer answers Info with a fixed count of pending messages; the
// rest of jetstream.Consumer is not used by emptyRead.
type pendingConsumer struct {
	jetstream.Consumer
	pending uint64
	err     error
}

func (c pendingConsumer) Info(context.Context) (*jetstream.ConsumerInfo, error) {
	if c.err != nil {
		return nil, c.err
	}
	return &jetstream.ConsumerInfo{NumPending: c.pending}, nil
}

// TestEmptyRead: an empty read ends the replay only when nothing is pending
// (counting what the stream removed), waits twice as long for the next read
// while events are pending, and fails once reads in a row have waited
// maxEmptyWait in all and brought nothing.
func TestEmptyRead(t *testing.T) {
	tests := []struct {
		name     string
		cons     pendingConsumer
		reads    int // empty reads in a row
		wantMore bool
		wantErr  string
		wantWait time.Duration
		wantGone uint64
		replayed uint64
		total    uint64
	}{
		{name: "nothing pending ends the replay", cons: pendingConsumer{}, reads: 1,
			replayed: 10, total: 10, wantWait: time.Second},
		{name: "what the stream removed is counted", cons: pendingConsumer{}, reads: 1,
			replayed: 7, total: 10, wantGone: 3, wantWait: time.Second},
		{name: "pending: the next read waits twice as long", cons: pendingConsumer{pending: 4}, reads: 1,
			replayed: 6, total: 10, wantMore: true, wantWait: 2 * time.Second},
		{name: "the wait is capped", cons: pendingConsumer{pending: 4}, reads: 4,
			replayed: 6, total: 10, wantMore: true, wantWait: maxFetchWait},
		{name: "30 s of empty reads fail the replay", cons: pendingConsumer{pending: 4}, reads: 8,
			replayed: 6, total: 10, wantErr: "reads brought nothing for 32s while 4 events are pending", wantWait: maxFetchWait},
		{name: "the server's error is returned", cons: pendingConsumer{err: errors.New("no responders")}, reads: 1,
			replayed: 6, total: 10, wantErr: "replay reader: no responders", wantWait: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &feed{cp: Checkpoint{Replayed: tt.replayed}, cons: tt.cons, total: tt.total, wait: time.Second}
			var more bool
			var err error
			for i := range tt.reads {
				more, err = f.emptyRead(context.Background())
				if i < tt.reads-1 && (!more || err != nil) {
					t.Fatalf("read %d: more=%v err=%v, want more", i+1, more, err)
				}
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if more != tt.wantMore || f.wait != tt.wantWait || f.cp.Gone != tt.wantGone {
				t.Errorf("more=%v wait=%s gone=%d, want more=%v wait=%s gone=%d",
					more, f.wait, f.cp.Gone, tt.wantMore, tt.wantWait, tt.wantGone)
			}
		})
	}
}

func TestResumable(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		status  string
		saved   time.Duration // how long before now
		force   bool
		wantErr string
	}{
		{"interrupted", "interrupted", time.Second, false, ""},
		{"failed", "failed", time.Second, false, ""},
		{"running, saved just now", "running", 5 * time.Second, false, "is running: its checkpoint was saved 5s ago"},
		{"running, saved just now, forced", "running", 5 * time.Second, true, ""},
		{"running, silent for long", "running", 2 * liveWindow, false, ""},
		{"done", "done", time.Hour, false, "already done"},
		{"done, forced", "done", time.Hour, true, "already done"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cp := Checkpoint{Spec: Spec{ID: "r1"}, Status: tt.status, UpdatedAt: now.Add(-tt.saved)}
			err := resumable(cp, tt.force, now)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("resumable = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
