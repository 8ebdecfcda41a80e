package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/events"
)

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	tests := []struct {
		name string
		edit func(*Config)
		want string // in the error; empty: valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"sync always, embedded", func(c *Config) { c.SyncAlways = true }, ""},
		{"dedup at the minimum", func(c *Config) { c.DedupWindow = minDedupWindow }, ""},
		{"sync always on another server", func(c *Config) { c.SyncAlways, c.NATSURL = true, "nats://127.0.0.1:4222" }, "--sync-always"},
		{"dedup below the minimum", func(c *Config) { c.DedupWindow = 10 * time.Millisecond }, "--dedup-window 10ms"},
		{"no events", func(c *Config) { c.Events = 0 }, "must be positive"},
		{"no rate", func(c *Config) { c.Rate = 0 }, "must be positive"},
		{"scale steps", func(c *Config) { c.Scale = []int{10_000, 100_000} }, ""},
		{"an empty scale step", func(c *Config) { c.Scale = []int{10_000, 0} }, "--scale [10000 0]"},
		{"only a scenario", func(c *Config) { c.Only = []string{"ingest/latency"} }, ""},
		{"only a group", func(c *Config) { c.Only = []string{"ceiling", "replay"} }, ""},
		{"only a scale step", func(c *Config) { c.Scale, c.Only = []int{500}, []string{ScalePrefix + "500"} }, ""},
		{"only an unknown scenario", func(c *Config) { c.Only = []string{"ingest", "nosuch"} }, "--only nosuch: no such scenario"},
		{"only part of a name", func(c *Config) { c.Only = []string{"ceil"} }, "--only ceil: no such scenario"},
		{"payload at ingest's limit", func(c *Config) { c.PayloadSize = MaxPayload }, ""},
		{"payload above ingest's limit", func(c *Config) { c.PayloadSize = 1_100_000 }, "--payload 1100000 is above the 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			err := c.Validate()
			if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestGuaranteeSettingsReachTheServer: --sync-always and --dedup-window
// change the embedded server and every stream gtmhub publishes to, and
// leave the key-value buckets alone.
func TestGuaranteeSettingsReachTheServer(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SyncAlways, cfg.DedupWindow = true, 700*time.Millisecond
	e, err := newEnv(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	if !e.ns.JetStreamConfig().SyncAlways {
		t.Error("the embedded server does not sync every write")
	}
	// The server acknowledges each write after its sync, slower than the
	// client publishes: the ceiling waits instead of failing.
	const n = 5000
	if err := publishJ(t.Context(), e, n, func(int) {}); err != nil {
		t.Fatalf("publish ceiling with every write synced: %v", err)
	}
	if s, err := e.js.Stream(t.Context(), benchStream); err != nil || s.CachedInfo().State.Msgs != n {
		t.Fatalf("BENCH after the publish ceiling: %v", err)
	}
	if _, err := e.gtmhub(t.Context()); err != nil {
		t.Fatal(err)
	}
	names, err := streamNames(t.Context(), e.js)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]time.Duration{}
	for _, name := range names {
		s, err := e.js.Stream(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		seen[name] = s.CachedInfo().Config.Duplicates
	}
	for _, name := range []string{benchStream, events.StreamLeads, events.StreamRecords, events.StreamNotify} {
		if seen[name] != cfg.DedupWindow {
			t.Errorf("%s de-duplicates over %s, want %s", name, seen[name], cfg.DedupWindow)
		}
	}
	for name, d := range seen {
		if strings.HasPrefix(name, "KV_") && d == cfg.DedupWindow {
			t.Errorf("bucket %s took the run's window", name)
		}
	}
}
