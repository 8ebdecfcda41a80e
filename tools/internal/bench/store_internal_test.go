package bench

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestUntilStopped: a wait ends with its own result, or at once with an
// error when the store stops first, and is then cancelled.
func TestUntilStopped(t *testing.T) {
	tests := []struct {
		name        string
		storeStops  bool
		waitErr     error
		wantErr     string
		wantCancels bool
	}{
		{name: "the wait ends first", waitErr: nil},
		{name: "the wait fails", waitErr: errors.New("consumers store still busy"), wantErr: "still busy"},
		{name: "the store stops first", storeStops: true, wantErr: "the store stopped", wantCancels: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stopped := make(chan struct{})
			if tt.storeStops {
				close(stopped)
			}
			cancelled := make(chan struct{})
			err := untilStopped(t.Context(), stopped, func(ctx context.Context) error {
				if !tt.storeStops {
					return tt.waitErr
				}
				<-ctx.Done()
				close(cancelled)
				return ctx.Err()
			})
			if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("untilStopped() = %v, want %q", err, tt.wantErr)
			}
			if tt.wantCancels {
				select {
				case <-cancelled:
				case <-time.After(5 * time.Second):
					t.Fatal("the wait was not cancelled")
				}
			}
		})
	}
}

// TestTickerStopWaitsForTheCall: stop returns only once a call of fn that
// is running has returned, so no progress report outlives its scenario.
func TestTickerStopWaitsForTheCall(t *testing.T) {
	started := make(chan struct{}, 1)
	var finished atomic.Bool
	stop := ticker(func() {
		select {
		case started <- struct{}{}:
		default:
		}
		time.Sleep(100 * time.Millisecond)
		finished.Store(true)
	})
	<-started
	stop()
	if !finished.Load() {
		t.Fatal("stop returned while fn was running")
	}
}
