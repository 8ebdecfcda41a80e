package service_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gtmhub/gtmhub/events/service"
)

func TestRegisteredReusesTheFirstCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	opts := prometheus.CounterOpts{Name: "things_total", Help: "Things."}
	first, err := service.Registered(reg, prometheus.NewCounter(opts))
	if err != nil {
		t.Fatal(err)
	}
	again, err := service.Registered(reg, prometheus.NewCounter(opts))
	if err != nil || again != first {
		t.Fatalf("second registration: %v, same collector %t; want the first one back", err, again == first)
	}
	if _, err := service.Registered(reg, prometheus.NewGauge(prometheus.GaugeOpts{Name: "things_total", Help: "Other."})); err == nil {
		t.Error("a different collector under the same name was accepted")
	}
}
