package ingest

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
)

// testConfig is the default configuration plus a raw source, a source with
// a tiny body limit, and the clay source's secrets given inline.
func testConfig() Config {
	cfg := DefaultConfig()
	for i := range cfg.Sources {
		if cfg.Sources[i].Name == "clay" {
			cfg.Sources[i].Secrets = []Secret{{Value: "old-secret"}, {Value: "new-secret"}}
		}
	}
	cfg.Sources = append(cfg.Sources,
		Source{Name: "github", Scheme: "shared-secret", Header: "X-Hub-Token", Secrets: []Secret{{Value: "gh-secret"}},
			Kind: KindRaw, TypeHeader: "X-GitHub-Event"},
		Source{Name: "hubspot", Scheme: "none", Kind: KindRaw, TypeField: "subscriptionType"},
		Source{Name: "tiny", Scheme: "none", MaxBody: 64},
	)
	cfg.PublishTimeout = 2 * time.Second
	return cfg
}

// newTestHandler returns the handler of cfg publishing to srv.
func newTestHandler(t testing.TB, srv *eventstest.Server, cfg Config) http.Handler {
	t.Helper()
	pub, err := events.NewPublisher(srv.JS)
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(cfg, pub, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// testLogger writes to the test log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// request describes one HTTP request to the handler.
type request struct {
	method      string // default POST
	path        string
	contentType string
	header      map[string]string
	body        string
	remoteAddr  string // default httptest's 192.0.2.1:1234
}

func (r request) do(t testing.TB, h http.Handler) *httptest.ResponseRecorder {
	t.Helper()
	method := r.method
	if method == "" {
		method = http.MethodPost
	}
	req := httptest.NewRequest(method, r.path, strings.NewReader(r.body))
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	if r.remoteAddr != "" {
		req.RemoteAddr = r.remoteAddr
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// answer is any JSON answer of the handler.
type answer struct {
	ID        string         `json:"id"`
	Subject   string         `json:"subject"`
	Duplicate bool           `json:"duplicate"`
	Error     string         `json:"error"`
	Details   []detailAnswer `json:"details"`
	Fields    []fieldAnswer  `json:"fields"`
	Handshake string         `json:"handshake"`
	Challenge string         `json:"challenge"`
}

type detailAnswer struct {
	Pointer   string `json:"pointer"`
	Attribute string `json:"attribute"`
	Index     *int   `json:"index"`
	Message   string `json:"message"`
}

type fieldAnswer struct {
	Pointer string `json:"pointer"`
	Message string `json:"message"`
}

func readAnswer(t testing.TB, rec *httptest.ResponseRecorder) answer {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json; body %s", ct, rec.Body)
	}
	var a answer
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
		t.Fatalf("answer %q: %v", rec.Body, err)
	}
	if rec.Code >= 400 && (a.Error == "" || !strings.Contains(rec.Body.String(), `"details":[`)) {
		t.Fatalf("status %d without an error message and details: %s", rec.Code, rec.Body)
	}
	for _, d := range a.Details {
		if d.Message == "" {
			t.Fatalf("detail without a message: %s", rec.Body)
		}
	}
	return a
}

// awaitEvent returns the one event on subject in stream, decoded.
func awaitEvent(t testing.TB, srv *eventstest.Server, stream, subject string) (event.Event, jetstream.Msg) {
	t.Helper()
	msgs := srv.Await(t, stream, subject, 1, 5*time.Second)
	ev, err := events.Decode(msgs[0].Headers(), msgs[0].Data())
	if err != nil {
		t.Fatalf("decode %s: %v", subject, err)
	}
	return ev, msgs[0]
}

// blockingPublisher holds every publish until release is closed, and counts
// the publishes it has started.
type blockingPublisher struct {
	started chan struct{}
	release chan struct{}
}

func newBlockingPublisher() *blockingPublisher {
	return &blockingPublisher{started: make(chan struct{}, 100), release: make(chan struct{})}
}

func (p *blockingPublisher) PublishAck(ctx context.Context, subject string, ev event.Event) (*jetstream.PubAck, error) {
	p.started <- struct{}{}
	select {
	case <-p.release:
		return &jetstream.PubAck{Stream: "LEADS", Sequence: 1}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *blockingPublisher) PublishMsg(ctx context.Context, msg *nats.Msg) (*jetstream.PubAck, error) {
	return p.PublishAck(ctx, msg.Subject, event.New())
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
