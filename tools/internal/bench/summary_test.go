package bench_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/tools/internal/bench"
)

// TestSummarize: each figure is read over the runs as its median and
// range, a figure a run did not measure is left out of its spread, and a
// target says in how many runs it was met and whether its median meets it.
func TestSummarize(t *testing.T) {
	us := time.Microsecond
	pipeline := func(rate, ratio float64, cpu time.Duration) bench.Result {
		return bench.Result{Name: "pipeline", Baseline: "ceiling/http+jetstream", PerSecond: rate, Ratio: ratio, CPUOp: cpu, AllocsOp: 2400}
	}
	hj := func(rate float64) bench.Result { return bench.Result{Name: "ceiling/http+jetstream", PerSecond: rate} }
	rate := func(got float64) bench.Target {
		return bench.Target{Name: "pipeline rate", Want: 0.15, Got: got, Unit: "× HJ", Met: got >= 0.15}
	}
	tail := func(got float64) bench.Target {
		return bench.Target{Name: "pipeline p99 at 1000 leads/s offered", Want: 100, Got: got, Unit: "ms", Below: true, Met: got < 100}
	}
	tests := []struct {
		name      string
		reports   []bench.Report
		scenarios []bench.ScenarioSpread
		targets   []bench.TargetSpread
	}{
		{
			name: "odd number of runs: the middle one",
			reports: []bench.Report{
				{Results: []bench.Result{hj(20_000), pipeline(1_600, 0.08, 1200*us)}, Targets: []bench.Target{rate(0.08)}, PeakRSS: 300},
				{Results: []bench.Result{hj(24_000), pipeline(2_400, 0.10, 900*us)}, Targets: []bench.Target{rate(0.10)}, PeakRSS: 500},
				{Results: []bench.Result{hj(16_000), pipeline(2_880, 0.18, 1000*us)}, Targets: []bench.Target{rate(0.18)}, PeakRSS: 400},
			},
			scenarios: []bench.ScenarioSpread{
				{Name: "ceiling/http+jetstream", PerSecond: bench.Spread{Min: 16_000, Median: 20_000, Max: 24_000, N: 3}},
				{Name: "pipeline", Baseline: "ceiling/http+jetstream",
					PerSecond: bench.Spread{Min: 1_600, Median: 2_400, Max: 2_880, N: 3},
					Ratio:     bench.Spread{Min: 0.08, Median: 0.10, Max: 0.18, N: 3},
					CPUOpNs:   bench.Spread{Min: 900e3, Median: 1000e3, Max: 1200e3, N: 3},
					AllocsOp:  bench.Spread{Min: 2400, Median: 2400, Max: 2400, N: 3}},
			},
			targets: []bench.TargetSpread{{Name: "pipeline rate", Want: 0.15, Unit: "× HJ",
				Got: bench.Spread{Min: 0.08, Median: 0.10, Max: 0.18, N: 3}, Met: 1, MedianMet: false}},
		},
		{
			name: "even number of runs: the mean of the middle two; an upper bound met by its median",
			reports: []bench.Report{
				{Targets: []bench.Target{tail(80)}},
				{Targets: []bench.Target{tail(140)}},
				{Targets: []bench.Target{tail(60)}},
				{Targets: []bench.Target{tail(110)}},
			},
			targets: []bench.TargetSpread{{Name: "pipeline p99 at 1000 leads/s offered", Want: 100, Unit: "ms", Below: true,
				Got: bench.Spread{Min: 60, Median: 95, Max: 140, N: 4}, Met: 2, MedianMet: true}},
		},
		{
			name: "a figure one run did not measure, and a scenario only one run had",
			reports: []bench.Report{
				{Results: []bench.Result{pipeline(1_600, 0, 1200*us)}},
				{Results: []bench.Result{pipeline(2_000, 0.1, 1000*us), {Name: "store", PerSecond: 2_500}}},
			},
			scenarios: []bench.ScenarioSpread{
				{Name: "pipeline", Baseline: "ceiling/http+jetstream",
					PerSecond: bench.Spread{Min: 1_600, Median: 1_800, Max: 2_000, N: 2},
					Ratio:     bench.Spread{Min: 0.1, Median: 0.1, Max: 0.1, N: 1},
					CPUOpNs:   bench.Spread{Min: 1000e3, Median: 1100e3, Max: 1200e3, N: 2},
					AllocsOp:  bench.Spread{Min: 2400, Median: 2400, Max: 2400, N: 2}},
				{Name: "store", PerSecond: bench.Spread{Min: 2_500, Median: 2_500, Max: 2_500, N: 1}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := bench.Summarize(tt.reports)
			if got.Runs != len(tt.reports) {
				t.Errorf("runs = %d, want %d", got.Runs, len(tt.reports))
			}
			if !reflect.DeepEqual(got.Scenarios, tt.scenarios) {
				t.Errorf("scenarios:\n got %+v\nwant %+v", got.Scenarios, tt.scenarios)
			}
			if !reflect.DeepEqual(got.Targets, tt.targets) {
				t.Errorf("targets:\n got %+v\nwant %+v", got.Targets, tt.targets)
			}
		})
	}
	if got := bench.Summarize([]bench.Report{{PeakRSS: 300}, {PeakRSS: 500}, {PeakRSS: 400}}).PeakRSS; got != 500 {
		t.Errorf("peak RSS = %d, want the highest run's, 500", got)
	}
}
