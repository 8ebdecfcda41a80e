package ingest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
	var n atomic.Int64
	post := func(b *testing.B) {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/form", strings.NewReader(exampleLead))
		req.Header.Set("Content-Type", "application/json")
		// A delivery id per request: the same body without one is a retry.
		req.Header.Set("Idempotency-Key", "bench-"+strconv.FormatInt(n.Add(1), 10))
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

// BenchmarkIngestHTTP measures POST /webhooks/form over real HTTP, from the
// request to the 202 sent after the JetStream PubAck, with concurrent
// keep-alive clients (parallelism × GOMAXPROCS of them, each with its own
// connection), and reports requests per second and the p50 and p99 latency.
func BenchmarkIngestHTTP(b *testing.B) {
	for _, parallelism := range []int{1, 4, 16} {
		b.Run("parallelism="+strconv.Itoa(parallelism), func(b *testing.B) {
			clients := parallelism * runtime.GOMAXPROCS(0)
			srv := eventstest.RunServer(b)
			pub, err := events.NewPublisher(srv.JS)
			if err != nil {
				b.Fatal(err)
			}
			h, err := NewHandler(testConfig(), pub, nil, WithConn(srv.Conn))
			if err != nil {
				b.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			served := make(chan error, 1)
			go func() { served <- serveHTTP(ctx, ln, h, 10*time.Second, slog.New(slog.DiscardHandler)) }()
			b.Cleanup(func() {
				cancel()
				if err := <-served; err != nil {
					b.Error(err)
				}
			})
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
			b.Cleanup(client.CloseIdleConnections)
			url := "http://" + ln.Addr().String() + "/webhooks/form"

			var n atomic.Int64
			var mu sync.Mutex
			var latencies []time.Duration
			b.SetParallelism(parallelism)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				var mine []time.Duration
				for pb.Next() {
					req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(exampleLead))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Idempotency-Key", "bench-"+strconv.FormatInt(n.Add(1), 10))
					t0 := time.Now()
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					mine = append(mine, time.Since(t0))
					if resp.StatusCode != http.StatusAccepted {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
				mu.Lock()
				latencies = append(latencies, mine...)
				mu.Unlock()
			})
			elapsed := time.Since(start)
			b.StopTimer()
			if len(latencies) == 0 {
				return
			}
			slices.Sort(latencies)
			b.ReportMetric(float64(clients), "clients")
			b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "req/s")
			b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds()), "p99-µs")
		})
	}
}
