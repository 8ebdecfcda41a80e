// Package eventstest runs a real, embedded JetStream server for tests and
// offers helpers to publish events and wait for them.
//
// Every test gets its own server on a free port with its store in a temporary
// directory; nothing is shared between tests and nothing needs to be running
// beforehand.
package eventstest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/events"
)

// Server is an embedded NATS server with JetStream and a client on it.
type Server struct {
	*server.Server
	Conn *nats.Conn
	JS   jetstream.JetStream
}

// Option adjusts the test server.
type Option func(*config)

type config struct {
	opts     server.Options
	topology bool
}

// WithoutTopology skips creating gtmhub's streams and consumers.
func WithoutTopology() Option { return func(c *config) { c.topology = false } }

// WithStoreDir keeps the JetStream store in dir, so a test can restart a
// server on the same data.
func WithStoreDir(dir string) Option { return func(c *config) { c.opts.StoreDir = dir } }

// RunServer starts a JetStream server for t with the gtmhub topology in
// place, and shuts it down when t ends.
func RunServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	c := config{topology: true, opts: server.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: t.TempDir(), NoLog: true, NoSigs: true, MaxPayload: 8 << 20}}
	for _, opt := range opts {
		opt(&c)
	}
	ns, err := server.NewServer(&c.opts)
	if err != nil {
		t.Fatalf("eventstest: new server: %v", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("eventstest: server not ready")
	}
	t.Cleanup(ns.Shutdown)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatalf("eventstest: connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("eventstest: jetstream: %v", err)
	}
	if c.topology {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := events.DefaultTopology().Ensure(ctx, js); err != nil {
			t.Fatalf("eventstest: topology: %v", err)
		}
	}
	return &Server{Server: ns, Conn: nc, JS: js}
}

// NewEvent returns a valid CloudEvent of type typ with a fresh id and data
// marshalled as JSON.
func NewEvent(t testing.TB, typ string, data any) event.Event {
	t.Helper()
	ev := event.New()
	ev.SetID(uuid.NewString())
	ev.SetSource("/gtmhub/test")
	ev.SetType(typ)
	ev.SetTime(time.Now().UTC())
	if data != nil {
		if err := ev.SetData(event.ApplicationJSON, data); err != nil {
			t.Fatalf("eventstest: set data: %v", err)
		}
	}
	return ev
}

// Publish publishes ev on subject and fails t unless the stream acks it.
func (s *Server) Publish(t testing.TB, subject string, ev event.Event) *jetstream.PubAck {
	t.Helper()
	msg, err := events.Encode(subject, ev)
	if err != nil {
		t.Fatalf("eventstest: encode: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := s.JS.PublishMsg(ctx, msg)
	if err != nil {
		t.Fatalf("eventstest: publish %s: %v", subject, err)
	}
	return ack
}

// Await reads stream from the start with an ordered consumer until it has
// seen n messages matching filter, and returns them; it fails t after timeout.
func (s *Server) Await(t testing.TB, stream, filter string, n int, timeout time.Duration) []jetstream.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cons, err := s.JS.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		t.Fatalf("eventstest: ordered consumer on %s: %v", stream, err)
	}
	var got []jetstream.Msg
	for len(got) < n {
		batch, err := cons.Fetch(n-len(got), jetstream.FetchContext(ctx))
		if err != nil {
			t.Fatalf("eventstest: await %d on %s %s: got %d: %v", n, stream, filter, len(got), err)
		}
		for m := range batch.Messages() {
			got = append(got, m)
		}
		if ctx.Err() != nil {
			t.Fatalf("eventstest: await %d on %s %s: got %d before timeout", n, stream, filter, len(got))
		}
	}
	return got
}

// Count returns how many messages stream holds on subjects matching filter.
func (s *Server) Count(t testing.TB, stream, filter string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := s.JS.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("eventstest: stream %s: %v", stream, err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		t.Fatalf("eventstest: stream info %s: %v", stream, err)
	}
	var total uint64
	for _, c := range info.State.Subjects {
		total += c
	}
	return total
}

// Go runs a service's Run function until the test ends, then cancels its
// context and fails the test unless run returns nil within 15s. The returned
// stop does the same earlier, once.
func Go(t testing.TB, run func(ctx context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("eventstest: run returned %v after cancel", err)
				}
			case <-time.After(15 * time.Second):
				t.Error("eventstest: run did not return within 15s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}
