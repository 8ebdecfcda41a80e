package service

import (
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

func TestRecords(t *testing.T) {
	tests := []struct {
		name string
		tp   trace.TracerProvider
		want bool
	}{
		{"no-op provider", noop.NewTracerProvider(), false},
		{"SDK provider", sdktrace.NewTracerProvider(), true},
		// The global provider may be set later: it counts as recording.
		{"global provider", otel.GetTracerProvider(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Records(tt.tp); got != tt.want {
				t.Errorf("Records() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSetupTracingWithoutEndpointRecordsNothing(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	tr, err := SetupTracing(t.Context(), "test")
	if err != nil {
		t.Fatal(err)
	}
	if Records(tr.Provider) {
		t.Error("SetupTracing without an endpoint returned a recording provider")
	}
}
