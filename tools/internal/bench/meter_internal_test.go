package bench

import (
	"testing"
	"time"
)

// sink keeps the test's allocations on the heap.
var sink []*[64]byte

// TestMeterCountsItsWindow: a meter charges its operations with what the
// process spent after it began, and nothing from before.
func TestMeterCountsItsWindow(t *testing.T) {
	// burn spends d of the process's CPU time, not of the wall clock: on
	// a busy machine a wall-clock loop may get a fraction of a core.
	burn := func(d time.Duration) {
		for end := cpuTime() + d; cpuTime() < end; {
		}
	}
	if cpuTime() == 0 {
		t.Fatal("no CPU time on this platform")
	}
	burn(200 * time.Millisecond) // before the window: not charged
	m := startMeter()
	began := time.Now()
	for range 1000 {
		sink = append(sink, new([64]byte))
	}
	burn(20 * time.Millisecond)
	// The wall clock, not the 20ms of CPU: the collector's workers may
	// spend some of it on the other core meanwhile.
	window := time.Since(began)
	r := m.result(10)
	sink = nil
	if r.Ops != 10 || r.Elapsed < window {
		t.Errorf("result %+v, want 10 ops over at least %s", r, window)
	}
	if r.AllocsOp < 100 {
		t.Errorf("%.0f allocations per op, want at least 100", r.AllocsOp)
	}
	if r.CPUOp < time.Millisecond || r.CPUOp > 10*time.Millisecond {
		t.Errorf("%s CPU per op, want 2ms of the window's, and none of the 20ms per op burnt before it", r.CPUOp)
	}
}
