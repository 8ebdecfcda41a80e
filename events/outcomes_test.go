package events_test

import (
	"context"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
)

// TestConsumerOutcomesExportedFromTheStart: a new consumer's outcome
// counters, its replay companion's too, are on /metrics at zero before its
// first message, so that a rate over them counts the first dead letters.
func TestConsumerOutcomesExportedFromTheStart(t *testing.T) {
	srv := eventstest.RunServer(t)
	reg := prometheus.NewRegistry()
	m, err := events.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := events.DefaultTopology().Consumer("store")
	noop := func(context.Context, event.Event) error { return nil }
	if _, err := events.NewConsumer(srv.JS, spec, noop, events.WithMetrics(m)); err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	want.WriteString("# HELP gtmhub_consumer_messages_total Messages settled by each consumer, by outcome (acked, retried, dead_lettered, returned).\n")
	want.WriteString("# TYPE gtmhub_consumer_messages_total counter\n")
	for _, c := range []string{"store", "store-replay"} {
		for _, o := range []string{"acked", "dead_lettered", "retried", "returned"} {
			want.WriteString(`gtmhub_consumer_messages_total{consumer="` + c + `",outcome="` + o + `"} 0` + "\n")
		}
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want.String()), "gtmhub_consumer_messages_total"); err != nil {
		t.Error(err)
	}
}
