package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in      string
		want    time.Time
		wantErr string
	}{
		{"24h", now.Add(-24 * time.Hour), ""},
		{"90m", now.Add(-90 * time.Minute), ""},
		{"2026-11-01T00:00:00Z", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), ""},
		{"2026-11-01T01:00:00+01:00", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), ""},
		{"garbage", time.Time{}, `"garbage" is neither an RFC 3339 time such as 2026-11-01T00:00:00Z nor a duration back from now such as 24h`},
		{"2026-11-01", time.Time{}, "nor a duration"},
		{"", time.Time{}, "required"},
		{"-1h", time.Time{}, `"-1h" is a negative duration`},
		{"0s", now, ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseSince(tt.in, now)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseSince(%q) = %v, %v; want an error saying %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) {
				t.Errorf("parseSince(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}
