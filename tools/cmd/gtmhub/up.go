package main

import (
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strings"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/tools/internal/stack"
)

func newUpCmd() *cobra.Command {
	cfg := stack.DefaultConfig()
	var level, memLimit string
	cmd := &cobra.Command{
		Use:   "up",
		Args:  cobra.NoArgs,
		Short: "Run the whole pipeline in one process on an embedded NATS server",
		Long: `up starts an embedded NATS server with JetStream under --data-dir (or uses
--nats-url), creates the streams and consumers, and runs ingest, enrich,
store, notify and knowledge-sync in this process until SIGINT or SIGTERM.
Shutdown is orderly: requests in flight get their answer, consumers drain,
and a restart continues where it stopped.

--memory-limit is a soft limit on the Go heap of the whole process (the
embedded server's buffers are most of it): the collector works harder as
the heap nears it, so resident memory stays near the limit plus about
40 MiB. GOMEMLIMIT, when set, takes precedence.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			limit, err := memoryLimit(memLimit, os.Getenv("GOMEMLIMIT"))
			if err != nil {
				return err
			}
			if limit > 0 {
				debug.SetMemoryLimit(limit)
			}
			cfg.NATSURL = connFlag(cmd.Flags(), "nats-url")
			if cfg.NATSURL != "" {
				cfg.NATSOptions = natsOptions(cmd.Flags()) // the embedded server asks for none
			}
			// The command's context ends on the first SIGINT or SIGTERM (see
			// main), for an orderly shutdown; a second one ends the process.
			ctx := cmd.Context()
			log := service.NewLogger(os.Stderr, service.ParseLevel(level), "")
			out := cmd.OutOrStdout()
			return stack.Run(ctx, cfg, stack.WithLogger(log), stack.WithReady(func(a stack.Addrs) {
				fmt.Fprintf(out, "gtmhub is up\n")
				fmt.Fprintf(out, "  webhooks  http://%s/webhooks/{source}   (try: form)\n", a.HTTP)
				fmt.Fprintf(out, "  events    http://%s/events\n", a.HTTP)
				fmt.Fprintf(out, "  admin     http://%s/livez /readyz /metrics\n", a.Admin)
				fmt.Fprintf(out, "  nats      %s\n", events.Redact(a.NATS))
				fmt.Fprintf(out, "  data      %s\n", cfg.DataDir)
			}))
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.ConfigFile, "config", service.Env("", "GTMHUB_CONFIG"), "gtmhub.yaml (optional: built-in defaults otherwise)")
	f.StringVar(&cfg.DataDir, "data-dir", service.Env(cfg.DataDir, "GTMHUB_DATA_DIR"), "where JetStream, the database and the knowledge folder live")
	f.StringVar(&cfg.HTTPAddr, "http", service.Env(cfg.HTTPAddr, "GTMHUB_HTTP_ADDR"), "ingest address")
	f.StringVar(&cfg.AdminAddr, "admin", service.Env(cfg.AdminAddr, "GTMHUB_ADMIN_ADDR"), "admin address: /livez, /readyz, /metrics")
	f.StringVar(&cfg.NATSListen, "nats-listen", service.Env(cfg.NATSListen, "GTMHUB_NATS_LISTEN"), "embedded NATS client address")
	f.IntVar(&cfg.Replicas, "replicas", cfg.Replicas, "stream replicas (3 on a cluster)")
	f.StringVar(&memLimit, "memory-limit", service.Env(defaultMemoryLimit, "GTMHUB_MEMORY_LIMIT"),
		`soft limit on the process's heap, such as 192MiB or 1GiB; "off" for none`)
	f.StringVar(&level, "log-level", service.Env("info", "GTMHUB_LOG_LEVEL"), "debug, info, warn or error")
	return cmd
}

// defaultMemoryLimit keeps `gtmhub up` under 256 MiB resident while the
// pipeline runs at full speed on 2 cores (docs/performance.md).
const defaultMemoryLimit = "192MiB"

// memoryLimit returns the soft memory limit to set from the flag's value,
// or 0 for none: when it is "off" or "0", or when the GOMEMLIMIT variable
// (gomemlimit) is set, which the runtime has applied already.
func memoryLimit(flag, gomemlimit string) (int64, error) {
	if gomemlimit != "" {
		return 0, nil
	}
	switch strings.ToLower(strings.TrimSpace(flag)) {
	case "off", "0", "":
		return 0, nil
	}
	n, err := humanize.ParseBytes(flag)
	if err != nil {
		return 0, fmt.Errorf("memory limit %q: want a size such as 192MiB or 1GiB, or off", flag)
	}
	if n < 32<<20 {
		return 0, fmt.Errorf("memory limit %q: want at least 32MiB, or off", flag)
	}
	return int64(min(n, math.MaxInt64)), nil
}
