package events

import (
	"context"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

const instrumentationName = "github.com/gtmhub/gtmhub/events"

// eventCarrier lets a TextMapPropagator read and write the CloudEvents
// distributed-tracing extensions (traceparent, tracestate, baggage).
type eventCarrier struct{ ev *event.Event }

func (c eventCarrier) Get(key string) string {
	v, ok := c.ev.Extensions()[key]
	if !ok {
		return ""
	}
	s, _ := v.(string)
	return s
}

func (c eventCarrier) Set(key, value string) { c.ev.SetExtension(key, value) }

func (c eventCarrier) Keys() []string {
	keys := make([]string, 0, len(c.ev.Extensions()))
	for k := range c.ev.Extensions() {
		keys = append(keys, k)
	}
	return keys
}

// InjectTrace writes ctx's trace context into ev's traceparent/tracestate
// extensions.
func InjectTrace(ctx context.Context, p propagation.TextMapPropagator, ev *event.Event) {
	p.Inject(ctx, eventCarrier{ev})
}

// ExtractTrace returns ctx carrying the trace context stored in ev.
func ExtractTrace(ctx context.Context, p propagation.TextMapPropagator, ev event.Event) context.Context {
	return p.Extract(ctx, eventCarrier{&ev})
}

// TraceID returns the trace id recorded in ev's traceparent extension, or "".
func TraceID(ev event.Event) string {
	sc := trace.SpanContextFromContext(ExtractTrace(context.Background(), propagation.TraceContext{}, ev))
	if !sc.TraceID().IsValid() {
		return ""
	}
	return sc.TraceID().String()
}

type telemetry struct {
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
}

func newTelemetry(tp trace.TracerProvider, p propagation.TextMapPropagator) telemetry {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if p == nil {
		p = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	return telemetry{tracer: tp.Tracer(instrumentationName), propagator: p}
}

func messagingAttrs(subject, id string) []attribute.KeyValue {
	return []attribute.KeyValue{
		semconv.MessagingSystemKey.String("nats"),
		semconv.MessagingDestinationName(subject),
		semconv.MessagingMessageID(id),
	}
}
