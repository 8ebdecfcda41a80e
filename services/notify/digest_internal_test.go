package notify

import (
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

// TestOwedDay: a tick of the schedule owes yesterday's digest until the
// next tick or for a day, whichever comes first.
func TestOwedDay(t *testing.T) {
	at := func(day int, hour, minute int) time.Time {
		return time.Date(2026, 11, day, hour, minute, 0, 0, time.UTC)
	}
	daily, mondays, midnight := "0 8 * * *", "0 8 * * 1", "0 0 * * *" // 2026-11-23 is a Monday
	tests := []struct {
		name     string
		schedule string
		now      time.Time
		want     string // "": none
	}{
		{"after today's tick", daily, at(23, 10, 0), "2026-11-22"},
		{"at today's tick", daily, at(23, 8, 0), "2026-11-22"},
		{"before today's tick: yesterday's is still owed", daily, at(23, 7, 59), "2026-11-21"},
		{"tick at midnight", midnight, at(23, 0, 0), "2026-11-22"},
		{"weekly, hours after the tick", mondays, at(23, 9, 0), "2026-11-22"},
		{"weekly, the morning after the tick", mondays, at(24, 7, 0), "2026-11-22"},
		{"weekly, more than a day after the tick", mondays, at(24, 8, 1), ""},
		{"weekly, before the first tick of the week", mondays, at(22, 12, 0), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sched, err := cron.ParseStandard(tt.schedule)
			if err != nil {
				t.Fatal(err)
			}
			day, ok := owedDay(sched, tt.now)
			got := ""
			if ok {
				got = day.Format(time.DateOnly)
				if day.Hour() != 0 || day.Location() != time.UTC {
					t.Errorf("day %s is not a local midnight", day)
				}
			}
			if got != tt.want {
				t.Errorf("owedDay(%s) = %q, want %q", tt.now, got, tt.want)
			}
		})
	}
}

// TestDigestDue: after a failure the owed digest waits its backoff, longer
// than the loop's poll, unless a tick of the schedule came meanwhile.
func TestDigestDue(t *testing.T) {
	sched, err := cron.ParseStandard("0 8 * * *")
	if err != nil {
		t.Fatal(err)
	}
	next := func(t time.Time) time.Time { return sched.Next(t.In(time.UTC)) }
	failed := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	wall := time.Now()
	tests := []struct {
		name              string
		now               time.Time // on the schedule's clock
		failedAt, retryAt time.Time
		want              bool
	}{
		{"no failure", failed, time.Time{}, time.Time{}, true},
		{"a poll after the failure", failed.Add(digestPoll), failed, wall.Add(20 * time.Minute), false},
		{"the backoff over", failed.Add(digestPoll), failed, wall.Add(-time.Second), true},
		{"a tick since the failure", time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC), failed, wall.Add(48 * time.Hour), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := digestDue(tt.now, tt.failedAt, tt.retryAt, next); got != tt.want {
				t.Errorf("digestDue(%v) = %v, want %v", tt.now, got, tt.want)
			}
		})
	}
}
