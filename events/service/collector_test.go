package service_test

import (
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
	want := `
# HELP gtmhub_jetstream_consumer_pending Messages not yet delivered to the consumer.
# TYPE gtmhub_jetstream_consumer_pending gauge
gtmhub_jetstream_consumer_pending{consumer="enrich",stream="LEADS"} 0
gtmhub_jetstream_consumer_pending{consumer="notify",stream="RECORDS"} 0
gtmhub_jetstream_consumer_pending{consumer="store",stream="LEADS"} 3
`
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
