package service

import (
	"context"
	"time"
)

// Every calls fn at once and then every interval until ctx is done: the
// loop of a service's periodic work (a sweep, a sync, a clean-up). fn
// reports its own failures; the next call is the retry.
func Every(ctx context.Context, interval time.Duration, fn func(context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		fn(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
