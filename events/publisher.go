package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// Publisher publishes CloudEvents to JetStream. Publishes are asynchronous on
// the wire, so concurrent callers share one pipeline, but each call returns
// only once the stream has acknowledged (or refused) its event.
type Publisher struct {
	js      jetstream.JetStream
	sem     chan struct{}
	tel     telemetry
	metrics *Metrics
	timeout time.Duration
}

// PublisherOption configures a [Publisher].
type PublisherOption func(*publisherOptions)

type publisherOptions struct {
	maxPending int
	timeout    time.Duration
	metrics    *Metrics
	tp         trace.TracerProvider
	prop       propagation.TextMapPropagator
}

// WithMaxPending bounds the publishes awaiting a PubAck. Default 1024.
func WithMaxPending(n int) PublisherOption {
	return func(o *publisherOptions) { o.maxPending = n }
}

// WithPublishTimeout bounds the wait for a PubAck when the caller's context
// has no deadline of its own. An ack lost with a failed server would
// otherwise be waited for for ever; after the timeout the publish fails as
// retryable, and a retry is de-duplicated. Default 10s.
func WithPublishTimeout(d time.Duration) PublisherOption {
	return func(o *publisherOptions) { o.timeout = d }
}

// WithPublishMetrics records publish latency by stream in m.
func WithPublishMetrics(m *Metrics) PublisherOption {
	return func(o *publisherOptions) { o.metrics = m }
}

// WithTracerProvider sets the tracer provider of publish and process spans.
// Default: the global provider, a no-op unless the main configured one.
func WithTracerProvider(tp trace.TracerProvider) PublisherOption {
	return func(o *publisherOptions) { o.tp = tp }
}

// WithPropagator sets how trace context is written into events. Default:
// W3C trace context and baggage.
func WithPropagator(p propagation.TextMapPropagator) PublisherOption {
	return func(o *publisherOptions) { o.prop = p }
}

// NewPublisher returns a Publisher on js.
func NewPublisher(js jetstream.JetStream, opts ...PublisherOption) (*Publisher, error) {
	if js == nil {
		return nil, errors.New("events: nil JetStream")
	}
	o := publisherOptions{maxPending: 1024, timeout: 10 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	if o.maxPending < 1 {
		return nil, fmt.Errorf("events: max pending %d < 1", o.maxPending)
	}
	return &Publisher{js: js, sem: make(chan struct{}, o.maxPending), tel: newTelemetry(o.tp, o.prop), metrics: o.metrics,
		timeout: o.timeout}, nil
}

// Publish stores ev on subject and returns after the PubAck. The event's id
// is its Nats-Msg-Id, so publishing the same event again within the stream's
// duplicate window stores it once and still succeeds. ctx's trace context is
// recorded in the event's traceparent extension. A failure is a
// *[PublishError] that says whether a retry is safe.
func (p *Publisher) Publish(ctx context.Context, subject string, ev event.Event) error {
	_, err := p.PublishAck(ctx, subject, ev)
	return err
}

// PublishAck is [Publisher.Publish] returning the PubAck.
func (p *Publisher) PublishAck(ctx context.Context, subject string, ev event.Event) (*jetstream.PubAck, error) {
	ctx, span := p.tel.tracer.Start(ctx, "publish "+subject,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(messagingAttrs(subject, ev.ID())...),
		trace.WithAttributes(semconv.MessagingOperationTypeSend))
	defer span.End()

	// The trace context goes on a copy of the attributes; the data is
	// shared, as nothing here writes to it.
	ev.Context = ev.Context.Clone()
	InjectTrace(ctx, p.tel.propagator, &ev)
	markReplay(ctx, &ev)
	msg, err := Encode(subject, ev)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return nil, &PublishError{Subject: subject, Err: err}
	}
	ack, err := p.PublishMsg(ctx, msg)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return nil, err
	}
	return ack, nil
}

// PublishMsg publishes an already encoded message, keeping its headers, and
// returns after the PubAck. It is used to dead-letter, redrive and replay
// messages verbatim.
func (p *Publisher) PublishMsg(ctx context.Context, msg *nats.Msg) (ack *jetstream.PubAck, err error) {
	start := time.Now()
	defer func() { p.metrics.published(msg.Subject, time.Since(start), err) }()
	if _, ok := ctx.Deadline(); !ok && p.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.timeout)
		defer cancel()
	}
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, &PublishError{Subject: msg.Subject, Retryable: true, Err: ctx.Err()}
	}
	defer func() { <-p.sem }()

	f, err := p.js.PublishMsgAsync(msg)
	if err != nil {
		return nil, &PublishError{Subject: msg.Subject, Retryable: retryablePublish(err), Err: err}
	}
	select {
	case ack := <-f.Ok():
		return ack, nil
	case err := <-f.Err():
		return nil, &PublishError{Subject: msg.Subject, Retryable: retryablePublish(err), Err: err}
	case <-ctx.Done():
		// The message may still be stored; a retry is deduplicated by Nats-Msg-Id.
		return nil, &PublishError{Subject: msg.Subject, Retryable: true, Err: ctx.Err()}
	}
}

// retryablePublish separates transient failures (no responders while a
// leader is elected, timeouts, a closed or reconnecting connection) from
// refusals that will not change (no stream for the subject, a message too big).
func retryablePublish(err error) bool {
	var apiErr *jetstream.APIError
	switch {
	case errors.Is(err, jetstream.ErrNoStreamResponse),
		errors.Is(err, nats.ErrNoResponders),
		errors.Is(err, nats.ErrTimeout),
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, jetstream.ErrAsyncPublishTimeout),
		errors.Is(err, jetstream.ErrTooManyStalledMsgs),
		errors.Is(err, nats.ErrConnectionClosed),
		errors.Is(err, nats.ErrConnectionReconnecting),
		errors.Is(err, nats.ErrDisconnected):
		return true
	case errors.Is(err, nats.ErrMaxPayload):
		return false
	case errors.As(err, &apiErr):
		return apiErr.Code >= 500
	}
	return false
}

// markReplay carries the replay marker from the event being handled to the
// events derived from it, so a replay stays a replay all the way down.
func markReplay(ctx context.Context, ev *event.Event) {
	d, ok := DeliveryFrom(ctx)
	if !ok || !d.Replay {
		return
	}
	ev.SetExtension(ExtensionReplay, "true")
	if d.SideEffects {
		ev.SetExtension(ExtensionSideEffects, "true")
	}
}
