package service_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
)

func TestConsumerCollectorReportsPending(t *testing.T) {
	srv := eventstest.RunServer(t)
	for range 3 {
		srv.Publish(t, events.SubjectLeadsEnriched, eventstest.NewEvent(t, "com.gtmhub.lead.enriched", nil))
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(service.NewConsumerCollector(srv.JS))
	want := "# HELP gtmhub_jetstream_consumer_pending Messages not yet delivered to the consumer.\n" +
		"# TYPE gtmhub_jetstream_consumer_pending gauge\n"
	for _, c := range events.DefaultTopology().Consumers {
		pending := 0
		if c.Durable == "store" {
			pending = 3
		}
		want += fmt.Sprintf("gtmhub_jetstream_consumer_pending{consumer=%q,stream=%q} %d\n", c.Durable, c.Stream, pending)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gtmhub_jetstream_consumer_pending")
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConsumerCollectorOfOneService: a service's collector reads its own
// consumers only, whose state its NATS user may read.
func TestConsumerCollectorOfOneService(t *testing.T) {
	srv := eventstest.RunServer(t)
	reg := prometheus.NewRegistry()
	reg.MustRegister(service.NewConsumerCollector(srv.JS, "store"))
	want := "# HELP gtmhub_jetstream_consumer_pending Messages not yet delivered to the consumer.\n" +
		"# TYPE gtmhub_jetstream_consumer_pending gauge\n" +
		"gtmhub_jetstream_consumer_pending{consumer=\"store\",stream=\"LEADS\"} 0\n"
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gtmhub_jetstream_consumer_pending"); err != nil {
		t.Error(err)
	}
}
