package events_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gtmhub/gtmhub/events"
)

// A CloudEvent travels in binary mode: attributes in percent-encoded ce-
// headers, data in the body, and its id as the JetStream de-duplication id.
func ExampleEncode() {
	ev := event.New()
	ev.SetID("lead-1")
	ev.SetSource("/gtmhub/ingest/form")
	ev.SetType("com.gtmhub.lead.captured")
	ev.SetSubject("Euro € 😀")
	_ = ev.SetData(event.ApplicationJSON, map[string]string{"email": "ada@example.com"})

	msg, _ := events.Encode("gtm.leads.captured.form", ev)
	fmt.Println(msg.Header.Get("ce-subject"))
	fmt.Println(msg.Header.Get("Nats-Msg-Id"))

	back, _ := events.Decode(msg.Header, msg.Data)
	fmt.Println(back.Subject(), string(back.Data()))
	// Output:
	// Euro%20%E2%82%AC%20%F0%9F%98%80
	// lead-1
	// Euro € 😀 {"email":"ada@example.com"}
}

// A handler's error decides the fate of its message.
func ExampleRetryAfter() {
	for _, err := range []error{
		nil,
		events.Permanent(errors.New("422 from provider")),
		events.RetryAfter(30*time.Second, errors.New("429 from provider")),
		errors.New("connection reset"),
	} {
		d, retryAfter := events.RetryDelay(err)
		fmt.Printf("permanent=%v retryAfter=%v delay=%v\n", events.IsPermanent(err), retryAfter, d)
	}
	// Output:
	// permanent=false retryAfter=false delay=0s
	// permanent=true retryAfter=false delay=0s
	// permanent=false retryAfter=true delay=30s
	// permanent=false retryAfter=false delay=0s
}

// A handler waiting on something slow reads its delivery to decide when to
// stop asking to be redelivered and go on without it: once it has waited
// long enough since the first delivery, or on the last delivery, after
// which a failure would be dead-lettered.
func ExampleDelivery() {
	handler := func(ctx context.Context, _ event.Event) error {
		d, _ := events.DeliveryFrom(ctx)
		if d.Last() || time.Since(d.FirstDelivered) > 10*time.Minute {
			fmt.Printf("attempt %d of %d: going on without the provider\n", d.Attempt, d.MaxDeliver)
			return nil
		}
		fmt.Printf("attempt %d of %d: asking again later\n", d.Attempt, d.MaxDeliver)
		return events.RetryAfter(time.Minute, errors.New("provider busy"))
	}

	// The Consumer runner sets the delivery; here it is set by hand.
	first := time.Now()
	for attempt := 1; attempt <= 3; attempt++ {
		ctx := events.WithDelivery(context.Background(),
			events.Delivery{Attempt: attempt, MaxDeliver: 3, FirstDelivered: first})
		_ = handler(ctx, event.New())
	}
	// Output:
	// attempt 1 of 3: asking again later
	// attempt 2 of 3: asking again later
	// attempt 3 of 3: going on without the provider
}
