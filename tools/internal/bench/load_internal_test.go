package bench

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestOpenLoop: the calls are due at the rate whatever the answers take,
// no more than the workers run at once, and a call made late is still
// timed from when it was due.
func TestOpenLoop(t *testing.T) {
	tests := []struct {
		name      string
		rate      float64
		d         time.Duration
		conc      int
		stall     time.Duration // how long call 0 takes
		wantCalls int
	}{
		{name: "answers in time", rate: 200, d: 250 * time.Millisecond, conc: 4, wantCalls: 50},
		{name: "one worker held up", rate: 100, d: 200 * time.Millisecond, conc: 1, stall: 80 * time.Millisecond, wantCalls: 20},
		{name: "every worker held up", rate: 400, d: 100 * time.Millisecond, conc: 2, stall: 60 * time.Millisecond, wantCalls: 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			due := map[int]time.Time{}
			late := map[int]time.Duration{}
			running, most := 0, 0
			n, err := openLoop(context.Background(), tt.rate, tt.d, tt.conc, func(i int, at time.Time) error {
				now := time.Now()
				mu.Lock()
				due[i], late[i] = at, now.Sub(at)
				running++
				most = max(most, running)
				mu.Unlock()
				defer func() { mu.Lock(); running--; mu.Unlock() }()
				if i == 0 {
					time.Sleep(tt.stall)
				}
				return nil
			})
			if err != nil || n != tt.wantCalls || len(due) != tt.wantCalls {
				t.Fatalf("openLoop = %d, %v with %d distinct calls, want %d calls", n, err, len(due), tt.wantCalls)
			}
			if most > tt.conc {
				t.Errorf("%d calls ran at once, want at most %d", most, tt.conc)
			}
			interval := time.Duration(float64(time.Second) / tt.rate)
			for i := 1; i < tt.wantCalls; i++ {
				if got := due[i].Sub(due[i-1]); got != interval {
					t.Fatalf("call %d due %s after call %d, want %s", i, got, i-1, interval)
				}
			}
			if tt.stall > 0 && tt.conc == 1 && late[1] < tt.stall-interval {
				t.Errorf("call 1, made after call 0's %s, was timed %s late, want its wait counted", tt.stall, late[1])
			}
		})
	}
}

// TestOpenLoopStopsAtFirstError: a failed call ends the run with its error
// and no later call is made.
func TestOpenLoopStopsAtFirstError(t *testing.T) {
	boom := errors.New("boom")
	var calls atomic.Int64
	n, err := openLoop(context.Background(), 1000, time.Second, 4, func(i int, _ time.Time) error {
		calls.Add(1)
		if i == 5 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("openLoop error %v, want %v", err, boom)
	}
	if n > 10 || calls.Load() > 10 {
		t.Errorf("%d calls made (%d counted) after the error at call 5 of 1000, want the run stopped", calls.Load(), n)
	}
}

// TestOpenLoopRefuses: a rate or a worker count of zero is refused.
func TestOpenLoopRefuses(t *testing.T) {
	for _, c := range []struct {
		rate float64
		conc int
	}{{0, 4}, {10, 0}} {
		if _, err := openLoop(context.Background(), c.rate, time.Second, c.conc, func(int, time.Time) error { return nil }); err == nil {
			t.Errorf("openLoop(rate %v, %d workers) ran, want an error", c.rate, c.conc)
		}
	}
}
