package bench_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/tools/internal/bench"
)

// TestRunSmall runs every scenario on a tiny load: each must finish, count
// its operations and, where it has a ceiling, report a ratio to it.
func TestRunSmall(t *testing.T) {
	cfg := bench.Config{Events: 200, Duration: time.Second, PayloadSize: 300, Concurrency: 8, Rate: 50}
	var progressed bool
	rep, err := bench.Run(context.Background(), cfg, func(string, int, int) { progressed = true })
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 12 || !progressed || rep.PeakRSS <= 0 {
		t.Fatalf("report %+v", rep)
	}
	for _, r := range rep.Results {
		if r.Ops <= 0 || r.PerSecond <= 0 {
			t.Errorf("%s: %d ops at %.0f/s", r.Name, r.Ops, r.PerSecond)
		}
		if r.Baseline != "" && r.Ratio <= 0 {
			t.Errorf("%s: no ratio to %s", r.Name, r.Baseline)
		}
	}
	for _, r := range rep.Results {
		if strings.HasSuffix(r.Name, "/latency") && (r.P50 <= 0 || r.P99 < r.P50) {
			t.Errorf("latency result %+v", r)
		}
	}
}
