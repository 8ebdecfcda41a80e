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
	fn(ctx)
	ticks(ctx, t, fn)
}

// Tick calls fn every interval, the first time one interval from now,
// until ctx is done: periodic work whose first run is already done, or is
// not due at the start.
func Tick(ctx context.Context, interval time.Duration, fn func(context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	ticks(ctx, t, fn)
}

func ticks(ctx context.Context, t *time.Ticker, fn func(context.Context)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fn(ctx)
	}
}
