package ingest

import (
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
)

// TestNATSOutage stops the NATS server: posts are answered 503 with
// Retry-After within 2 s (not a hang, not a 202); once the server is back on
// the same port and store, posts succeed and the lead is stored once.
func TestNATSOutage(t *testing.T) {
	dir := t.TempDir()
	srv := eventstest.RunServer(t, eventstest.WithStoreDir(dir))
	port := srv.Addr().(*net.TCPAddr).Port
	nc, err := nats.Connect(srv.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := events.NewPublisher(js)
	if err != nil {
		t.Fatal(err)
	}
	// The default publish timeout: a post that races the client noticing
	// the disconnect waits for it, and must still be answered within 2 s.
	cfg := testConfig()
	cfg.PublishTimeout = DefaultPublishTimeout
	h, err := NewHandler(cfg, pub, testLogger(t), WithConn(nc))
	if err != nil {
		t.Fatal(err)
	}
	post := request{path: "/webhooks/form", contentType: "application/json", body: exampleLead}
	// A request that fails verification cannot be quarantined either: it
	// is told to retry too, not given a 401 that kept nothing.
	forged := request{path: "/webhooks/clay", contentType: "application/json",
		header: map[string]string{"X-Webhook-Secret": "guess"}, body: `{"Work Email":"ada@example.com"}`}

	srv.Shutdown()
	srv.WaitForShutdown()
	ce := `{"specversion":"1.0","id":"o-1","source":"/crm","type":"com.gtmhub.lead.captured","data":{"email":"a@b.co"}}`
	for _, req := range []request{post, post, forged,
		{path: "/events", contentType: MediaCloudEvents, body: ce},
		{path: "/events", contentType: MediaCloudEventsBatch, body: "[" + ce + "]"},
	} {
		start := time.Now()
		rec := req.do(t, h)
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("answered after %s, want within 2s", took)
		}
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("with NATS stopped: status %d Retry-After %q, want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
		}
		readAnswer(t, rec)
	}

	restarted, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir,
		NoLog: true, NoSigs: true, MaxPayload: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	restarted.Start()
	t.Cleanup(restarted.Shutdown)
	if !restarted.ReadyForConnections(10 * time.Second) {
		t.Fatal("restarted server not ready")
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		rec := post.do(t, h)
		if rec.Code == http.StatusAccepted {
			break
		}
		if rec.Code != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("after the restart: %d %s", rec.Code, rec.Body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	info, err := js.Stream(t.Context(), events.StreamLeads)
	if err != nil {
		t.Fatal(err)
	}
	if n := info.CachedInfo().State.Msgs; n != 1 {
		t.Fatalf("%d leads stored, want 1", n)
	}
	if rec := forged.do(t, h); rec.Code != http.StatusUnauthorized {
		t.Fatalf("the forged request after the restart: %d %s, want 401", rec.Code, rec.Body)
	}
	if info, err = js.Stream(t.Context(), events.StreamQuarantine); err != nil || info.CachedInfo().State.Msgs != 1 {
		t.Fatalf("quarantine %+v, %v: want the forged request kept once", info, err)
	}
}

// TestPublishHangs holds every PubAck: with the default publish timeout the
// request is answered 503 with Retry-After within 2 s.
func TestPublishHangs(t *testing.T) {
	pub := newBlockingPublisher()
	t.Cleanup(func() { close(pub.release) })
	h, err := NewHandler(DefaultConfig(), pub, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rec := request{path: "/webhooks/form", contentType: "application/json", body: exampleLead}.do(t, h)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("answered after %s, want within 2s", took)
	}
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d Retry-After %q, want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	readAnswer(t, rec)
}
