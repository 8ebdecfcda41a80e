package events_test

import (
	"context"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
)

// TestTraceContinuesFromPublishToProcess: the process span is a CONSUMER
// child of the PRODUCER publish span, in the same trace, with messaging
// attributes.
func TestTraceContinuesFromPublishToProcess(t *testing.T) {
	srv := eventstest.RunServer(t)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	pub, err := events.NewPublisher(srv.JS, events.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	handled := make(chan trace.SpanContext, 1)
	runConsumer(t, srv, testSpec(3), func(ctx context.Context, _ event.Event) error {
		handled <- trace.SpanContextFromContext(ctx)
		return nil
	}, events.WithMiddleware(events.Tracing(tp, nil)))

	ctx, root := tp.Tracer("test").Start(context.Background(), "webhook")
	ev := eventstest.NewEvent(t, "com.gtmhub.lead.captured", nil)
	if err := pub.Publish(ctx, testSubject, ev); err != nil {
		t.Fatal(err)
	}
	root.End()
	var inHandler trace.SpanContext
	select {
	case inHandler = <-handled:
	case <-time.After(5 * time.Second):
		t.Fatal("not handled")
	}
	if inHandler.TraceID() != root.SpanContext().TraceID() {
		t.Fatalf("handler trace %s, want %s", inHandler.TraceID(), root.SpanContext().TraceID())
	}
	waitSettled(t, srv, "enrich-test")
	spans := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		spans[s.Name()] = s
	}
	publish, process := spans["publish "+testSubject], spans["process "+testSubject]
	if publish == nil || process == nil {
		t.Fatalf("spans %v", keys(spans))
	}
	if publish.SpanKind() != trace.SpanKindProducer || process.SpanKind() != trace.SpanKindConsumer {
		t.Errorf("kinds %v %v", publish.SpanKind(), process.SpanKind())
	}
	if process.Parent().SpanID() != publish.SpanContext().SpanID() {
		t.Errorf("process parent %s, want publish %s", process.Parent().SpanID(), publish.SpanContext().SpanID())
	}
	attrs := map[attribute.Key]string{}
	for _, a := range process.Attributes() {
		attrs[a.Key] = a.Value.Emit()
	}
	for k, v := range map[attribute.Key]string{"messaging.system": "nats", "messaging.destination.name": testSubject,
		"messaging.message.id": ev.ID(), "messaging.consumer.group.name": "enrich-test", "gtmhub.ack_decision": "ack",
		"messaging.nats.delivery_attempt": "1"} {
		if attrs[k] != v {
			t.Errorf("process span %s = %q, want %q", k, attrs[k], v)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
