// Package events moves gtmhub's CloudEvents over NATS JetStream without
// losing or doubling them.
//
// It owns everything about transport so that services only decide what to do
// with an event:
//
//   - the CloudEvents NATS protocol binding (binary mode with percent-encoded
//     ce- headers, structured mode when the content type says so), in
//     [Encode] and [Decode];
//   - the stream and consumer topology, created idempotently by [EnsureTopology];
//   - a [Publisher] that sets Nats-Msg-Id to the CloudEvent id, injects the
//     trace context and reports success only after the PubAck;
//   - a [Consumer] runner that turns a [Handler]'s returned error into the
//     acknowledgement decision: nil acks, [Permanent] dead-letters at once,
//     [RetryAfter] naks with the given delay, anything else naks with
//     exponential backoff until MaxDeliver (and a consumer's RetryFor after
//     the first delivery, when it has one) and then dead-letters;
//   - the [Delivery] a handler is processing, from [DeliveryFrom]: its
//     attempt, whether it is the last ([Delivery.Last]), and when the
//     message was first delivered, so that handlers need not keep count;
//   - [Middleware] for tracing, logging, metrics, timeouts and panics, and a
//     per-destination [Breakers] set over sony/gobreaker.
package events
