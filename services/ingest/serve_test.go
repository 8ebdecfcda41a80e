package ingest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
)

func TestServe(t *testing.T) {
	srv := eventstest.RunServer(t)
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	health := service.NewHealth()
	deps := service.Deps{Conn: srv.Conn, Health: health, TracerProvider: tp, Logger: testLogger(t)}

	addr, stop := serve(t, deps)
	url := "http://" + addr + "/webhooks/form"
	postLead(t, url, nil)

	// The request's server span and the event's trace context are one trace.
	ev, _ := awaitEvent(t, srv, "LEADS", "gtm.leads.captured.form")
	var server sdktrace.ReadOnlySpan
	for _, s := range spans.Ended() {
		if s.Name() == "POST /webhooks/{source}" {
			server = s
		}
	}
	if server == nil {
		t.Fatalf("no server span named after the route among %d spans", len(spans.Ended()))
	}
	tpHeader, _ := ev.Extensions()["traceparent"].(string)
	if !strings.Contains(tpHeader, server.SpanContext().TraceID().String()) {
		t.Errorf("event traceparent %q is not in trace %s", tpHeader, server.SpanContext().TraceID())
	}

	if failed := health.Run(t.Context()); len(failed) != 0 {
		t.Fatalf("readiness: %v", failed)
	}
	if err := srv.JS.DeleteStream(t.Context(), "QUARANTINE"); err != nil {
		t.Fatal(err)
	}
	if failed := health.Run(t.Context()); !strings.Contains(failed["ingest-streams"], "QUARANTINE") {
		t.Fatalf("readiness without QUARANTINE: %v", failed)
	}

	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Post(url, "application/json", strings.NewReader(exampleLead)); err == nil {
		t.Fatal("still serving after shutdown")
	}
}

func TestServeRejectsBadConfig(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.Sources = append(cfg.Sources, Source{Name: "x y", Scheme: "none"})
	err = Serve(t.Context(), ln, cfg, service.Deps{})
	if err == nil || !strings.Contains(err.Error(), `"x y"`) {
		t.Fatalf("Serve() = %v", err)
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("listener left open: %v", err)
	}
}

// TestGracefulShutdown cancels the server while a request waits for its
// PubAck: the listener closes at once, the request still gets its 202, and
// only then does serving return.
func TestGracefulShutdown(t *testing.T) {
	pub := newBlockingPublisher()
	h, err := NewHandler(testConfig(), pub, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- serveHTTP(ctx, ln, h, 10*time.Second, testLogger(t)) }()

	answered := make(chan int, 1)
	go func() {
		resp, err := http.Post("http://"+addr+"/webhooks/form", "application/json", strings.NewReader(exampleLead))
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	<-pub.started // the request waits for its PubAck
	cancel()

	waitFor(t, "the listener to close", func() bool {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case err := <-served:
		t.Fatalf("serving returned (%v) with a request in flight", err)
	case code := <-answered:
		t.Fatalf("request answered %d before its PubAck", code)
	default:
	}

	close(pub.release)
	if code := <-answered; code != http.StatusAccepted {
		t.Fatalf("in-flight request answered %d, want 202", code)
	}
	if err := <-served; err != nil {
		t.Fatalf("serveHTTP() = %v", err)
	}
}

// TestServeUntracedKeepsCallersTrace runs ingest with tracing off (the no-op
// provider, no instrumentation): the event still carries the trace context
// the caller sent.
func TestServeUntracedKeepsCallersTrace(t *testing.T) {
	srv := eventstest.RunServer(t)
	deps := service.Deps{Conn: srv.Conn, TracerProvider: noop.NewTracerProvider(), Logger: testLogger(t)}
	addr, stop := serve(t, deps)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()

	const caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	postLead(t, "http://"+addr+"/webhooks/form", http.Header{"Traceparent": {caller}})
	ev, _ := awaitEvent(t, srv, "LEADS", "gtm.leads.captured.form")
	if got, _ := ev.Extensions()["traceparent"].(string); got != caller {
		t.Errorf("event traceparent %q, want the caller's %q", got, caller)
	}
}

// serve runs Serve with testConfig and deps on a free port and returns its
// address, and stop, which cancels it and reports whether it returned nil
// within 10 s.
func serve(t *testing.T, deps service.Deps) (addr string, stop func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, ln, testConfig(), deps) }()
	return ln.Addr().String(), func() error {
		cancel()
		select {
		case err := <-served:
			if err != nil {
				return fmt.Errorf("Serve() = %w", err)
			}
			return nil
		case <-time.After(10 * time.Second):
			return errors.New("Serve did not return after cancel")
		}
	}
}

// postLead posts the example lead to url with header and fails the test
// unless the answer is 202.
func postLead(t *testing.T, url string, header http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(exampleLead))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d, want 202", resp.StatusCode)
	}
}
