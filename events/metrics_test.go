package events

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestMetricsNameTheStreamOfASubject labels publish metrics with the
// topology's stream of the subject, and "other" outside it.
func TestMetricsNameTheStreamOfASubject(t *testing.T) {
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ subject, want string }{
		{"gtm.leads.captured.form", StreamLeads},
		{"gtm.leads.enriched", StreamLeads},
		{"gtm.records.contact.created", StreamRecords},
		{"gtm.dlq.store.gtm.leads.enriched", StreamDLQ},
		{"gtm.quarantine.hubspot", StreamQuarantine},
		{"gtm.unknown.x", "other"},
		{"orders.created", "other"},
	}
	for _, tt := range tests {
		if got := m.streamOf(tt.subject); got != tt.want {
			t.Errorf("streamOf(%q) = %q, want %q", tt.subject, got, tt.want)
		}
	}
}

// TestBreakerStateExportedFromTheStart: a declared breaker's state is on
// /metrics, closed (0), before anything changed it.
func TestBreakerStateExportedFromTheStart(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	NewBreakers(WithBreakerMetrics(m), WithDestinations("clearbit"))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "gtmhub_breaker_state" {
			continue
		}
		for _, metric := range f.GetMetric() {
			if metric.GetLabel()[0].GetValue() == "clearbit" && metric.GetGauge().GetValue() == 0 {
				return
			}
		}
	}
	t.Error("no gtmhub_breaker_state{destination=\"clearbit\"} 0 before the first request")
}
