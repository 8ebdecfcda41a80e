package notify

import (
	"testing"
	"time"
)

// TestSendWindowSlowOnAverage: the latency alert looks at the average send
// of the interval, not at its slowest one.
func TestSendWindowSlowOnAverage(t *testing.T) {
	const threshold = 2 * time.Second
	tests := []struct {
		name  string
		sends []time.Duration
		want  bool
	}{
		{"no sends", nil, false},
		{"one slow send among quick ones", []time.Duration{5 * time.Second, 100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond}, false},
		{"slow on average", []time.Duration{3 * time.Second, 2 * time.Second, 1500 * time.Millisecond}, true},
		{"exactly the threshold", []time.Duration{threshold, threshold}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s sendStats
			for _, d := range tt.sends {
				s.observe(d, nil)
			}
			w := s.snapshot(time.Now())
			if got := w.slow(threshold); got != tt.want {
				t.Errorf("slow(%s) = %v over %v (average %s), want %v", threshold, got, tt.sends, w.average(), tt.want)
			}
			if next := s.snapshot(time.Now()); next.sends != 0 || next.total != 0 {
				t.Errorf("the next window starts with %+v", next)
			}
		})
	}
}
