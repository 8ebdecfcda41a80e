package events

import (
	"context"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Timeout cancels the handler's context after d. Keep d below the
// consumer's AckWait unless the handler reports progress.
func Timeout(d time.Duration) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, ev event.Event) error {
			ctx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			return next(ctx, ev)
		}
	}
}
