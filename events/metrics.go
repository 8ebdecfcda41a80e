package events

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Consumer outcomes recorded by [Metrics].
const (
	outcomeAcked        = "acked"
	outcomeRetried      = "retried"
	outcomeDeadLettered = "dead_lettered"
	outcomeReturned     = "returned" // handed back on shutdown
)

// Metrics are the Prometheus collectors of consumers and breakers. Create one
// per registry and share it between consumers; a nil *Metrics records nothing.
type Metrics struct {
	messages *prometheus.CounterVec
	handler  *prometheus.HistogramVec
	age      *prometheus.HistogramVec
	breaker  *prometheus.GaugeVec
	publish  *prometheus.HistogramVec
	// streams are the subject prefixes of the topology's streams, which
	// name the stream of a published subject.
	streams []streamPrefix
}

// streamPrefix is the subjects of one stream: those that start with prefix.
type streamPrefix struct{ prefix, stream string }

// NewMetrics registers the collectors with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gtmhub", Subsystem: "consumer", Name: "messages_total",
			Help: "Messages settled by each consumer, by outcome (acked, retried, dead_lettered, returned).",
		}, []string{"consumer", "outcome"}),
		handler: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "gtmhub", Subsystem: "consumer", Name: "handler_seconds",
			Help:    "Time spent in each consumer's handler.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"consumer"}),
		age: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "gtmhub", Subsystem: "consumer", Name: "event_age_seconds",
			Help:    "End-to-end latency per stage: time from the event's time to the end of its successful handling.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 20),
		}, []string{"consumer"}),
		publish: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "gtmhub", Subsystem: "publish", Name: "seconds",
			Help:    "Time from publish to PubAck, by stream and outcome (ok, error).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}, []string{"stream", "outcome"}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "gtmhub", Subsystem: "breaker", Name: "state",
			Help: "Circuit breaker state per destination: 0 closed, 1 half-open, 2 open.",
		}, []string{"destination"}),
	}
	for _, st := range DefaultTopology().Streams {
		for _, f := range st.Subjects {
			if p, ok := strings.CutSuffix(f, ">"); ok {
				m.streams = append(m.streams, streamPrefix{prefix: p, stream: st.Name})
			}
		}
	}
	for _, c := range []prometheus.Collector{m.messages, m.handler, m.age, m.breaker, m.publish} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// declare exports the outcome counters of consumers at zero, so that a
// rate or increase over them counts their first events too: Prometheus
// cannot tell how much a series that appears already at 3 grew.
func (m *Metrics) declare(consumers ...string) {
	if m == nil {
		return
	}
	for _, c := range consumers {
		for _, o := range []string{outcomeAcked, outcomeRetried, outcomeDeadLettered, outcomeReturned} {
			m.messages.WithLabelValues(c, o)
		}
	}
}

func (m *Metrics) outcome(consumer, outcome string) {
	if m != nil {
		m.messages.WithLabelValues(consumer, outcome).Inc()
	}
}

func (m *Metrics) handled(consumer string, d time.Duration) {
	if m != nil {
		m.handler.WithLabelValues(consumer).Observe(d.Seconds())
	}
}

func (m *Metrics) breakerState(dest string, state int) {
	if m != nil {
		m.breaker.WithLabelValues(dest).Set(float64(state))
	}
}

func (m *Metrics) eventAge(consumer string, eventTime time.Time) {
	if m != nil && !eventTime.IsZero() {
		m.age.WithLabelValues(consumer).Observe(time.Since(eventTime).Seconds())
	}
}

func (m *Metrics) published(subject string, d time.Duration, err error) {
	if m == nil {
		return
	}
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.publish.WithLabelValues(m.streamOf(subject), outcome).Observe(d.Seconds())
}

// streamOf names the stream of a gtm.* subject for metric labels, keeping
// their cardinality to the few streams.
func (m *Metrics) streamOf(subject string) string {
	for _, s := range m.streams {
		if strings.HasPrefix(subject, s.prefix) {
			return s.stream
		}
	}
	return "other"
}
