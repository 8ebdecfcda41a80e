package events

import (
	"context"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Handler processes one event. The error it returns decides what happens to
// the message: nil acknowledges it, [Permanent] dead-letters it, [RetryAfter]
// redelivers it after the given delay, and any other error redelivers it with
// exponential backoff until the consumer's MaxDeliver, then dead-letters it.
type Handler func(ctx context.Context, ev event.Event) error

// Middleware wraps a Handler with one concern.
type Middleware func(Handler) Handler

// Chain applies middleware so that the first one listed runs outermost.
func Chain(h Handler, mw ...Middleware) Handler {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}
