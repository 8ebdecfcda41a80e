package events

import (
	"context"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Breaker runs every event through dest's breaker in b, for handlers whose
// every event goes to one destination. Pair it with [WithPauseWhileOpen] to
// stop fetching while the destination is down.
func Breaker(b *Breakers, dest string) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, ev event.Event) error {
			return b.Do(ctx, dest, func(ctx context.Context) error { return next(ctx, ev) })
		}
	}
}
