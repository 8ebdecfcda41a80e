package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/gtmhub/gtmhub/events"
)

// Deps are what a service borrows from the process hosting it: its own
// binary, or `gtmhub up` running every service over one embedded server.
// Zero fields are filled in by [Deps.Resolve].
type Deps struct {
	Conn           *nats.Conn
	Logger         *slog.Logger
	Registry       prometheus.Registerer
	Metrics        *events.Metrics
	Health         *Health
	TracerProvider trace.TracerProvider
	Propagator     propagation.TextMapPropagator
	// Breakers is where the service registers the circuit breakers it
	// creates; the host announces their states (see [WithBreakerStates]).
	Breakers *BreakerRegistry
	// Replicas is the replica count of the KV buckets a service creates,
	// the same as its streams': 3 on a cluster. Default 1.
	Replicas int
}

// Resolved are Deps with every field set and the JetStream context ready.
type Resolved struct {
	Deps
	JS jetstream.JetStream
}

// Resolve fills missing dependencies: it dials natsURL as name when Conn is
// nil (close releases it), and uses a discarding logger, a private registry
// and the global tracer provider otherwise.
func (d Deps) Resolve(ctx context.Context, natsURL, name string) (r Resolved, closeFn func(), err error) {
	closeFn = func() {}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	d.Replicas = max(d.Replicas, 1)
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	if d.Metrics == nil {
		if d.Metrics, err = events.NewMetrics(d.Registry); err != nil {
			return Resolved{}, closeFn, err
		}
	}
	if d.Health == nil {
		d.Health = NewHealth()
	}
	if d.Breakers == nil {
		d.Breakers = NewBreakerRegistry()
	}
	if d.TracerProvider == nil {
		d.TracerProvider = otel.GetTracerProvider()
	}
	if d.Propagator == nil {
		d.Propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	if d.Conn == nil {
		nc, _, err := Connect(ctx, natsURL, "gtmhub-"+name, d.Logger)
		if err != nil {
			return Resolved{}, closeFn, err
		}
		d.Conn = nc
		closeFn = func() { _ = nc.Drain() }
	}
	js, err := jetstream.New(d.Conn)
	if err != nil {
		closeFn()
		return Resolved{}, func() {}, err
	}
	d.Health.Add("nats", NATSCheck(d.Conn))
	return Resolved{Deps: d, JS: js}, closeFn, nil
}

// ConsumerOptions are the options every service's consumer runner uses:
// logging, tracing and metrics from the resolved dependencies.
func (r Resolved) ConsumerOptions(extra ...events.ConsumerOption) []events.ConsumerOption {
	return append([]events.ConsumerOption{
		events.WithLogger(r.Logger),
		events.WithMetrics(r.Metrics),
		events.WithConsumerTracing(r.TracerProvider, r.Propagator),
		events.WithMiddleware(events.Tracing(r.TracerProvider, r.Propagator), events.Logging(r.Logger)),
	}, extra...)
}

// Publisher returns a publisher on the resolved JetStream with its tracing.
func (r Resolved) Publisher(opts ...events.PublisherOption) (*events.Publisher, error) {
	return events.NewPublisher(r.JS, append([]events.PublisherOption{
		events.WithTracerProvider(r.TracerProvider), events.WithPropagator(r.Propagator),
		events.WithPublishMetrics(r.Metrics)}, opts...)...)
}

// KeyValue creates or updates a service's KV bucket with the deployment's
// replica count, so its state survives the loss of a node like its streams.
// Timeouts while a cluster is busy electing leaders are retried for up to a
// minute.
func (r Resolved) KeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	cfg.Replicas = r.Replicas
	deadline := time.Now().Add(time.Minute)
	for attempt := 1; ; attempt++ {
		kv, err := r.JS.CreateOrUpdateKeyValue(ctx, cfg)
		if err == nil {
			return kv, nil
		}
		if !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil || time.Now().After(deadline) {
			return nil, fmt.Errorf("bucket %s: %w", cfg.Bucket, err)
		}
		r.Logger.Warn("create bucket: retrying", "bucket", cfg.Bucket, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("bucket %s: %w", cfg.Bucket, ctx.Err())
		case <-time.After(events.ExponentialBackoff(200*time.Millisecond, 5*time.Second)(attempt)):
		}
	}
}
