package ingest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
)

// BenchmarkWebhook measures POST /webhooks/form to the answer after the
// PubAck, next to a bare JetStream publish of the same body on the same
// server, so the cost of ingest itself can be read off.
func BenchmarkWebhook(b *testing.B) {
	srv := eventstest.RunServer(b)
	pub, err := events.NewPublisher(srv.JS)
	if err != nil {
		b.Fatal(err)
	}
	h, err := NewHandler(testConfig(), pub, nil)
	if err != nil {
		b.Fatal(err)
	}
	post := func(b *testing.B) {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/form", strings.NewReader(exampleLead))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusAccepted {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}

	b.Run("handler", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			post(b)
		}
	})
	b.Run("handler-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				post(b)
			}
		})
	})
	b.Run("jetstream-publish", func(b *testing.B) {
		b.ReportAllocs()
		data := []byte(exampleLead)
		for b.Loop() {
			if _, err := srv.JS.Publish(b.Context(), "gtm.leads.captured.bench", data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
