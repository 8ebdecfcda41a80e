package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/service"
)

// Serve serves ingest on ln, which it closes, until ctx is cancelled. It
// connects to NATS unless deps has a connection, registers the readiness
// check "ingest-streams" (LEADS, RAW and QUARANTINE exist), and traces every
// request with deps.TracerProvider. On cancellation it stops accepting
// connections and waits, up to cfg.ShutdownTimeout, for the requests in
// flight, each of which waits for its PubAck, before it returns. Whether
// POST /events is open without a token is judged by the address ln is
// bound to, which replaces cfg.HTTPAddr.
func Serve(ctx context.Context, ln net.Listener, cfg Config, deps service.Deps) error {
	if a, ok := ln.Addr().(*net.TCPAddr); ok {
		// Whether POST /events is open without a token depends on where
		// requests can come from: ln's own address, not the configured one.
		cfg.HTTPAddr = a.String()
	}
	b, err := cfg.prepare()
	if err != nil {
		_ = ln.Close()
		return err
	}
	r, closeNATS, err := deps.Resolve(ctx, cfg.NATSURL, "ingest")
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("ingest: %w", err)
	}
	defer closeNATS()
	r.Health.Add("ingest-streams", service.StreamsCheck(r.JS, events.StreamLeads, events.StreamRaw, events.StreamQuarantine))
	defer r.KeepCredentialsSeen(ctx, "ingest", cfg.credentials(os.LookupEnv), 0)()

	pub, err := r.Publisher(events.WithMaxPending(cfg.MaxInFlight))
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("ingest: %w", err)
	}
	h, err := newAPI(cfg, b, pub, r.Logger, WithConn(r.Conn), WithRegistry(r.Registry))
	if err != nil {
		_ = ln.Close()
		return err
	}
	h = traced(h, r.TracerProvider, r.Propagator)

	scheme := "http"
	if b.cert != nil {
		// The certificate loaded with the configuration; it is loaded again
		// only when its files change.
		ln, scheme = tls.NewListener(ln, tlsConfig(b.cert)), "https"
	}
	r.Logger.Info("ingest listening", "addr", ln.Addr().String(), "scheme", scheme, "sources", cfg.sourceNames())
	return serveHTTP(ctx, ln, h, cfg.ShutdownTimeout, r.Logger)
}

// traced gives each request a server span of tp, continuing the caller's
// trace. When tp records nothing, the request's context only takes the
// caller's trace context, which the events it publishes carry on: the
// instrumentation would cost a tenth of a webhook's CPU for nothing.
func traced(h http.Handler, tp trace.TracerProvider, prop propagation.TextMapPropagator) http.Handler {
	if !service.Records(tp) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r.WithContext(prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))))
		})
	}
	return otelhttp.NewHandler(h, "ingest",
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(prop),
		otelhttp.WithSpanNameFormatter(spanName))
}

// spanName names a request's span after its route, such as
// "POST /webhooks/{source}", once the mux has matched it.
func spanName(operation string, r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	return operation + " " + r.Method
}

// serveHTTP serves h on ln until ctx is cancelled, then shuts down
// gracefully within timeout.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler, timeout time.Duration, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("ingest: serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("ingest shutting down: finishing requests in flight")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("ingest: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("ingest: serve: %w", err)
	}
	return nil
}
