// Package stack runs the whole gtmhub pipeline in one process: an embedded
// NATS server with JetStream (or an existing one), the topology, and the
// five services sharing one connection, one admin server and one metrics
// registry. `gtmhub up` and the end-to-end tests run exactly this code.
package stack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/service"
)

// Config is what `gtmhub up` is told on its command line.
type Config struct {
	ConfigFile string // gtmhub.yaml, optional
	DataDir    string // JetStream store, SQLite database, knowledge folder
	HTTPAddr   string // ingest
	AdminAddr  string // /livez, /readyz, /metrics
	NATSListen string // embedded server's client address
	NATSURL    string // use this server instead of embedding one
	// NATSOptions are how to connect to NATSURL: credentials, TLS.
	NATSOptions []nats.Option
	Replicas    int // stream replicas
}

// DefaultConfig is the configuration of `gtmhub up` without flags.
func DefaultConfig() Config {
	return Config{DataDir: "./data", HTTPAddr: "127.0.0.1:8080", AdminAddr: "127.0.0.1:8081",
		NATSListen: "127.0.0.1:4222", Replicas: 1}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var p service.Problems
	if c.DataDir == "" {
		p.Addf("data dir is required")
	}
	for name, addr := range map[string]string{"http": c.HTTPAddr, "admin": c.AdminAddr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			p.Addf("%s address %q: %v", name, addr, err)
		}
	}
	if c.NATSURL == "" {
		if _, _, err := splitHostPort(c.NATSListen); err != nil {
			p.Addf("nats listen address %q: %v", c.NATSListen, err)
		}
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		p.Addf("replicas %d: want 1 to 5", c.Replicas)
	}
	return p.Err()
}

// Addrs are where a running stack listens.
type Addrs struct {
	HTTP  string // ingest, host:port
	Admin string
	NATS  string // client URL
}

// Option adjusts Run.
type Option func(*options)

type options struct {
	log   *slog.Logger
	ready func(Addrs)
}

// WithLogger sets the logger; each service logs with its name attached.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithReady is called once everything listens.
func WithReady(fn func(Addrs)) Option { return func(o *options) { o.ready = fn } }

// Run starts the stack and blocks until ctx is cancelled. Shutdown is
// ordered: ingest stops taking requests and finishes those in flight,
// consumers drain, then the NATS connection and the embedded server close.
func Run(ctx context.Context, cfg Config, opts ...Option) error {
	o := options{log: slog.New(slog.DiscardHandler), ready: func(Addrs) {}}
	for _, opt := range opts {
		opt(&o)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	svcs, err := loadServices(cfg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	unlock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return err
	}
	defer unlock()
	natsURL, shutdownNATS, err := startNATS(cfg)
	if err != nil {
		return err
	}
	defer shutdownNATS()
	nc, js, err := service.Connect(ctx, natsURL, "gtmhub-up", o.log, cfg.NATSOptions...)
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := service.EnsureTopology(ctx, js, cfg.Replicas); err != nil {
		return err
	}
	shared, err := newShared(nc, js, o.log)
	if err != nil {
		return err
	}
	shared.replicas = cfg.Replicas
	httpLn, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("ingest listen: %w", err)
	}
	adminLn, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		httpLn.Close()
		return fmt.Errorf("admin listen: %w", err)
	}
	o.ready(Addrs{HTTP: httpLn.Addr().String(), Admin: adminLn.Addr().String(), NATS: natsURL})
	err = shared.serve(ctx, adminLn, svcs.runners(httpLn))
	_ = nc.Drain()
	return err
}

// shared is what the services of one stack have in common.
type shared struct {
	replicas int
	nc       *nats.Conn
	log      *slog.Logger
	reg      *prometheus.Registry
	metrics  *events.Metrics
	health   *service.Health
}

func newShared(nc *nats.Conn, js jetstream.JetStream, log *slog.Logger) (*shared, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		service.NewConsumerCollector(js))
	metrics, err := events.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	health := service.NewHealth()
	health.Add("streams", service.StreamsCheck(js, streamNames()...))
	return &shared{nc: nc, log: log, reg: reg, metrics: metrics, health: health}, nil
}

// serve runs the admin server and every service until ctx is cancelled or
// one of them fails. Each service is traced under its own name.
func (s *shared) serve(ctx context.Context, adminLn net.Listener, runners []runner) error {
	deps := make([]service.Deps, len(runners))
	for i, r := range runners {
		tracing, err := service.SetupTracing(ctx, r.name)
		if err != nil {
			adminLn.Close()
			return err
		}
		defer func() { _ = tracing.Shutdown(context.WithoutCancel(ctx)) }()
		breakers := service.NewBreakerRegistry()
		if !r.selfAnnounced {
			announced, err := service.Announce(s.nc, r.name, service.Version, service.WithBreakerStates(breakers))
			if err != nil {
				adminLn.Close()
				return err
			}
			defer func() { _ = announced.Stop() }()
		}
		deps[i] = service.Deps{Replicas: s.replicas, Conn: s.nc, Logger: s.log.With("service", r.name), Registry: s.reg,
			Metrics: s.metrics, Health: s.health, TracerProvider: tracing.Provider, Propagator: tracing.Propagator,
			Breakers: breakers}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return service.Serve(gctx, adminLn, service.AdminHandler(s.health, s.reg)) })
	for i, r := range runners {
		g.Go(func() error {
			if err := r.run(gctx, deps[i]); err != nil {
				return fmt.Errorf("%s: %w", r.name, err)
			}
			return nil
		})
	}
	// A service stopped while it was starting may say so in its own words
	// (a bucket not created: context canceled) rather than with ctx's
	// error: once the stack is asked to stop, that is a stop.
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) && ctx.Err() == nil {
		return err
	}
	return nil
}

func streamNames() []string {
	var names []string
	for _, s := range events.DefaultTopology().Streams {
		names = append(names, s.Name)
	}
	return names
}

// startNATS starts the embedded server unless an external URL is given.
func startNATS(cfg Config) (url string, shutdown func(), err error) {
	if cfg.NATSURL != "" {
		return cfg.NATSURL, func() {}, nil
	}
	host, port, err := splitHostPort(cfg.NATSListen)
	if err != nil {
		return "", nil, err
	}
	if port > 0 {
		// The embedded server reports a busy address only in its log, after
		// the 30 s wait below: look first.
		ln, err := net.Listen("tcp", cfg.NATSListen)
		if err != nil {
			return "", nil, fmt.Errorf("embedded nats: %w: pass another --nats-listen, or --nats-url for a server already running", err)
		}
		ln.Close()
	}
	ns, err := server.NewServer(&server.Options{
		ServerName: "gtmhub", Host: host, Port: port, JetStream: true,
		StoreDir: filepath.Join(cfg.DataDir, "jetstream"), NoSigs: true, NoLog: true,
		MaxPayload: 8 << 20,
	})
	if err != nil {
		return "", nil, fmt.Errorf("embedded nats: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return "", nil, fmt.Errorf("embedded nats on %s did not start", cfg.NATSListen)
	}
	return ns.ClientURL(), func() { ns.Shutdown(); ns.WaitForShutdown() }, nil
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("port %q: %w", p, err)
	}
	if port == 0 {
		port = -1 // any free port
	}
	return host, port, nil
}
