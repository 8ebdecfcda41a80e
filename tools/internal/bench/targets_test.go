package bench_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/tools/internal/bench"
)

// TestTargets: each target is judged only on the figures that measure it,
// against its own threshold, beside what the same run's ceilings allow.
func TestTargets(t *testing.T) {
	ms := time.Millisecond
	hj := bench.Result{Name: "ceiling/http+jetstream", PerSecond: 20_000, CPUOp: 90 * time.Microsecond}
	hjTail := bench.Result{Name: "ceiling/http+jetstream/latency", PerSecond: 10_000, P99: 28 * ms}
	jPub := bench.Result{Name: "ceiling/jetstream-publish", PerSecond: 135_000}
	jCon := bench.Result{Name: "ceiling/jetstream-consume", PerSecond: 157_000}
	ingest := bench.Result{Name: "ingest", PerSecond: 14_000, Ratio: 0.72, CPUOp: 130 * time.Microsecond}
	ingestTail := bench.Result{Name: "ingest/latency", PerSecond: 7_000, P99: 66 * ms}
	pipeline := bench.Result{Name: "pipeline", PerSecond: 1_600, Ratio: 0.08, CPUOp: 1200 * time.Microsecond}
	store := bench.Result{Name: "store", PerSecond: 2_000, CPUOp: 600 * time.Microsecond}
	replay := bench.Result{Name: "replay", PerSecond: 46_000, Ratio: 0.29}
	tail := func(rate float64, p99 time.Duration) bench.Result {
		return bench.Result{Name: "pipeline/latency", PerSecond: rate, P99: p99}
	}
	tests := []struct {
		name    string
		results []bench.Result
		cores   int
		want    []bench.Target
	}{
		{"nothing measured", nil, 2, nil},
		{"ceilings alone", []bench.Result{hj, hjTail, jPub, jCon}, 2, nil},
		{"a whole run", []bench.Result{hj, hjTail, jPub, jCon, ingest, ingestTail, pipeline, tail(1000, 80*ms), replay, store}, 2, []bench.Target{
			{Name: "ingest rate", Want: 0.7, Got: 0.72, Unit: "× HJ", Met: true, Bound: "CPU per request: 130 µs, HJ's 90 µs"},
			{Name: "ingest p99 at half its peak", Want: 10, Got: 66, Unit: "ms", Below: true, Bound: "HJ's own p99 at half its peak: 28.0 ms"},
			{Name: "pipeline rate", Want: 0.15, Got: 0.08, Unit: "× HJ",
				Bound: "0.15× HJ leaves 667 µs of CPU per lead on 2 cores; the pipeline took 1200 µs, the store alone 600 µs"},
			{Name: "pipeline p99 at 1000 leads/s offered", Want: 100, Got: 80, Unit: "ms", Below: true, Met: true,
				Bound: "62% of the pipeline's peak in this run (1600 leads/s)"},
			{Name: "replay feed", Want: 0.5, Got: 0.29, Unit: "× J consume",
				Bound: "a feed that stores each event again reaches at most 0.46× J consume here"},
		}},
		{"four cores leave twice the CPU per lead", []bench.Result{hj, pipeline}, 4, []bench.Target{
			{Name: "pipeline rate", Want: 0.15, Got: 0.08, Unit: "× HJ",
				Bound: "0.15× HJ leaves 1333 µs of CPU per lead on 4 cores; the pipeline took 1200 µs"},
		}},
		{"without their ceilings, no bounds", []bench.Result{ingest, pipeline, replay}, 2, []bench.Target{
			{Name: "ingest rate", Want: 0.7, Got: 0.72, Unit: "× HJ", Met: true},
			{Name: "pipeline rate", Want: 0.15, Got: 0.08, Unit: "× HJ"},
			{Name: "replay feed", Want: 0.5, Got: 0.29, Unit: "× J consume"},
		}},
		{"a latency run at --rate is not at half the peak", []bench.Result{hj, hjTail, ingestTail}, 2, nil},
		{"the pipeline's tail below the target's load proves nothing", []bench.Result{tail(500, 40*ms)}, 2, nil},
		{"a tail over the target", []bench.Result{tail(1500, 100*ms)}, 2, []bench.Target{
			{Name: "pipeline p99 at 1500 leads/s offered", Want: 100, Got: 100, Unit: "ms", Below: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bench.Targets(tt.results, tt.cores); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Targets() =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}
