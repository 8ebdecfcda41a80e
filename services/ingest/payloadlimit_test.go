package ingest

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/services/ingest/internal/signature"
)

func TestFitBodyLimits(t *testing.T) {
	const stock = 1 << 20 // a NATS server's default max_payload
	tests := []struct {
		name        string
		maxBody     int64 // 0: the default
		maxEvent    int64
		maxPayload  int64
		wantBody    int64
		wantEvent   int64
		wantLowered []string
		wantProblem []string
	}{
		{name: "defaults fit a large max_payload", maxEvent: DefaultMaxBody, maxPayload: 8 << 20,
			wantBody: DefaultMaxBody, wantEvent: DefaultMaxBody},
		{name: "defaults are lowered to fit a stock server", maxEvent: DefaultMaxBody, maxPayload: stock,
			wantBody: 737280, wantEvent: 737280,
			wantLowered: []string{`source "s": max_body`, "max_event_body"}},
		{name: "the largest body that fits is kept", maxBody: 737280, maxEvent: 737280, maxPayload: stock,
			wantBody: 737280, wantEvent: 737280},
		{name: "an operator's limits that do not fit are errors", maxBody: 737281, maxEvent: 2 << 20, maxPayload: stock,
			wantBody: 737281, wantEvent: 2 << 20,
			wantProblem: []string{
				`source "s": max_body 737281 bytes can make a message of 1048580 bytes (base64 plus 65536 for the envelope), ` +
					`more than the NATS server's max_payload of 1048576 bytes: lower it to at most 737280, or raise the server's max_payload`,
				`max_event_body 2097152 bytes`}},
		{name: "a max_payload too small for any body", maxEvent: DefaultMaxBody, maxPayload: 32 << 10,
			wantBody: DefaultMaxBody, wantEvent: DefaultMaxBody,
			wantProblem: []string{`source "s": max_body 1048576`, "raise the server's max_payload above 65536 bytes"}},
		{name: "an unknown max_payload checks nothing", maxBody: 64 << 20, maxEvent: 64 << 20,
			wantBody: 64 << 20, wantEvent: 64 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, errs := newSource(Source{Name: "s", Scheme: "none", Kind: KindRaw, MaxBody: tt.maxBody}, signature.Builtin(), os.LookupEnv)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			maxEvent := tt.maxEvent
			lowered, problems := fitBodyLimits([]*source{src}, &maxEvent, maxEvent == DefaultMaxBody, tt.maxPayload)
			if src.MaxBody != tt.wantBody || maxEvent != tt.wantEvent {
				t.Errorf("max_body %d, max_event_body %d; want %d, %d", src.MaxBody, maxEvent, tt.wantBody, tt.wantEvent)
			}
			var got []string
			for _, l := range lowered {
				got = append(got, l.What)
			}
			if strings.Join(got, "|") != strings.Join(tt.wantLowered, "|") {
				t.Errorf("lowered %v, want %v", got, tt.wantLowered)
			}
			err := problems.Err()
			if (err != nil) != (len(tt.wantProblem) > 0) {
				t.Fatalf("problems %v, want %v", err, tt.wantProblem)
			}
			for _, want := range tt.wantProblem {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("problems do not say %q:\n%v", want, err)
				}
			}
		})
	}
}

// runStockServer starts a JetStream server with NATS's default max_payload
// (1 MiB) and gtmhub's streams, as a server run without gtmhub's own
// configuration is.
func runStockServer(t *testing.T) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := events.DefaultTopology().Ensure(ctx, js); err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// TestBodyLimitsOnAStockServer runs ingest against a server with the
// default max_payload: a max_body that cannot fit is refused at start,
// naming the source and both figures; the default is lowered, and a body
// at the lowered limit, base64-encoded by a raw source, is stored.
func TestBodyLimitsOnAStockServer(t *testing.T) {
	nc, js := runStockServer(t)
	if nc.MaxPayload() != 1<<20 {
		t.Fatalf("max_payload %d, want NATS's default 1 MiB", nc.MaxPayload())
	}
	pub, err := events.NewPublisher(js)
	if err != nil {
		t.Fatal(err)
	}

	cfg := DefaultConfig()
	cfg.Sources = append(cfg.Sources, Source{Name: "big", Scheme: "none", Kind: KindRaw, MaxBody: 1 << 20})
	_, err = NewHandler(cfg, pub, nil, WithConn(nc))
	if err == nil {
		t.Fatal("NewHandler accepted a max_body that cannot fit max_payload")
	}
	for _, want := range []string{`source "big": max_body 1048576 bytes`, "max_payload of 1048576 bytes", "at most 737280"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}

	cfg = DefaultConfig()
	cfg.Sources = append(cfg.Sources, Source{Name: "raw", Scheme: "none", Kind: KindRaw})
	var log bytes.Buffer
	h, err := NewHandler(cfg, pub, slog.New(slog.NewTextHandler(&log, nil)), WithConn(nc))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), `limit="source \"raw\": max_body" from=1048576 to=737280`) {
		t.Errorf("the lowered default is not logged:\n%s", log.String())
	}
	body := make([]byte, 737280)
	rand.Read(body)
	body[0] = 0xff // never JSON
	for _, tt := range []struct {
		body       []byte
		wantStatus int
	}{
		{body, http.StatusAccepted},
		{append(body, 0), http.StatusRequestEntityTooLarge},
	} {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/raw", bytes.NewReader(tt.body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.wantStatus {
			t.Fatalf("%d bytes: status %d, want %d: %s", len(tt.body), rec.Code, tt.wantStatus, rec.Body)
		}
		readAnswer(t, rec)
	}
}
