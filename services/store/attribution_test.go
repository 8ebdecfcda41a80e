package store

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/contracts"
)

func TestPositionCredit(t *testing.T) {
	tests := []struct {
		n    int
		want []float64
	}{
		{0, []float64{}},
		{1, []float64{1}},
		{2, []float64{0.5, 0.5}},
		{3, []float64{0.4, 0.2, 0.4}},
		{4, []float64{0.4, 0.1, 0.1, 0.4}},
		{6, []float64{0.4, 0.05, 0.05, 0.05, 0.05, 0.4}},
	}
	for _, tt := range tests {
		got := make([]float64, tt.n)
		sum := 0.0
		for i := range tt.n {
			got[i] = positionCredit(i, tt.n)
			sum += got[i]
		}
		if !approxEqual(got, tt.want) {
			t.Errorf("credits of %d touches = %v, want %v", tt.n, got, tt.want)
		}
		if tt.n > 0 && math.Abs(sum-1) > 1e-9 {
			t.Errorf("credits of %d touches add up to %v, want 1", tt.n, sum)
		}
		for _, i := range []int{-1, tt.n} {
			if c := positionCredit(i, tt.n); c != 0 {
				t.Errorf("positionCredit(%d, %d) = %v, want 0 outside the touches", i, tt.n, c)
			}
		}
	}
}

// approxEqual reports whether got and want hold the same numbers, up to
// rounding.
func approxEqual(got, want []float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > 1e-9 {
			return false
		}
	}
	return true
}

// touch is a lead event of email from source at t0+at, as a step.
func touch(id, email, source string, at time.Duration) step {
	return step{id, t0.Add(at), adaLead(func(l *contracts.Lead) { l.Email, l.Source = email, source })}
}

// TestAttribution credits the contacts that converted in a window, with
// all their touches before its end, on every backend.
func TestAttribution(t *testing.T) {
	h := time.Hour
	steps := []step{
		touch("a1", "ada@example.com", "form", -48*h), // before the window, still her first touch
		touch("a2", "ada@example.com", "clay", h),
		touch("a3", "ada@example.com", "hubspot", 2*h),
		touch("g1", "grace@example.com", "clay", 0), // at the window's start: in it
		touch("l1", "linus@example.com", "form", -72*h),
		touch("l2", "linus@example.com", "clay", -24*h),
		touch("m1", "margaret@example.com", "form", h),
		touch("m2", "margaret@example.com", "clay", 24*h), // at the window's end: after it
		touch("t1", "alan@example.com", "hubspot", -10*h),
		touch("t2", "alan@example.com", "form", 5*h),
		// At the same time, the touch stored first comes first, whatever
		// the event ids.
		touch("k2", "katherine@example.com", "form", 4*h),
		touch("k1", "katherine@example.com", "clay", 4*h),
	}
	src := func(name string, credit float64, touches, first, last int) SourceAttribution {
		return SourceAttribution{Source: name, Credit: credit, Touches: touches, FirstTouches: first, LastTouches: last}
	}
	tests := []struct {
		name     string
		req      AttributionRequest
		contacts int
		want     []SourceAttribution
	}{
		{"a day", AttributionRequest{Since: t0, Until: t0.Add(24 * h)}, 5, []SourceAttribution{
			src("form", 0.4+1+0.5+0.5, 4, 3, 2),
			src("clay", 0.2+1+0.5, 3, 1, 2),
			src("hubspot", 0.4+0.5, 2, 1, 1),
		}},
		{"all time", AttributionRequest{}, 6, []SourceAttribution{
			src("clay", 0.2+1+0.5+0.5+0.5, 5, 1, 4),
			src("form", 0.4+0.5+0.5+0.5+0.5, 5, 4, 1),
			src("hubspot", 0.4+0.5, 2, 1, 1),
		}},
		{"from the window's end on", AttributionRequest{Since: t0.Add(24 * h)}, 1, []SourceAttribution{
			src("clay", 0.5, 1, 0, 1),
			src("form", 0.5, 1, 1, 0),
		}},
		{"no touches", AttributionRequest{Since: t0.Add(100 * h), Until: t0.Add(200 * h)}, 0, []SourceAttribution{}},
	}
	for _, b := range testBackends {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t)
			runSteps(t, s, steps)
			db := &DB{sql: s}
			for _, tt := range tests {
				got, err := db.Attribution(context.Background(), tt.req)
				if err != nil {
					t.Fatalf("%s: %v", tt.name, err)
				}
				touches := 0
				for _, w := range tt.want {
					touches += w.Touches
				}
				if got.Contacts != tt.contacts || got.Touches != touches || !got.Since.Equal(tt.req.Since) ||
					!got.Until.Equal(tt.req.Until) || !sameSources(got.Sources, tt.want) {
					t.Errorf("%s: got %d contacts, %d touches, %s\nwant %d contacts, %d touches, %s",
						tt.name, got.Contacts, got.Touches, sourcesText(got.Sources), tt.contacts, touches, sourcesText(tt.want))
				}
			}
			if _, err := db.Attribution(context.Background(), AttributionRequest{Since: t0, Until: t0}); err == nil {
				t.Error("an empty window: no error")
			}
		})
	}
}

// sameSources reports whether got and want hold the same sources in the
// same order, with the same credit up to rounding.
func sameSources(got, want []SourceAttribution) bool {
	if got == nil || len(got) != len(want) {
		return false
	}
	for i := range got {
		g, w := got[i], want[i]
		if math.Abs(g.Credit-w.Credit) > 1e-9 {
			return false
		}
		g.Credit = w.Credit
		if g != w {
			return false
		}
	}
	return true
}

func sourcesText(ss []SourceAttribution) string {
	out := ""
	for _, s := range ss {
		out += fmt.Sprintf("\n  %s credit %.3f touches %d first %d last %d", s.Source, s.Credit, s.Touches,
			s.FirstTouches, s.LastTouches)
	}
	return out
}
