package bench

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// closedLoop runs do n times from conc workers, each waiting for its answer
// before sending the next, and returns every latency.
func closedLoop(ctx context.Context, n, conc int, do func(i int) error, progress func(done int)) ([]time.Duration, time.Duration, error) {
	lat := make([]time.Duration, n)
	var next, done atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	stopProgress := ticker(func() { progress(int(done.Load())) })
	defer stopProgress()
	for range conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				t := time.Now()
				if err := do(i); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				lat[i] = time.Since(t)
				done.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	progress(int(done.Load()))
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return lat, elapsed, firstErr
}

// warmup is how long an open-loop run offers its load before the calls it
// measures: new connections, cold caches and the first compilation of
// prepared statements are not what a latency figure is about.
const warmup = time.Second

// openLoop makes the calls due at a fixed rate for d, each timed by do from
// the time it was due, regardless of how long earlier calls take, so slow
// answers cannot hide latency (no coordinated omission). conc workers, one
// per connection the load generator keeps, each take the next call due,
// wait for its time and make it: a call due while every worker is busy is
// made as soon as one is free, and its wait counts in its latency, as it
// would for a sender that queues its deliveries. No goroutine or timer is
// made per call, so what the generator costs does not crowd out what it
// measures. Callers leave out the calls scheduled within warmup of the
// start (see warmupCalls). It returns how many calls were made, and stops
// at the first error.
func openLoop(ctx context.Context, rate float64, d time.Duration, conc int, do func(i int, scheduled time.Time) error) (int, error) {
	if rate <= 0 {
		return 0, errors.New("offered rate must be positive")
	}
	if conc < 1 {
		return 0, errors.New("open loop needs at least one worker")
	}
	interval := time.Duration(float64(time.Second) / rate)
	calls := int((d + interval - 1) / interval)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	start := time.Now()
	var next, made atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			timer := time.NewTimer(time.Hour)
			defer timer.Stop()
			for {
				i := int(next.Add(1)) - 1
				if i >= calls {
					return
				}
				at := start.Add(time.Duration(i) * interval)
				if err := sleepUntil(ctx, timer, at); err != nil {
					return
				}
				made.Add(1)
				if err := do(i, at); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return int(made.Load()), context.Cause(ctx)
}

// sleepUntil waits on timer until t, or returns ctx's error when it ends
// first.
func sleepUntil(ctx context.Context, timer *time.Timer, t time.Time) error {
	wait := time.Until(t)
	if wait <= 0 {
		return ctx.Err()
	}
	timer.Reset(wait)
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ticker calls fn every 200ms until stopped; stop returns once no call of
// fn is running, so none outlives the scenario.
func ticker(fn func()) (stop func()) {
	t := time.NewTicker(200 * time.Millisecond)
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		for {
			select {
			case <-t.C:
				fn()
			case <-done:
				return
			}
		}
	}()
	return func() { t.Stop(); close(done); <-exited }
}

// warmupCalls is how many calls of an open loop at rate fall within the
// warm-up: calls 0 to warmupCalls-1 are not measured.
func warmupCalls(rate float64) int { return int(rate * warmup.Seconds()) }

// meter is what the process had spent when a measured window began.
type meter struct {
	start   time.Time
	mallocs uint64
	cpu     time.Duration
}

func startMeter() meter { return meter{start: time.Now(), mallocs: mallocs(), cpu: cpuTime()} }

// spend sets r's allocations and CPU time per operation to what the process
// spent since m began, spread over ops operations.
func (m meter) spend(r *Result, ops int) {
	r.AllocsOp = perOp(mallocs()-m.mallocs, ops)
	if cpu := cpuTime(); cpu > 0 {
		r.CPUOp = (cpu - m.cpu) / time.Duration(max(ops, 1))
	}
}

// result is ops operations timed from when m began, with what they cost.
func (m meter) result(ops int) Result {
	r := Result{Ops: ops, Elapsed: time.Since(m.start)}
	m.spend(&r, ops)
	return r
}

// mallocs is how many heap objects the process has allocated so far.
func mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}

// perOp spreads n allocations over ops operations.
func perOp(n uint64, ops int) float64 { return float64(n) / float64(max(ops, 1)) }
