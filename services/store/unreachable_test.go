package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
)

// TestRunHoldsEventsWhilePostgresIsOutOfReach cuts the network between the
// store and PostgreSQL: the events that arrive meanwhile are held, not
// redelivered (which would spend their attempts towards the dead-letter
// stream); a store stopped meanwhile hands them back, and the next one
// stores each once when the database answers again.
func TestRunHoldsEventsWhilePostgresIsOutOfReach(t *testing.T) {
	srv := eventstest.RunServer(t)
	proxy, dsn := proxiedPostgres(t)
	cfg := Config{DataDir: t.TempDir(), DatabaseURL: dsn.String()}
	start := func() (stop func()) {
		return eventstest.Go(t, func(ctx context.Context) error {
			return Run(ctx, cfg, service.Deps{Conn: srv.Conn, Logger: slog.New(slog.DiscardHandler)})
		})
	}
	stop := start()
	lead := func(i int) event.Event {
		return enriched(t, fmt.Sprintf("lead-%d", i), t0, adaLead(func(l *contracts.Lead) { l.Email = fmt.Sprintf("ada%d@example.com", i) }))
	}
	srv.Publish(t, events.SubjectLeadsEnriched, lead(0))
	srv.Await(t, events.StreamRecords, "gtm.records.>", 1, 10*time.Second)

	proxy.down()
	for i := 1; i <= 3; i++ {
		srv.Publish(t, events.SubjectLeadsEnriched, lead(i))
	}
	time.Sleep(3 * time.Second) // an error would have been redelivered after 1 s
	info := consumerInfo(t, srv)
	if info.NumRedelivered != 0 || info.Delivered.Consumer != 4 {
		t.Errorf("while out of reach: %d delivered, %d redelivered; want 4 delivered once each",
			info.Delivered.Consumer, info.NumRedelivered)
	}

	// Stopped while holding them, the store stops cleanly (stop checks that
	// Run returns nil), and the next one takes them over.
	stop()
	proxy.up()
	start()
	srv.Await(t, events.StreamRecords, "gtm.records.>", 4, 20*time.Second)
	srv.AwaitSettled(t, events.StreamLeads, Name, 10*time.Second)
	if n := srv.Count(t, events.StreamRecords, "gtm.records.>"); n != 4 {
		t.Errorf("%d change events, want one per lead", n)
	}
	if n := srv.Count(t, events.StreamDLQ, "gtm.dlq.>"); n != 0 {
		t.Errorf("%d dead letters, want none", n)
	}
}

// TestRunHoldsManyEventsThroughAnOutage cuts the network to PostgreSQL
// while many events arrive: the store logs the outage once, not once per
// event, is not ready meanwhile, holds the events without redelivery, and
// stores each of them once when the database answers again.
func TestRunHoldsManyEventsThroughAnOutage(t *testing.T) {
	const leads = 30
	srv := eventstest.RunServer(t)
	proxy, dsn := proxiedPostgres(t)
	cfg := Config{DataDir: t.TempDir(), DatabaseURL: dsn.String()}
	logs, health := &logCounter{}, service.NewHealth()
	eventstest.Go(t, func(ctx context.Context) error {
		return Run(ctx, cfg, service.Deps{Conn: srv.Conn, Logger: slog.New(logs), Health: health})
	})
	lead := func(i int) event.Event {
		return enriched(t, fmt.Sprintf("lead-%d", i), t0, adaLead(func(l *contracts.Lead) { l.Email = fmt.Sprintf("ada%d@example.com", i) }))
	}
	srv.Publish(t, events.SubjectLeadsEnriched, lead(0))
	srv.Await(t, events.StreamRecords, "gtm.records.>", 1, 10*time.Second)

	proxy.down()
	for i := 1; i <= leads; i++ {
		srv.Publish(t, events.SubjectLeadsEnriched, lead(i))
	}
	for deadline := time.Now().Add(10 * time.Second); consumerInfo(t, srv).Delivered.Consumer < leads+1; {
		if time.Now().After(deadline) {
			t.Fatalf("%d events delivered, want %d", consumerInfo(t, srv).Delivered.Consumer, leads+1)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // an error would have been redelivered after 1 s
	if info := consumerInfo(t, srv); info.NumRedelivered != 0 || info.NumAckPending != leads {
		t.Errorf("while out of reach: %d redelivered, %d held; want none redelivered, %d held",
			info.NumRedelivered, info.NumAckPending, leads)
	}
	if failed := health.Run(t.Context()); failed[Name] == "" {
		t.Errorf("readiness %v, want the store not ready", failed)
	}

	proxy.up()
	srv.Await(t, events.StreamRecords, "gtm.records.>", leads+1, 30*time.Second)
	srv.AwaitSettled(t, events.StreamLeads, Name, 10*time.Second)
	if n := srv.Count(t, events.StreamRecords, "gtm.records.>"); n != leads+1 {
		t.Errorf("%d change events, want one per lead", n)
	}
	if out, back := logs.containing("out of reach"), logs.count(logAnswers); out != 1 || back != 1 {
		t.Errorf("logged %d times out of reach and %d times answering again, want once each", out, back)
	}
	if n := srv.Count(t, events.StreamDLQ, "gtm.dlq.>"); n != 0 {
		t.Errorf("%d dead letters, want none", n)
	}
	if failed := health.Run(t.Context()); failed[Name] != "" {
		t.Errorf("readiness %v, want the store ready", failed)
	}
	db, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := range leads + 1 {
		acts, err := db.Activities(t.Context(), fmt.Sprintf("ada%d@example.com", i))
		if err != nil || len(acts) != 1 {
			t.Errorf("lead %d: %d activities (%v), want it stored once", i, len(acts), err)
		}
	}
}

// TestRunWaitsForPostgres starts the store while PostgreSQL cannot be
// reached: it waits, not ready, instead of failing, and stores what came
// meanwhile once the database answers.
func TestRunWaitsForPostgres(t *testing.T) {
	srv := eventstest.RunServer(t)
	proxy, dsn := proxiedPostgres(t)
	proxy.down()
	health := service.NewHealth()
	eventstest.Go(t, func(ctx context.Context) error {
		return Run(ctx, Config{DataDir: t.TempDir(), DatabaseURL: dsn.String()},
			service.Deps{Conn: srv.Conn, Logger: slog.New(slog.DiscardHandler), Health: health})
	})
	srv.Publish(t, events.SubjectLeadsEnriched, enriched(t, "lead-1", t0, adaLead(nil)))
	// Run registers its readiness check as it starts, in its goroutine.
	for deadline := time.Now().Add(5 * time.Second); health.Run(t.Context())[Name] == ""; {
		if time.Now().After(deadline) {
			t.Fatalf("readiness %v, want the store not ready", health.Run(t.Context()))
		}
		time.Sleep(20 * time.Millisecond)
	}

	proxy.up()
	srv.Await(t, events.StreamRecords, "gtm.records.>", 1, 20*time.Second)
	if failed := health.Run(t.Context()); failed[Name] != "" {
		t.Errorf("readiness %v, want the store ready", failed)
	}
}

func consumerInfo(t *testing.T, srv *eventstest.Server) *jetstream.ConsumerInfo {
	t.Helper()
	c, err := srv.JS.Consumer(t.Context(), events.StreamLeads, Name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// proxiedPostgres returns a proxy to the tests' PostgreSQL and the URL of
// a schema of its own through it.
func proxiedPostgres(t *testing.T) (*tcpProxy, *url.URL) {
	t.Helper()
	dsn, err := url.Parse(testPostgresSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := startProxy(t, dsn.Host)
	dsn.Host = proxy.addr
	return proxy, dsn
}

// tcpProxy forwards connections to a target, and can be taken down (every
// connection cut, new ones refused) and brought back on the same address.
type tcpProxy struct {
	t      *testing.T
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
}

func startProxy(t *testing.T, target string) *tcpProxy {
	p := &tcpProxy{t: t, target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.down)
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
}

func (p *tcpProxy) forward(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil { // taken down while this connection was dialing
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	go func() { _, _ = io.Copy(up, c); up.Close() }()
	_, _ = io.Copy(c, up)
	c.Close()
}

// down cuts every connection and refuses new ones.
func (p *tcpProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// up accepts connections again on the same address.
func (p *tcpProxy) up() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.serve(ln)
}

func TestUnreachable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{fmt.Errorf("store event x: %w", io.ErrUnexpectedEOF), true},
		{errors.New("duplicate key value violates unique constraint"), false},
		{&pgconn.PgError{Code: "08006"}, true},
		{&pgconn.PgError{Code: "57P01"}, true},
		{&pgconn.PgError{Code: "08P01"}, false},
		{&pgconn.PgError{Code: "57P04"}, false},
		{&pgconn.PgError{Code: "23505"}, false},
		{context.Canceled, false},
	}
	for _, tt := range tests {
		if got := unreachable(tt.err); got != tt.want {
			t.Errorf("unreachable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// TestUntilReachableHandsBackAtShutdown: a store stopped while it waits for
// its database at start gets the context's error, which says it stopped,
// with the database's.
func TestUntilReachableHandsBackAtShutdown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	refused := &net.OpError{Op: "dial", Err: errors.New("connection refused")}
	tries := 0
	err := untilReachable(ctx, slog.New(slog.DiscardHandler), func() error {
		if tries++; tries == 2 {
			cancel()
		}
		return refused
	})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, refused) {
		t.Errorf("untilReachable = %v, want the cancellation and the last error", err)
	}
}
