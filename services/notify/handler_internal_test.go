package notify

import (
	"context"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/events"
)

// TestInFlightWaitOutlastsTheLease: an event whose notification another
// process claimed looks again soon at first, and its attempts span the
// claim's lease, so that a claim left by a crash is found expired (and
// settled as interrupted) before the event runs out of attempts.
func TestInFlightWaitOutlastsTheLease(t *testing.T) {
	for _, tt := range []struct {
		lease      time.Duration
		maxDeliver int
		claimAge   time.Duration
	}{
		{2 * time.Minute, 8, 0},
		{2 * time.Minute, 8, 90 * time.Second},
		{10 * time.Minute, 8, 0},
		{2 * time.Minute, 3, 0},
	} {
		now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
		n := &notifier{lease: tt.lease, now: func() time.Time { return now }}
		claim := LedgerEntry{State: StateClaimed, At: now.Add(-tt.claimAge)}
		expiredAt := 0
		for attempt := 1; attempt <= tt.maxDeliver; attempt++ {
			if now.Sub(claim.At) >= tt.lease {
				expiredAt = attempt
				break
			}
			ctx := events.WithDelivery(context.Background(), events.Delivery{Attempt: attempt, MaxDeliver: tt.maxDeliver})
			wait := n.inFlightWait(ctx, claim)
			if attempt == 1 && tt.maxDeliver > 2 && wait > inFlightRetry {
				t.Errorf("lease %s: first wait %s, want at most %s", tt.lease, wait, inFlightRetry)
			}
			now = now.Add(wait)
		}
		if expiredAt == 0 {
			t.Errorf("lease %s, %d attempts, claim %s old: the lease was still running at the last attempt",
				tt.lease, tt.maxDeliver, tt.claimAge)
		}
	}
}
