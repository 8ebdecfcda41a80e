package store

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gtmhub/gtmhub/contracts"
)

// discard is a publisher that drops everything.
type discard struct{}

func (discard) Publish(context.Context, string, event.Event) error { return nil }

// BenchmarkUpsert measures handling one enriched lead end to end on the
// database: decode and validate, the transaction with its provenance and
// outbox entry, and removing the entry after the (discarded) publish.
func BenchmarkUpsert(b *testing.B) {
	ctx := context.Background()
	lead := func(i int) contracts.LeadEnriched {
		l := adaLead(func(l *contracts.Lead) {
			l.Email = fmt.Sprintf("lead%d@example.com", i)
			l.FirstName, l.LastName, l.Title, l.Domain = "Ada", "Lovelace", fmt.Sprintf("Title %d", i), "example.com"
			l.SignalScore = ptr(float64(i % 100))
		})
		l.Enrichment.Company = &contracts.Company{Name: "Acme Inc", Employees: ptr(i)}
		return l
	}
	cases := []struct {
		name string
		ev   func(i int) event.Event
	}{
		{"new contacts", func(i int) event.Event {
			return enriched(b, fmt.Sprint("e", i), t0, lead(i))
		}},
		{"updates of one contact", func(i int) event.Event {
			l := lead(i)
			l.Email = "ada@example.com"
			return enriched(b, fmt.Sprint("e", i), t0.Add(time.Duration(i)*time.Second), l)
		}},
		{"redeliveries", func(int) event.Event {
			return enriched(b, "e0", t0, lead(0))
		}},
	}
	for _, bk := range testBackends {
		for _, c := range cases {
			b.Run(bk.name+"/"+c.name, func(b *testing.B) {
				w := newTestWriter(bk.open(b), discard{})
				i := 0
				for b.Loop() {
					if err := w.handle(ctx, c.ev(i)); err != nil {
						b.Fatal(err)
					}
					i++
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

// BenchmarkUpsertUnderLoad handles new leads from many goroutines at once,
// as the consumer's workers do, each event in a transaction of its own or
// batched by group commit as Run does.
func BenchmarkUpsertUnderLoad(b *testing.B) {
	for _, bk := range testBackends {
		for _, batched := range []bool{false, true} {
			name := bk.name + "/one transaction per event"
			if batched {
				name = bk.name + "/batched"
			}
			b.Run(name, func(b *testing.B) {
				s := bk.open(b)
				w := newTestWriter(s, discard{})
				if batched {
					ctx, cancel := context.WithCancel(context.Background())
					batches := newBatcher(s, maxBatch, slog.New(slog.DiscardHandler))
					done := make(chan struct{})
					go func() { batches.run(ctx, s.writers); close(done) }()
					defer func() { cancel(); <-done }()
					w.store, w.relay.store = batches, batches
				}
				var n atomic.Int64
				b.SetParallelism(8)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						i := n.Add(1)
						l := adaLead(func(l *contracts.Lead) {
							l.Email, l.FirstName, l.Domain = fmt.Sprintf("lead%d@example.com", i), "Ada", "example.com"
							l.SignalScore = ptr(float64(i % 100))
						})
						if err := w.handle(context.Background(), enriched(b, fmt.Sprint("e", i), t0, l)); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "upserts/s")
			})
		}
	}
}

// BenchmarkProvenance writes and reads a contact's provenance column as a
// write does: the fields of a lead, set by two events.
func BenchmarkProvenance(b *testing.B) {
	at := time.Date(2026, 12, 7, 17, 16, 58, 116887023, time.UTC)
	prov := map[string]contracts.Provenance{}
	for _, c := range contactSchema.fields {
		prov[c.name] = contracts.Provenance{Source: "form", EventID: "11738545-bb93-562b-82cf-fb25f6ba9dca", At: at}
	}
	for _, f := range []string{"signal_score", "intent_score", "fit_score"} {
		prov[f] = contracts.Provenance{Source: "enrich", EventID: "7e4ad016-1307-5776-b21f-e927fcb28af8", At: at.Add(time.Second)}
	}
	doc := encodeProvenance(prov)
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if encodeProvenance(prov) != doc {
				b.Fatal("encoded differently")
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := decodeProvenance(doc, make(map[string]contracts.Provenance, len(prov))); err != nil {
				b.Fatal(err)
			}
		}
	})
}
