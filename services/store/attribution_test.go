package store

import (
	"math"
	"testing"
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
