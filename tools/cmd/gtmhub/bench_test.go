package main

import (
	"strings"
	"testing"

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
