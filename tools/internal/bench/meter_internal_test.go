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
	burn := func(d time.Duration) {
		for end := time.Now().Add(d); time.Now().Before(end); {
		}
	}
	burn(200 * time.Millisecond) // before the window: not charged
	m := startMeter()
	for range 1000 {
		sink = append(sink, new([64]byte))
	}
	burn(20 * time.Millisecond)
	r := m.result(10)
	sink = nil
	if r.Ops != 10 || r.Elapsed < 20*time.Millisecond {
		t.Errorf("result %+v, want 10 ops over at least 20ms", r)
	}
	if r.AllocsOp < 100 {
		t.Errorf("%.0f allocations per op, want at least 100", r.AllocsOp)
	}
	if r.CPUOp < time.Millisecond || r.CPUOp > 10*time.Millisecond {
		t.Errorf("%s CPU per op, want 2ms of the window's, and none of the 20ms per op burnt before it", r.CPUOp)
	}
}
