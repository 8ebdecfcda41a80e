package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
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

// TestBenchRuns: --runs repeats the scenarios, each run on a server of its
// own, and with --json prints every run and the summary of their figures.
func TestBenchRuns(t *testing.T) {
	out, err := cli(t, "bench", "--runs", "2", "--only", "ceiling/http+jetstream,ingest", "--events", "200", "--payload", "300",
		"--concurrency", "4", "--duration", "1s", "--json")
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	for _, want := range []string{"running ingest (run 1/2)", "running ingest (run 2/2)"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress lacks %q:\n%s", want, out)
		}
	}
	var got struct {
		Runs    []bench.Report `json:"runs"`
		Summary bench.Summary  `json:"summary"`
	}
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &got); err != nil {
		t.Fatalf("decode: %v\n%s", err, out)
	}
	if len(got.Runs) != 2 || got.Summary.Runs != 2 {
		t.Fatalf("%d runs and a summary of %d, want 2 of each", len(got.Runs), got.Summary.Runs)
	}
	if len(got.Summary.Scenarios) != 4 || len(got.Summary.Targets) != 2 {
		t.Errorf("summary of %d scenarios and %d targets, want 4 and 2", len(got.Summary.Scenarios), len(got.Summary.Targets))
	}
	for _, s := range got.Summary.Scenarios {
		if r := s.PerSecond; r.N != 2 || r.Min > r.Median || r.Median > r.Max {
			t.Errorf("%s: rate spread %+v, want two runs in order", s.Name, r)
		}
	}

	if out, err := cli(t, "bench", "--runs", "0", "--only", "ceiling/http"); err == nil || !strings.Contains(err.Error(), "--runs 0") {
		t.Errorf("--runs 0: err = %v, want one naming the flag\n%s", err, out)
	}
}

// TestPrintRuns: several runs print as one table of medians and ranges,
// the targets with the runs that met them, and the notes once.
func TestPrintRuns(t *testing.T) {
	run := func(hj, ingest, ratio float64, met bool) bench.Report {
		return bench.Report{PeakRSS: 200 << 20, GoMax: 2, Config: bench.Config{PayloadSize: 1024, Concurrency: 32},
			Results: []bench.Result{
				{Name: "ceiling/http+jetstream", What: "HJ", PerSecond: hj},
				{Name: "ingest", What: "gtmhub ingest", Baseline: "ceiling/http+jetstream", PerSecond: ingest, Ratio: ratio, Retried: 1},
			},
			Targets: []bench.Target{{Name: "ingest rate", Want: 0.7, Got: ratio, Unit: "× HJ", Met: met}},
			NotRun:  []bench.NotRun{{Name: "store/postgres", Why: "a database"}}}
	}
	cmd := newBenchCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.Flags().Bool("json", false, "")
	if err := printRuns(cmd, []bench.Report{run(20_000, 15_000, 0.75, true), run(22_000, 14_300, 0.65, false), run(21_000, 14_700, 0.70, true)}); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"3 runs, each figure as its median (lowest–highest):",
		"14700/s (14300/s–15000/s)", "0.70× (0.65×–0.75×) ceiling/http+jetstream",
		"≥ 0.70× HJ", "0.70× HJ", "0.65× HJ – 0.75× HJ", "2 of 3 runs", "yes",
		"ingest: 3 resends", "not run: store/postgres, which needs a database",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if n := strings.Count(text, "gtmhub ingest"); n != 1 {
		t.Errorf("ingest's description printed %d times, want once:\n%s", n, text)
	}
}

// TestSpreadText: a figure over runs reads as its median and range, or its
// one value when every run measured the same.
func TestSpreadText(t *testing.T) {
	rate := func(v float64) string { return fmt.Sprintf("%.0f/s", v) }
	tests := []struct {
		name string
		s    bench.Spread
		want string
	}{
		{"a range", bench.Spread{Min: 1600, Median: 1904, Max: 2100, N: 3}, "1904/s (1600/s–2100/s)"},
		{"every run the same", bench.Spread{Min: 2400, Median: 2400, Max: 2400, N: 2}, "2400/s"},
		{"not measured", bench.Spread{}, "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := spreadText(tt.s, rate); got != tt.want {
				t.Errorf("spreadText() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestTargetSpreadRows: a target over runs reads as its threshold, the
// median and range in its unit, and the runs that met it.
func TestTargetSpreadRows(t *testing.T) {
	tests := []struct {
		name string
		t    bench.TargetSpread
		want []string
	}{
		{"a share", bench.TargetSpread{Name: "pipeline rate", Want: 0.15, Unit: "× HJ",
			Got: bench.Spread{Min: 0.071, Median: 0.084, Max: 0.102, N: 3}},
			[]string{"pipeline rate", "≥ 0.15× HJ", "0.084× HJ", "0.071× HJ – 0.10× HJ", "0 of 3 runs", "no"}},
		{"a latency met by its median", bench.TargetSpread{Name: "pipeline p99 at 1000 leads/s offered", Want: 100, Unit: "ms", Below: true,
			Got: bench.Spread{Min: 60, Median: 95, Max: 140, N: 4}, Met: 2, MedianMet: true},
			[]string{"pipeline p99 at 1000 leads/s offered", "< 100 ms", "95.0 ms", "60.0 ms – 140.0 ms", "2 of 4 runs", "yes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := targetSpreadRows([]bench.TargetSpread{tt.t}); len(got) != 1 || !slices.Equal(got[0], tt.want) {
				t.Errorf("targetSpreadRows() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestBenchRecordsTheRun: --cpuprofile and --trace each write their file,
// a gzipped profile and an execution trace, and a file that cannot be made
// stops the run before it starts.
func TestBenchRecordsTheRun(t *testing.T) {
	dir := t.TempDir()
	cpu, tr := filepath.Join(dir, "cpu.out"), filepath.Join(dir, "trace.out")
	out, err := cli(t, "bench", "--only", "ceiling/http", "--events", "50", "--payload", "300", "--concurrency", "2",
		"--cpuprofile", cpu, "--trace", tr)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	for _, f := range []struct{ path, begins string }{{cpu, "\x1f\x8b"}, {tr, "go 1."}} {
		b, err := os.ReadFile(f.path)
		if err != nil || !strings.HasPrefix(string(b), f.begins) || len(b) < 100 {
			t.Errorf("%s: %d bytes beginning %q, %v; want it to begin %q", filepath.Base(f.path), len(b), b[:min(len(b), 8)], err, f.begins)
		}
	}
	tests := []struct{ flag, want string }{{"--cpuprofile", "cpu profile: "}, {"--trace", "trace: "}}
	for _, tt := range tests {
		t.Run(tt.flag, func(t *testing.T) {
			_, err := cli(t, "bench", "--only", "ceiling/http", "--events", "50", tt.flag, filepath.Join(dir, "missing", "x"))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("bench %s into a missing folder: %v, want an error saying %q", tt.flag, err, tt.want)
			}
		})
	}
}
