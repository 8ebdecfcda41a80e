package bench_test

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/events/eventstest"
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
	if len(rep.Results) != 13 || !progressed || rep.PeakRSS <= 0 {
		t.Fatalf("report %+v", rep)
	}
	for _, r := range rep.Results {
		if r.Ops <= 0 || r.PerSecond <= 0 {
			t.Errorf("%s: %d ops at %.0f/s", r.Name, r.Ops, r.PerSecond)
		}
		if r.Baseline != "" && r.Ratio <= 0 {
			t.Errorf("%s: no ratio to %s", r.Name, r.Baseline)
		}
		if r.CPUOp <= 0 || r.RSS <= 0 {
			t.Errorf("%s: %s CPU per op, %d bytes resident after", r.Name, r.CPUOp, r.RSS)
		}
	}
	for _, r := range rep.Results {
		if strings.HasSuffix(r.Name, "/latency") && (r.P50 <= 0 || r.P99 < r.P50) {
			t.Errorf("latency result %+v", r)
		}
	}
	// Every target but the pipeline's tail, which asks for 1,000 leads/s
	// offered, each beside its bound.
	var judged []string
	for _, tg := range rep.Targets {
		judged = append(judged, tg.Name)
		if tg.Got <= 0 || tg.Bound == "" {
			t.Errorf("target %+v", tg)
		}
	}
	if want := []string{"ingest rate", "ingest p99 at half its peak", "pipeline rate", "replay feed"}; !slices.Equal(judged, want) {
		t.Errorf("targets judged %q, want %q", judged, want)
	}
}

// TestRunScale runs the pipeline at each size of --scale, in turn: each
// step decides on its own number of leads and says what each cost.
func TestRunScale(t *testing.T) {
	cfg := bench.Config{Events: 50, Duration: time.Second, PayloadSize: 300, Concurrency: 4, Rate: 50,
		Only: []string{"ceiling/http+jetstream", "pipeline/scale"}, Scale: []int{60, 150}}
	rep, err := bench.Run(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var steps []bench.Result
	for _, r := range rep.Results {
		if strings.HasPrefix(r.Name, bench.ScalePrefix) {
			steps = append(steps, r)
		}
	}
	if len(steps) != len(cfg.Scale) {
		t.Fatalf("steps %+v, want one for each of %v", steps, cfg.Scale)
	}
	for i, r := range steps {
		if want := bench.ScalePrefix + strconv.Itoa(cfg.Scale[i]); r.Name != want || r.Ops != cfg.Scale[i] {
			t.Errorf("step %d: %s with %d ops, want %s with %d", i, r.Name, r.Ops, want, cfg.Scale[i])
		}
		if r.Ratio <= 0 || r.CPUOp <= 0 || r.AllocsOp <= 0 || r.RSS <= 0 {
			t.Errorf("%s: ratio %.3f, %s CPU, %.0f allocs per lead, %d bytes resident", r.Name, r.Ratio, r.CPUOp, r.AllocsOp, r.RSS)
		}
	}
}

// TestRunReplayAlone runs the replay scenarios and their ceiling with
// nothing before them: each brings the messages it reads itself, and reads
// every one of them.
func TestRunReplayAlone(t *testing.T) {
	cfg := bench.Config{Events: 150, Duration: time.Second, PayloadSize: 300, Concurrency: 8, Rate: 50,
		Only: []string{"ceiling/jetstream-consume", "replay"}}
	rep, err := bench.Run(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 3 { // "replay" selects replay/store too
		t.Fatalf("results %+v", rep.Results)
	}
	for _, r := range rep.Results {
		if r.Ops != cfg.Events || r.AllocsOp <= 0 {
			t.Errorf("%s: %d ops, %.0f allocs/op; want %d ops", r.Name, r.Ops, r.AllocsOp, cfg.Events)
		}
	}
}

// TestRunOnGivenServer runs on a server given by URL: the scenarios' messages
// go through it, and it holds no stream after the run.
func TestRunOnGivenServer(t *testing.T) {
	ns := eventstest.RunServer(t, eventstest.WithoutTopology())
	cfg := bench.Config{Events: 200, Duration: time.Second, PayloadSize: 300, Concurrency: 8, Rate: 50,
		Only: []string{"ceiling/jetstream-publish", "ingest"}, NATSURL: ns.ClientURL()}
	before := inMsgs(t, ns)
	rep, err := bench.Run(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 3 { // "ingest" selects ingest/latency too
		t.Fatalf("results %+v", rep.Results)
	}
	if got := inMsgs(t, ns) - before; got < 2*int64(cfg.Events) {
		t.Errorf("the server received %d messages, want at least %d", got, 2*cfg.Events)
	}
	if n := streams(t, ns); n != 0 {
		t.Errorf("%d streams left on the server", n)
	}
}

// TestRunOnServerWithCredentials runs on a server that wants a user and a
// password, given as connect options (as --user and --password give them)
// or in the URL, which the report then prints redacted.
func TestRunOnServerWithCredentials(t *testing.T) {
	ns := eventstest.RunServer(t, eventstest.WithoutTopology(), eventstest.WithUser("bench", "s3cret-pass"))
	hostPort := strings.TrimPrefix(ns.ClientURL(), "nats://")
	tests := []struct {
		name    string
		url     string
		opts    []nats.Option
		only    []string
		wantErr bool
	}{
		{name: "connect options, gtmhub included", url: ns.ClientURL(), opts: []nats.Option{nats.UserInfo("bench", "s3cret-pass")},
			only: []string{"ceiling/jetstream-publish", "ingest"}},
		{name: "credentials in the URL", url: "nats://bench:s3cret-pass@" + hostPort, only: []string{"ceiling/jetstream-publish"}},
		{name: "wrong password", url: "nats://bench:wr0ng-pass@" + hostPort, only: []string{"ceiling/jetstream-publish"}, wantErr: true},
		{name: "no credentials", url: ns.ClientURL(), only: []string{"ceiling/jetstream-publish"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := bench.Config{Events: 100, Duration: time.Second, PayloadSize: 300, Concurrency: 4, Rate: 20,
				Only: tt.only, NATSURL: tt.url, NATSOptions: tt.opts}
			rep, err := bench.Run(t.Context(), cfg, nil)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "refused the credentials") ||
					strings.Contains(err.Error(), "s3cret-pass") || strings.Contains(err.Error(), "wr0ng-pass") {
					t.Fatalf("Run() = %v, want a refusal of the credentials without the password", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Results) < len(tt.only) {
				t.Errorf("results %+v", rep.Results)
			}
			out, err := json.Marshal(rep)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(out), "s3cret-pass") {
				t.Errorf("the report holds the password: %s", out)
			}
		})
	}
	if n := streams(t, ns); n != 0 {
		t.Errorf("%d streams left on the server", n)
	}
}

// TestRunRefusesServerWithStreams keeps the bench off a server that holds
// streams, and leaves them be.
func TestRunRefusesServerWithStreams(t *testing.T) {
	ns := eventstest.RunServer(t, eventstest.WithoutTopology())
	if _, err := ns.JS.CreateStream(t.Context(), jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}}); err != nil {
		t.Fatal(err)
	}
	cfg := bench.Config{Events: 10, Duration: time.Second, PayloadSize: 300, Concurrency: 1, Rate: 10,
		Only: []string{"ceiling/jetstream-publish"}, NATSURL: ns.ClientURL()}
	if _, err := bench.Run(t.Context(), cfg, nil); err == nil || !strings.Contains(err.Error(), "ORDERS") {
		t.Fatalf("Run() = %v, want a refusal naming ORDERS", err)
	}
	if n := streams(t, ns); n != 1 {
		t.Errorf("%d streams on the server, want ORDERS alone", n)
	}
}

func inMsgs(t *testing.T, ns *eventstest.Server) int64 {
	t.Helper()
	v, err := ns.Varz(nil)
	if err != nil {
		t.Fatal(err)
	}
	return v.InMsgs
}

func streams(t *testing.T, ns *eventstest.Server) int {
	t.Helper()
	jsz, err := ns.Jsz(nil)
	if err != nil {
		t.Fatal(err)
	}
	return jsz.Streams
}

// TestRunRedactsABadURL: a --nats-url that does not parse is refused
// without the password it holds.
func TestRunRedactsABadURL(t *testing.T) {
	cfg := bench.Config{Events: 10, Duration: time.Second, PayloadSize: 300, Concurrency: 1, Rate: 10,
		NATSURL: "nats://bench:pa@ssw0rd-z@bad host:4222"}
	_, err := bench.Run(t.Context(), cfg, nil)
	if err == nil || strings.Contains(err.Error(), "ssw0rd-z") {
		t.Fatalf("Run() = %v, want an error without the password", err)
	}
}
