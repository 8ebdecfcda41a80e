package events

import (
	"context"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// Tracing starts a "process {subject}" CONSUMER span for each event,
// continuing the trace recorded in the event by its publisher, and records
// the handler's error and the resulting ack decision on it. Nil tp or p
// select the global provider and W3C trace context with baggage.
func Tracing(tp trace.TracerProvider, p propagation.TextMapPropagator) Middleware {
	tel := newTelemetry(tp, p)
	return func(next Handler) Handler {
		return func(ctx context.Context, ev event.Event) error {
			d, _ := DeliveryFrom(ctx)
			parent := ExtractTrace(ctx, tel.propagator, ev)
			ctx, span := tel.tracer.Start(parent, "process "+d.Subject,
				trace.WithSpanKind(trace.SpanKindConsumer),
				trace.WithLinks(trace.LinkFromContext(parent)),
				trace.WithAttributes(messagingAttrs(d.Subject, ev.ID())...),
				trace.WithAttributes(semconv.MessagingOperationTypeProcess,
					semconv.MessagingConsumerGroupName(d.Consumer),
					attribute.Int("messaging.nats.delivery_attempt", d.Attempt),
					attribute.Int64("messaging.nats.stream_sequence", int64(d.Sequence)),
					attribute.String("cloudevents.event_type", ev.Type())))
			defer span.End()
			err := next(ctx, ev)
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, Redact(err.Error()))
			}
			span.SetAttributes(attribute.String("gtmhub.ack_decision", decision(err)))
			return err
		}
	}
}

// decision names what the runner will do with a handler result.
func decision(err error) string {
	switch {
	case err == nil:
		return "ack"
	case IsPermanent(err):
		return "dead_letter"
	}
	if _, ok := RetryDelay(err); ok {
		return "retry_after"
	}
	return "retry"
}
