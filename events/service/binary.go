package service

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os/signal"
	"strings"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"
)

// Binary describes a service's standalone binary. Main gives every service
// the same command line: --config, --nats-url, --admin and --log-level, plus
// the service's own flags.
type Binary[C any] struct {
	Name     string                                       // service name, e.g. "store"
	Config   C                                            // defaults
	Flags    func(fs *flag.FlagSet, c *C)                 // service flags, optional
	Env      func(c *C)                                   // environment overrides, optional
	Validate func(c C) error                              // every problem at once
	Run      func(ctx context.Context, c C, d Deps) error // blocks until ctx is done
	NATSURL  func(c *C) *string                           // where the NATS URL lives in C
	// SelfAnnounced is set for a service that registers its own NATS micro
	// service under gtmhub-<name> (the store's read API), so Main does not
	// announce it a second time.
	SelfAnnounced bool
}

// Main parses args, loads the config file, applies the environment and
// flags, validates, then runs the service with an admin server until SIGINT
// or SIGTERM.
func (b Binary[C]) Main(ctx context.Context, args []string, stderr io.Writer) error {
	// The file and the environment come first so that flags override them.
	cfg := b.Config
	configPath := flagValue(args, "config", Env("", "GTMHUB_CONFIG"))
	if err := LoadFile(configPath, &cfg); err != nil {
		return err
	}
	if b.Env != nil {
		b.Env(&cfg)
	}
	fs := flag.NewFlagSet(b.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.String("config", configPath, "gtmhub.yaml to load (optional; env GTMHUB_CONFIG)")
	admin := fs.String("admin", Env("127.0.0.1:0", "GTMHUB_ADMIN_ADDR"), "admin address for /livez, /readyz, /metrics")
	level := fs.String("log-level", Env("info", "GTMHUB_LOG_LEVEL"), "debug, info, warn or error")
	natsURL := fs.String("nats-url", Env("nats://127.0.0.1:4222", "GTMHUB_NATS_URL"), "NATS server URL")
	replicas := fs.Int("replicas", envInt("GTMHUB_REPLICAS", 1), "stream replicas when creating the topology")
	ensure := fs.Bool("ensure-topology", Env("true", "GTMHUB_ENSURE_TOPOLOGY") == "true",
		"create or update the streams at start (off where the service's NATS user may not, as in deploy/nats)")
	creds := fs.String("nats-creds", Env("", "GTMHUB_NATS_CREDS"), "NATS credentials file")
	user := fs.String("nats-user", Env("", "GTMHUB_NATS_USER"), "NATS user")
	password := fs.String("nats-password", Env("", "GTMHUB_NATS_PASSWORD"), "NATS password (prefer the environment variable)")
	if b.Flags != nil {
		b.Flags(fs, &cfg)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if b.NATSURL != nil {
		*b.NATSURL(&cfg) = *natsURL
	}
	if err := b.Validate(cfg); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log := NewLogger(stderr, ParseLevel(*level), b.Name)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	nc, js, err := Connect(ctx, *natsURL, "gtmhub-"+b.Name, log, Credentials(*creds, *user, *password)...)
	if err != nil {
		return err
	}
	defer func() { _ = nc.Drain() }()
	if *ensure {
		if err := EnsureTopology(ctx, js, *replicas); err != nil {
			return err
		}
	}
	tracing, err := SetupTracing(ctx, b.Name)
	if err != nil {
		return err
	}
	defer func() { _ = tracing.Shutdown(context.WithoutCancel(ctx)) }()
	reg.MustRegister(NewConsumerCollector(js, b.Name))
	breakers := NewBreakerRegistry()
	if !b.SelfAnnounced {
		announced, err := Announce(nc, b.Name, Version, WithBreakerStates(breakers))
		if err != nil {
			return err
		}
		defer func() { _ = announced.Stop() }()
	}
	deps := Deps{Conn: nc, Logger: log, Registry: reg, Health: NewHealth(), Replicas: *replicas,
		TracerProvider: tracing.Provider, Propagator: tracing.Propagator, Breakers: breakers}

	ln, err := net.Listen("tcp", *admin)
	if err != nil {
		return fmt.Errorf("admin listen: %w", err)
	}
	log.Info("admin listening", "addr", ln.Addr().String())
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return Serve(gctx, ln, AdminHandler(deps.Health, reg)) })
	g.Go(func() error {
		err := b.Run(gctx, cfg, deps)
		stop() // the service ended: stop the admin server too
		return err
	})
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// flagValue finds -name/--name VALUE or -name=VALUE in args before the flag
// set exists, so the config file can be loaded before flags override it.
func flagValue(args []string, name, def string) string {
	for i, a := range args {
		for _, p := range []string{"-" + name, "--" + name} {
			switch {
			case a == p && i+1 < len(args):
				return args[i+1]
			case strings.HasPrefix(a, p+"="):
				return strings.TrimPrefix(a, p+"=")
			}
		}
	}
	return def
}
