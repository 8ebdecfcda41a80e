// Package bench measures gtmhub against the ceilings of the machine it runs
// on, in one run: a bare HTTP handler (H), a bare handler that publishes to
// JetStream and answers after the PubAck (HJ), and raw JetStream publish and
// consume (J), all driven by the same load generator against the same NATS
// server. Every gtmhub figure is reported beside its ceiling as a ratio.
package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/services/ingest"
)

// Config sets the size of a run.
type Config struct {
	Events      int           // events per throughput scenario
	Duration    time.Duration // latency scenarios run this long
	PayloadSize int           // bytes of padding in each lead
	Concurrency int           // concurrent keep-alive HTTP clients
	Rate        float64       // offered load (events/s) for the open-loop latency run
	Only        []string      // scenario names to run; empty: all
	HeapProfile string        // write a heap profile here after the last scenario
	DataDir     string        // scratch space
	// NATSURL is a server to run on instead of an embedded one: a scratch
	// server, holding no stream, whose streams the bench deletes when it
	// ends.
	NATSURL string
	// NATSOptions are how to connect to NATSURL: credentials, TLS.
	NATSOptions []nats.Option `json:"-"`
	// SyncAlways makes the embedded server sync every write to disk before
	// it acknowledges it (sync_interval: always), to measure what that
	// costs against the default of a sync every two minutes.
	SyncAlways bool `json:",omitempty"`
	// DedupWindow is every stream's Nats-Msg-Id de-duplication window
	// (at least 100ms, the server's minimum); 0 keeps gtmhub's 2 minutes.
	DedupWindow time.Duration `json:",omitempty"`
	// PostgresURL is a PostgreSQL database for the store/postgres
	// scenario, which works in a schema of its own and drops it after.
	PostgresURL string `json:",omitempty"`
	// Scale are the sizes of the pipeline/scale steps: the pipeline run
	// with each of these many leads, one step after another on the same
	// stack, so that the cost per lead can be read as the data grows.
	Scale []int `json:",omitempty"`
}

// minDedupWindow is the shortest de-duplication window NATS accepts.
const minDedupWindow = 100 * time.Millisecond

// Validate reports every problem with a run's settings at once.
func (c Config) Validate() error {
	var errs []error
	if c.Events <= 0 || c.Concurrency <= 0 || c.Rate <= 0 || c.Duration <= 0 || c.PayloadSize < 0 {
		errs = append(errs, errors.New("--events, --concurrency, --rate and --duration must be positive, --payload not negative"))
	}
	if c.SyncAlways && c.NATSURL != "" {
		errs = append(errs, errors.New("--sync-always sets the embedded server: a --nats-url server syncs as its own configuration says"))
	}
	if c.PostgresURL == "" && slices.Contains(c.Only, "store/postgres") {
		errs = append(errs, errors.New("store/postgres needs --postgres-url"))
	}
	if slices.ContainsFunc(c.Scale, func(n int) bool { return n <= 0 }) {
		errs = append(errs, fmt.Errorf("--scale %v: every step needs a positive number of leads", c.Scale))
	}
	if c.DedupWindow != 0 && c.DedupWindow < minDedupWindow {
		errs = append(errs, fmt.Errorf("--dedup-window %s is below the %s NATS accepts", c.DedupWindow, minDedupWindow))
	}
	if c.PayloadSize > MaxPayload {
		errs = append(errs, fmt.Errorf("--payload %d is above the %d bytes ingest accepts in a webhook body: a lead is padded up to --payload, so ingest would answer 413", c.PayloadSize, MaxPayload))
	}
	errs = append(errs, c.unknownOnly()...)
	return errors.Join(errs...)
}

// MaxPayload is the largest --payload: each lead's body is padded up to
// that size, and ingest refuses a webhook body above its default limit.
const MaxPayload = ingest.DefaultMaxBody

// unknownOnly names each --only entry that is no scenario's name nor the
// name of a group of them (the part before a '/').
func (c Config) unknownOnly() []error {
	var errs []error
	all := scenarios(c)
	for _, o := range c.Only {
		if !slices.ContainsFunc(all, func(s scenario) bool { return selected([]string{o}, s.name) }) {
			errs = append(errs, fmt.Errorf("--only %s: no such scenario", o))
		}
	}
	if len(errs) > 0 {
		names := make([]string, 0, len(all))
		for _, s := range all {
			names = append(names, s.name)
		}
		errs = append(errs, fmt.Errorf("the scenarios are %s", strings.Join(names, ", ")))
	}
	return errs
}

// DefaultConfig is a run that finishes in well under a minute on a laptop.
func DefaultConfig() Config {
	return Config{Events: 10_000, Duration: 5 * time.Second, PayloadSize: 256, Concurrency: 32, Rate: 100}
}

// Result is one measured scenario.
type Result struct {
	Name      string        `json:"name"`
	What      string        `json:"what"`
	Ops       int           `json:"ops"`
	Elapsed   time.Duration `json:"elapsed_ns"`
	PerSecond float64       `json:"per_second"`
	P50       time.Duration `json:"p50_ns,omitempty"`
	P99       time.Duration `json:"p99_ns,omitempty"`
	P999      time.Duration `json:"p999_ns,omitempty"`
	Baseline  string        `json:"baseline,omitempty"`
	Ratio     float64       `json:"ratio,omitempty"` // PerSecond / baseline's PerSecond
	AllocsOp  float64       `json:"allocs_per_op"`   // whole process, server included
	// CPUOp is the process's CPU time, user and system, per operation:
	// the server, the load generator and the fakes included.
	CPUOp time.Duration `json:"cpu_per_op_ns,omitempty"`
	// RSS is the process's resident memory when the scenario ended.
	RSS int64 `json:"rss_bytes,omitempty"`
	// Retried counts the resends of webhooks answered "retry later" (503,
	// 429), each after its Retry-After; their latency includes the wait.
	Retried int64 `json:"retried,omitempty"`
}

// Report is a whole run.
type Report struct {
	Config  Config   `json:"config"`
	Results []Result `json:"results"`
	// NotRun are the scenarios selected that the run could not measure.
	NotRun []NotRun `json:"not_run,omitempty"`
	// Targets are the performance targets the results let the run judge.
	Targets []Target `json:"targets,omitempty"`
	PeakRSS int64    `json:"peak_rss_bytes"`
	GoMax   int      `json:"gomaxprocs"`
}

// NotRun is a scenario left out of a run, and what it needs.
type NotRun struct {
	Name string `json:"name"`
	Why  string `json:"why"`
}

// Progress is told what runs and how far it got.
type Progress func(scenario string, done, total int)

// scenario is one measurement.
type scenario struct {
	name, what, baseline string
	run                  func(ctx context.Context, e *env, p Progress) (Result, error)
	// skip, when set, says what the scenario needs that cfg lacks, or ""
	// when it can run.
	skip func(Config) string
}

// Run measures every scenario of cfg (or those named in cfg.Only).
func Run(ctx context.Context, cfg Config, progress Progress) (Report, error) {
	if progress == nil {
		progress = func(string, int, int) {}
	}
	var mu sync.Mutex
	report := progress
	progress = func(s string, done, total int) {
		mu.Lock()
		defer mu.Unlock()
		report(s, done, total)
	}
	if err := cfg.Validate(); err != nil {
		return Report{}, err
	}
	e, err := newEnv(ctx, cfg)
	if err != nil {
		return Report{}, err
	}
	defer e.close()
	rep := Report{Config: cfg, GoMax: runtime.GOMAXPROCS(0)}
	rep.Config.NATSURL = events.Redact(cfg.NATSURL) // the report is printed
	rep.Config.PostgresURL = events.Redact(cfg.PostgresURL)
	byName := map[string]Result{}
	for _, s := range scenarios(cfg) {
		if !selected(cfg.Only, s.name) {
			continue
		}
		if s.skip != nil {
			if why := s.skip(cfg); why != "" {
				rep.NotRun = append(rep.NotRun, NotRun{Name: s.name, Why: why})
				continue
			}
		}
		whole, retried := startMeter(), e.retried.Load()
		r, err := s.run(ctx, e, progress)
		if err != nil {
			return rep, fmt.Errorf("%s: %w", s.name, err)
		}
		r.RSS = procStatus("VmRSS:")
		r.Name, r.What, r.Baseline = s.name, s.what, s.baseline
		r.Retried = e.retried.Load() - retried
		if r.Ops > 0 {
			if r.AllocsOp == 0 { // the scenario did not meter a window of its own
				whole.spend(&r, r.Ops)
			}
			if r.PerSecond == 0 {
				r.PerSecond = float64(r.Ops) / r.Elapsed.Seconds()
			}
		}
		if b, ok := byName[s.baseline]; ok && b.PerSecond > 0 {
			r.Ratio = r.PerSecond / b.PerSecond
		}
		byName[s.name] = r
		rep.Results = append(rep.Results, r)
	}
	rep.Targets = Targets(rep.Results, rep.GoMax)
	rep.PeakRSS = procStatus("VmHWM:")
	if cfg.HeapProfile != "" {
		if err := writeHeapProfile(cfg.HeapProfile); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// writeHeapProfile writes what is live on the heap after the last scenario,
// with the gtmhub stack still running, to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("heap profile: %w", err)
	}
	return f.Close()
}

func selected(only []string, name string) bool {
	if len(only) == 0 {
		return true
	}
	for _, o := range only {
		if o == name || strings.HasPrefix(name, o+"/") {
			return true
		}
	}
	return false
}

// percentiles sorts lat and reads p50, p99 and p999.
func percentiles(lat []time.Duration) (p50, p99, p999 time.Duration) {
	if len(lat) == 0 {
		return 0, 0, 0
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	at := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	return at(0.50), at(0.99), at(0.999)
}

// procStatus reads a size in bytes from the process's status (Linux):
// "VmHWM:", the high-water resident set size, or "VmRSS:", the current one.
// It is 0 where there is no /proc.
func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}
