package store

import (
	"context"
	"fmt"
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
