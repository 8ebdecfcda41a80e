package events

import (
	"context"
	"time"
)

// Delivery describes the JetStream delivery a handler is processing.
type Delivery struct {
	Service   string
	Consumer  string
	Stream    string
	Subject   string
	Sequence  uint64    // stream sequence
	Attempt   int       // 1 on first delivery
	Published time.Time // when the stream stored the message
	// Replay is set for an event re-delivered by a replay (directly or
	// through an event derived from one); Subject is then the original subject.
	Replay bool
	// SideEffects is set when the replay asked for side effects to happen.
	SideEffects bool
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
