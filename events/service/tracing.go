package service

import (
	"context"
	"errors"
	"fmt"
	"os"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Tracing is the tracer provider and propagator a process hands to its
// services, and the flush to run at exit.
type Tracing struct {
	Provider   trace.TracerProvider
	Propagator propagation.TextMapPropagator
	Shutdown   func(context.Context) error
}

// SetupTracing exports spans over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT
// or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (the exporter reads the other
// standard OTEL_* variables itself), with service.name "gtmhub-<name>"
// unless OTEL_SERVICE_NAME says otherwise, and a batch span processor.
// Without an endpoint it returns the no-op provider: no overhead.
func SetupTracing(ctx context.Context, name string) (Tracing, error) {
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return Tracing{Provider: noop.NewTracerProvider(), Propagator: prop,
			Shutdown: func(context.Context) error { return nil }}, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return Tracing{}, fmt.Errorf("otlp exporter: %w", err)
	}
	serviceName := Env("gtmhub-"+name, "OTEL_SERVICE_NAME")
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName(serviceName)))
	if err != nil && !errors.Is(err, resource.ErrSchemaURLConflict) {
		return Tracing{}, fmt.Errorf("otel resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return Tracing{Provider: tp, Propagator: prop, Shutdown: tp.Shutdown}, nil
}

// Records reports whether tp records spans: false for the no-op provider
// that SetupTracing returns without an endpoint. HTTP instrumentation is
// then left out, since it would still build every request's span and
// metric attributes only to drop them.
func Records(tp trace.TracerProvider) bool {
	_, isNoop := tp.(noop.TracerProvider)
	return !isNoop
}
