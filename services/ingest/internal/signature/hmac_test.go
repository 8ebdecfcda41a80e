package signature

import (
	"testing"
	"time"
)

func TestParseTimestamp(t *testing.T) {
	tests := []struct {
		in   string
		unit time.Duration
		want time.Time // zero: refused
	}{
		{"1531420618", time.Second, time.Unix(1531420618, 0)},
		{"1531420618123", time.Millisecond, time.UnixMilli(1531420618123)},
		{"0", time.Second, time.Unix(0, 0)},
		{"+1531420618", time.Second, time.Time{}},
		{"01531420618", time.Second, time.Time{}},
		{"-1", time.Second, time.Time{}},
		{"1531420618.5", time.Second, time.Time{}},
		{" 1531420618", time.Second, time.Time{}},
		{"99999999999999999999", time.Second, time.Time{}},
		{"9223372036854775807", time.Second, time.Time{}}, // overflows in nanoseconds
		{"", time.Second, time.Time{}},
	}
	for _, tt := range tests {
		got, err := ParseTimestamp(tt.in, tt.unit)
		if tt.want.IsZero() {
			if err == nil {
				t.Errorf("ParseTimestamp(%q) = %v, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("ParseTimestamp(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}
