package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/tools/internal/stack"
)

func newUpCmd() *cobra.Command {
	cfg := stack.DefaultConfig()
	var level string
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run the whole pipeline in one process on an embedded NATS server",
		Long: `up starts an embedded NATS server with JetStream under --data-dir (or uses
--nats-url), creates the streams and consumers, and runs ingest, enrich,
store, notify and knowledge-sync in this process until SIGINT or SIGTERM.
Shutdown is orderly: requests in flight get their answer, consumers drain,
and a restart continues where it stopped.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.NATSURL, _ = cmd.Flags().GetString("nats-url")
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			log := service.NewLogger(os.Stderr, service.ParseLevel(level), "")
			out := cmd.OutOrStdout()
			return stack.Run(ctx, cfg, stack.WithLogger(log), stack.WithReady(func(a stack.Addrs) {
				fmt.Fprintf(out, "gtmhub is up\n")
				fmt.Fprintf(out, "  webhooks  http://%s/webhooks/{source}   (try: form)\n", a.HTTP)
				fmt.Fprintf(out, "  events    http://%s/events\n", a.HTTP)
				fmt.Fprintf(out, "  admin     http://%s/livez /readyz /metrics\n", a.Admin)
				fmt.Fprintf(out, "  nats      %s\n", a.NATS)
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
	f.StringVar(&level, "log-level", service.Env("info", "GTMHUB_LOG_LEVEL"), "debug, info, warn or error")
	return cmd
}
