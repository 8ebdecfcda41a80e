package events_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
)

func BenchmarkEncode(b *testing.B) {
	ev := sampleEvent(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := events.Encode(testSubject, ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	msg, err := events.Encode(testSubject, sampleEvent(b))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := events.Decode(msg.Header, msg.Data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublish compares the Publisher with raw JetStream async publish
// of the same encoded message on the same server.
func BenchmarkPublish(b *testing.B) {
	for _, mode := range []string{"raw-jetstream", "publisher"} {
		b.Run(mode, func(b *testing.B) {
			srv := eventstest.RunServer(b)
			pub, err := events.NewPublisher(srv.JS)
			if err != nil {
				b.Fatal(err)
			}
			evs := make([]event.Event, b.N)
			for i := range evs {
				evs[i] = eventstest.NewEvent(b, "com.gtmhub.lead.captured", map[string]string{"email": fmt.Sprintf("lead%d@example.com", i)})
			}
			b.ReportAllocs()
			b.ResetTimer()
			if mode == "raw-jetstream" {
				rawPublish(b, srv.JS, evs)
				return
			}
			var wg sync.WaitGroup
			sem := make(chan struct{}, 256)
			for _, ev := range evs {
				sem <- struct{}{}
				wg.Go(func() {
					defer func() { <-sem }()
					if err := pub.Publish(context.Background(), testSubject, ev); err != nil {
						b.Error(err)
					}
				})
			}
			wg.Wait()
		})
	}
}

func rawPublish(b *testing.B, js jetstream.JetStream, evs []event.Event) {
	for _, ev := range evs {
		msg, err := events.Encode(testSubject, ev)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := js.PublishMsgAsync(msg); err != nil {
			b.Fatal(err)
		}
	}
	<-js.PublishAsyncComplete()
}

// BenchmarkConsume measures the runner end to end: fetch, decode, handler,
// ack, for b.N events already in the stream.
func BenchmarkConsume(b *testing.B) {
	srv := eventstest.RunServer(b)
	for i := range b.N {
		srv.Publish(b, testSubject, eventstest.NewEvent(b, "com.gtmhub.lead.captured", map[string]int{"n": i}))
	}
	var wg sync.WaitGroup
	wg.Add(b.N)
	var once sync.Map
	h := func(_ context.Context, ev event.Event) error {
		if _, dup := once.LoadOrStore(ev.ID(), true); !dup {
			wg.Done()
		}
		return nil
	}
	c, err := events.NewConsumer(srv.JS, testSpec(5), h, events.WithConcurrency(8), events.WithBatch(256))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	b.ResetTimer()
	go func() { _ = c.Run(ctx) }()
	wg.Wait()
}
