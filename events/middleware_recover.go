package events

import (
	"context"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Recover turns a panic in the handler into an ordinary, retryable error.
// The [Consumer] runner always recovers; use this middleware where handlers
// run outside a runner.
func Recover() Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, ev event.Event) (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("handler panic: %v", r)
				}
			}()
			return next(ctx, ev)
		}
	}
}
