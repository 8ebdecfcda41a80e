package replay_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/tools/internal/replay"
)

// fill stores n enriched-lead events in LEADS as fast as async publish allows.
func fill(b *testing.B, srv *eventstest.Server, n int) {
	b.Helper()
	ev := eventstest.NewEvent(b, "com.gtmhub.lead.enriched", map[string]string{"email": "ada@example.com", "company": "Example Inc"})
	for i := range n {
		e := ev.Clone()
		e.SetID(ev.ID() + "-" + string(rune('a'+i%26)) + itoa(i))
		msg, err := events.Encode(events.SubjectLeadsEnriched, e)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := srv.JS.PublishMsgAsync(msg); err != nil {
			b.Fatal(err)
		}
	}
	<-srv.JS.PublishAsyncComplete()
}

func itoa(i int) string {
	var buf [20]byte
	p := len(buf)
	for {
		p--
		buf[p] = byte('0' + i%10)
		if i /= 10; i == 0 {
			return string(buf[p:])
		}
	}
}

// BenchmarkReplayVsRawConsume reads the same events with a raw ordered
// consumer and with a replay to a consumer, on the same server, so the two
// rates can be compared: events/s is reported for each.
func BenchmarkReplayVsRawConsume(b *testing.B) {
	b.Run("raw-consume", func(b *testing.B) {
		srv := eventstest.RunServer(b)
		fill(b, srv, b.N)
		b.ResetTimer()
		start := time.Now()
		cons, err := srv.JS.OrderedConsumer(context.Background(), events.StreamLeads, jetstream.OrderedConsumerConfig{})
		if err != nil {
			b.Fatal(err)
		}
		for got := 0; got < b.N; {
			batch, err := cons.Fetch(512, jetstream.FetchMaxWait(time.Second))
			if err != nil {
				b.Fatal(err)
			}
			for range batch.Messages() {
				got++
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	})
	b.Run("replay", func(b *testing.B) {
		srv := eventstest.RunServer(b)
		fill(b, srv, b.N)
		if err := service.EnsureTopology(context.Background(), srv.JS, 1); err != nil {
			b.Fatal(err)
		}
		replayReader(b, srv, "store")
		r, err := replay.New(context.Background(), srv.JS)
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		start := time.Now()
		cp, err := r.Start(context.Background(), replay.Spec{To: "store", Since: time.Now().Add(-time.Hour)}, nil)
		if err != nil || cp.Replayed != uint64(b.N) {
			b.Fatalf("%+v %v", cp, err)
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	})
}
