package events

import (
	"context"
	"sync"
	"time"
)

// Delivery describes the JetStream delivery a handler is processing.
type Delivery struct {
	Service  string
	Consumer string
	Stream   string
	Subject  string
	Sequence uint64 // stream sequence
	Attempt  int    // 1 on first delivery
	// MaxDeliver is the consumer's limit on deliveries: when the handler
	// fails the delivery that reaches it, the message is dead-lettered
	// rather than delivered again. 0 when unknown.
	MaxDeliver int
	Published  time.Time // when the stream stored the message
	// FirstDelivered is when the message was first delivered, as far as
	// the runner knows: when it began the first delivery, which it
	// remembers while the message keeps failing, or, for a redelivery it
	// has no memory of (another instance had the message, or this one has
	// restarted since), when the stream stored the message.
	FirstDelivered time.Time
	// RetryUntil is, for a consumer with a RetryFor, FirstDelivered plus
	// it: until then a failed delivery is retried even past MaxDeliver.
	// Zero for none.
	RetryUntil time.Time
	// Replay is set for an event re-delivered by a replay (directly or
	// through an event derived from one); Subject is then the original subject.
	Replay bool
	// SideEffects is set when the replay asked for side effects to happen.
	SideEffects bool
}

// Last reports whether this is the message's last delivery: if the handler
// fails it, the message is dead-lettered. It is false when MaxDeliver is
// unknown, and before RetryUntil.
func (d Delivery) Last() bool {
	return d.MaxDeliver > 0 && d.Attempt >= d.MaxDeliver && !time.Now().Before(d.RetryUntil)
}

type deliveryKey struct{}

// WithDelivery returns ctx carrying d.
func WithDelivery(ctx context.Context, d Delivery) context.Context {
	return context.WithValue(ctx, deliveryKey{}, d)
}

// DeliveryFrom returns the delivery carried by ctx, set by the [Consumer]
// runner before it calls the handler chain.
func DeliveryFrom(ctx context.Context) (Delivery, bool) {
	d, ok := ctx.Value(deliveryKey{}).(Delivery)
	return d, ok
}

// deliveryLog remembers, for each message that failed and will be
// delivered again, when it was first delivered and when it first failed:
// handlers see the first as [Delivery.FirstDelivered], and a dead letter
// says how long the message was retried. It lives in memory: after a
// restart, a redelivery counts from when the stream stored it, and the
// first failure seen is the first one recorded.
type deliveryLog struct {
	mu sync.Mutex
	m  map[messageKey]deliveryRecord
}

// messageKey is a message's place. A runner reads two streams, its
// consumer's and REPLAY, whose sequences overlap.
type messageKey struct {
	stream string
	seq    uint64
}

func keyOf(d Delivery) messageKey { return messageKey{d.Stream, d.Sequence} }

// deliveryRecord is what the log knows of one message.
type deliveryRecord struct{ delivered, failed time.Time }

// deliveryLogCap bounds the messages remembered; past it, the log starts
// afresh.
const deliveryLogCap = 100_000

func newDeliveryLog() *deliveryLog { return &deliveryLog{m: make(map[messageKey]deliveryRecord)} }

// firstDelivered returns when the message of delivery d, begun at now, was
// first delivered: now for a first delivery, else when it was first
// delivered to this runner, else when the stream stored it.
func (l *deliveryLog) firstDelivered(d Delivery, now time.Time) time.Time {
	if d.Attempt <= 1 {
		return now
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if r, ok := l.m[keyOf(d)]; ok {
		return r.delivered
	}
	return d.Published
}

// failed records that delivery d failed at now. A message's first failure
// is kept across its redeliveries; a first delivery starts afresh.
func (l *deliveryLog) failed(d Delivery, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := keyOf(d)
	if _, ok := l.m[key]; ok && d.Attempt > 1 {
		return
	}
	if len(l.m) >= deliveryLogCap {
		clear(l.m)
	}
	l.m[key] = deliveryRecord{delivered: d.FirstDelivered, failed: now}
}

// firstFailure returns when the message of delivery d first failed, or
// fallback when the log does not know.
func (l *deliveryLog) firstFailure(d Delivery, fallback time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r, ok := l.m[keyOf(d)]; ok {
		return r.failed
	}
	return fallback
}

// forget drops the message of delivery d, settled for good.
func (l *deliveryLog) forget(d Delivery) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, keyOf(d))
}
