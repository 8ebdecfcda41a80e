package service

import (
	"context"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gtmhub/gtmhub/events"
)

// ConsumerCollector exports JetStream's own view of every declared consumer
// at scrape time: messages pending, delivered but unacknowledged, and
// redelivered. Pending above the seed's 1000 is the queue-depth alert.
type ConsumerCollector struct {
	js                           jetstream.JetStream
	specs                        []events.ConsumerSpec
	pending, ackPending, redeliv *prometheus.Desc
}

// NewConsumerCollector collects for the consumers of the default topology:
// those of the given services only (a standalone service, whose NATS user
// may read no other's state), or every one when none is named.
func NewConsumerCollector(js jetstream.JetStream, services ...string) *ConsumerCollector {
	specs := events.DefaultTopology().Consumers
	if len(services) > 0 {
		specs = slices.DeleteFunc(slices.Clone(specs), func(s events.ConsumerSpec) bool {
			return !slices.Contains(services, s.Service)
		})
	}
	labels := []string{"stream", "consumer"}
	return &ConsumerCollector{js: js, specs: specs,
		pending:    prometheus.NewDesc("gtmhub_jetstream_consumer_pending", "Messages not yet delivered to the consumer.", labels, nil),
		ackPending: prometheus.NewDesc("gtmhub_jetstream_consumer_ack_pending", "Messages delivered and not yet acknowledged.", labels, nil),
		redeliv:    prometheus.NewDesc("gtmhub_jetstream_consumer_redelivered", "Messages being redelivered.", labels, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *ConsumerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.ackPending
	ch <- c.redeliv
}

// Collect implements prometheus.Collector. Consumers that cannot be read
// (not created yet, server away) are left out of the scrape.
func (c *ConsumerCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, s := range c.specs {
		cons, err := c.js.Consumer(ctx, s.Stream, s.Durable)
		if err != nil {
			continue
		}
		info, err := cons.Info(ctx)
		if err != nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(info.NumPending), s.Stream, s.Durable)
		ch <- prometheus.MustNewConstMetric(c.ackPending, prometheus.GaugeValue, float64(info.NumAckPending), s.Stream, s.Durable)
		ch <- prometheus.MustNewConstMetric(c.redeliv, prometheus.GaugeValue, float64(info.NumRedelivered), s.Stream, s.Durable)
	}
}
