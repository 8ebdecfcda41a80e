package stack_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/services/enrich"
	"github.com/gtmhub/gtmhub/services/ingest"
	"github.com/gtmhub/gtmhub/services/notify"
	"github.com/gtmhub/gtmhub/services/store"
)

// TestOneTracePerLead follows one webhook through every service to the Slack
// POST: all spans share one trace, and each stage's process span is the
// child of the publish span that produced its event.
func TestOneTracePerLead(t *testing.T) {
	srv := eventstest.RunServer(t)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	var posts atomic.Int32
	slack := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		posts.Add(1)
		_, _ = io.WriteString(w, "ok")
	}))
	defer slack.Close()

	deps := service.Deps{Conn: srv.Conn, TracerProvider: tp}
	dir := t.TempDir()
	storeCfg := store.DefaultConfig()
	storeCfg.DataDir = dir
	notifyCfg := notify.DefaultConfig()
	notifyCfg.Slack.WebhookURL = slack.URL + "/services/T000/B000/SECRETPATH"
	notifyCfg.Slack.HTTPClient = slack.Client()
	notifyCfg.Rules = []notify.Rule{{Name: "every-lead", On: []string{"com.gtmhub.contact.created"}, Action: "slack", Target: "#leads"}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	eventstest.Go(t, func(ctx context.Context) error { return ingest.Serve(ctx, ln, ingest.DefaultConfig(), deps) })
	eventstest.Go(t, func(ctx context.Context) error { return enrich.Run(ctx, enrich.DefaultConfig(), deps) })
	eventstest.Go(t, func(ctx context.Context) error { return store.Run(ctx, storeCfg, deps) })
	eventstest.Go(t, func(ctx context.Context) error { return notify.Run(ctx, notifyCfg, deps) })

	if status, body, err := postLead(http.DefaultClient, ln.Addr().String(), map[string]string{"email": "trace@example.com"}); err != nil || status != http.StatusAccepted {
		t.Fatalf("post: %d %v %v", status, body, err)
	}
	waitFor(t, 20*time.Second, "slack post", func() (bool, string) { return posts.Load() == 1, "no post" })

	want := []struct {
		name string
		kind trace.SpanKind
	}{
		{"publish gtm.leads.captured.form", trace.SpanKindProducer},
		{"process gtm.leads.captured.form", trace.SpanKindConsumer},
		{"publish gtm.leads.enriched", trace.SpanKindProducer},
		{"process gtm.leads.enriched", trace.SpanKindConsumer},
		{"publish gtm.records.contact.created", trace.SpanKindProducer},
		{"process gtm.records.contact.created", trace.SpanKindConsumer},
	}
	var spans []sdktrace.ReadOnlySpan
	waitFor(t, 10*time.Second, "spans ended", func() (bool, string) {
		spans = rec.Ended()
		for _, w := range want {
			if find(spans, w.name) == nil {
				return false, "missing " + w.name
			}
		}
		if find(spans, "upsert lead") == nil {
			return false, "missing the store's transaction span"
		}
		return clientSpanTo(spans, slack.URL) != nil, "no Slack client span"
	})
	server := serverSpan(spans)
	if server == nil {
		t.Fatal("no HTTP server span for the webhook")
	}
	traceID := server.SpanContext().TraceID()
	var prev sdktrace.ReadOnlySpan = server
	for _, w := range want {
		s := find(spans, w.name)
		if s.SpanKind() != w.kind || s.SpanContext().TraceID() != traceID {
			t.Errorf("%s: kind %v trace %s, want %v in %s", w.name, s.SpanKind(), s.SpanContext().TraceID(), w.kind, traceID)
		}
		if !descends(spans, s, prev) {
			t.Errorf("%s does not descend from %s", w.name, prev.Name())
		}
		prev = s
	}
	if tx := find(spans, "upsert lead"); tx == nil || tx.SpanKind() != trace.SpanKindClient ||
		!descends(spans, tx, find(spans, "process gtm.leads.enriched")) || !hasAttr(tx, "db.system.name", "sqlite") {
		t.Errorf("no sqlite transaction span under the store's process span: %v", tx)
	}
	post := clientSpanTo(spans, slack.URL)
	if post.SpanContext().TraceID() != traceID || !descends(spans, post, prev) {
		t.Errorf("Slack POST span %q is not in the lead's trace under %s", post.Name(), prev.Name())
	}
	for _, s := range spans {
		for _, a := range s.Attributes() {
			if strings.Contains(a.Value.Emit(), "SECRETPATH") {
				t.Errorf("span %s attribute %s holds the webhook's secret path", s.Name(), a.Key)
			}
		}
	}
}

func find(spans []sdktrace.ReadOnlySpan, name string) sdktrace.ReadOnlySpan {
	for _, s := range spans {
		if s.Name() == name {
			return s
		}
	}
	return nil
}

func serverSpan(spans []sdktrace.ReadOnlySpan) sdktrace.ReadOnlySpan {
	for _, s := range spans {
		if s.SpanKind() == trace.SpanKindServer {
			return s
		}
	}
	return nil
}

func clientSpanTo(spans []sdktrace.ReadOnlySpan, url string) sdktrace.ReadOnlySpan {
	for _, s := range spans {
		if s.SpanKind() == trace.SpanKindClient && s.Name() == "POST "+strings.TrimPrefix(url, "https://") {
			return s
		}
	}
	return nil
}

// descends reports whether s has ancestor among spans.
func descends(spans []sdktrace.ReadOnlySpan, s, ancestor sdktrace.ReadOnlySpan) bool {
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, sp := range spans {
		byID[sp.SpanContext().SpanID()] = sp
	}
	for cur := s; cur != nil; cur = byID[cur.Parent().SpanID()] {
		if cur.Parent().SpanID() == ancestor.SpanContext().SpanID() {
			return true
		}
		if !cur.Parent().IsValid() {
			return false
		}
	}
	return false
}

// hasAttr reports whether s carries the attribute key with value.
func hasAttr(s sdktrace.ReadOnlySpan, key, value string) bool {
	for _, a := range s.Attributes() {
		if string(a.Key) == key && a.Value.Emit() == value {
			return true
		}
	}
	return false
}
