package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/tools/internal/bench"
)

func TestRatioText(t *testing.T) {
	tests := []struct {
		name string
		r    bench.Result
		want string
	}{
		{"a ceiling", bench.Result{}, ""},
		{"ceiling not run", bench.Result{Baseline: "ceiling/jetstream-consume"}, "(run ceiling/jetstream-consume too)"},
		{"small ratio keeps three decimals", bench.Result{Baseline: "ceiling/jetstream-consume", Ratio: 0.02154}, "0.022× ceiling/jetstream-consume"},
		{"ratio", bench.Result{Baseline: "ceiling/http+jetstream", Ratio: 0.7049}, "0.70× ceiling/http+jetstream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ratioText(tt.r); got != tt.want {
				t.Errorf("ratioText() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestScaleRows: each pipeline/scale step is shown beside the first, the
// other scenarios not at all.
func TestScaleRows(t *testing.T) {
	step := func(n int, rate float64, cpu time.Duration, allocs float64) bench.Result {
		return bench.Result{Name: bench.ScalePrefix + fmt.Sprint(n), Ops: n, PerSecond: rate, CPUOp: cpu, AllocsOp: allocs, RSS: 300 << 20}
	}
	tests := []struct {
		name    string
		results []bench.Result
		want    [][]string
	}{
		{"no steps", []bench.Result{{Name: "pipeline", Ops: 10, PerSecond: 5}}, nil},
		{"steps among other scenarios", []bench.Result{
			{Name: "pipeline", Ops: 10, PerSecond: 5},
			step(10_000, 1_600, 1200*time.Microsecond, 2500),
			step(100_000, 1_200, 1500*time.Microsecond, 2450),
			{Name: "store", Ops: 10, PerSecond: 5},
		}, [][]string{
			{"10000", "10000", "1600/s", "1.00×", "1200µs", "1.00×", "2500", "1.00×", "300 MiB"},
			{"100000", "110000", "1200/s", "0.75×", "1500µs", "1.25×", "2450", "0.98×", "300 MiB"},
		}},
		{"CPU not measured", []bench.Result{step(100, 50, 0, 10)}, [][]string{
			{"100", "100", "50/s", "1.00×", "-", "-", "10", "1.00×", "300 MiB"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := scaleRows(tt.results); !slices.EqualFunc(got, tt.want, slices.Equal) {
				t.Errorf("scaleRows() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestBenchScale runs the CLI with --scale: the steps' table follows the
// scenarios'.
func TestBenchScale(t *testing.T) {
	out, err := cli(t, "bench", "--only", "pipeline/scale", "--scale", "40,80", "--events", "40", "--payload", "300", "--concurrency", "2")
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	for _, want := range []string{"CPU/OP", "pipeline/scale/40 ", "pipeline/scale/80 ", "cost per lead as the stores grow", "STEPS' TOTAL"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestBenchSaysWhatItDidNotRun: a scenario selected that the run cannot
// measure is named with what it needs, not left out without a word.
func TestBenchSaysWhatItDidNotRun(t *testing.T) {
	t.Setenv("GTMHUB_BENCH_POSTGRES_URL", "")
	out, err := cli(t, "bench", "--only", "store", "--events", "50", "--payload", "300", "--concurrency", "2")
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	for _, want := range []string{"store ", "not run: store/postgres, which needs a PostgreSQL database: --postgres-url"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestTargetRows: a target reads as its threshold and the run's figure in
// its unit, with "<" for the bounds a latency must stay under.
func TestTargetRows(t *testing.T) {
	tests := []struct {
		name string
		t    bench.Target
		want []string
	}{
		{"a share met", bench.Target{Name: "ingest rate", Want: 0.7, Got: 0.7249, Unit: "× HJ", Met: true, Bound: "CPU per request: 130 µs, HJ's 90 µs"},
			[]string{"ingest rate", "≥ 0.70× HJ", "0.72× HJ", "yes", "CPU per request: 130 µs, HJ's 90 µs"}},
		{"a share missed", bench.Target{Name: "pipeline rate", Want: 0.15, Got: 0.079, Unit: "× HJ"},
			[]string{"pipeline rate", "≥ 0.15× HJ", "0.079× HJ", "no", ""}},
		{"a latency", bench.Target{Name: "ingest p99 at half its peak", Want: 10, Got: 66.37, Unit: "ms", Below: true},
			[]string{"ingest p99 at half its peak", "< 10 ms", "66.4 ms", "no", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := targetRows([]bench.Target{tt.t}); len(got) != 1 || !slices.Equal(got[0], tt.want) {
				t.Errorf("targetRows() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestBenchTargets: a run that measures ingest and its ceiling judges
// ingest's targets in a table of their own.
func TestBenchTargets(t *testing.T) {
	out, err := cli(t, "bench", "--only", "ceiling/http+jetstream,ingest", "--events", "200", "--payload", "300",
		"--concurrency", "4", "--duration", "1s")
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	for _, want := range []string{"targets (set for 2 cores and 1 KiB leads), judged on this run:", "WHAT THIS RUN ALLOWS",
		"ingest rate ", "≥ 0.70× HJ", "ingest p99 at half its peak ", "< 10 ms", "HJ's own p99 at half its peak"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
