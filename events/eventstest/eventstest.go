// Package eventstest runs a real, embedded JetStream server for tests and
// offers helpers to publish events and wait for them.
//
// Every test gets its own server on a free port with its store in a temporary
// directory; nothing is shared between tests and nothing needs to be running
// beforehand.
package eventstest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
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
	client   []nats.Option
}

// WithoutTopology skips creating gtmhub's streams and consumers.
func WithoutTopology() Option { return func(c *config) { c.topology = false } }

// WithStoreDir keeps the JetStream store in dir, so a test can restart a
// server on the same data.
func WithStoreDir(dir string) Option { return func(c *config) { c.opts.StoreDir = dir } }

// WithUser makes the server accept only user with password; the
// Server's own client connects as that user.
func WithUser(user, password string) Option {
	return func(c *config) {
		c.opts.Username, c.opts.Password = user, password
		c.client = append(c.client, nats.UserInfo(user, password))
	}
}

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
	nc, err := nats.Connect(ns.ClientURL(), c.client...)
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

// AwaitSettled waits until the durable consumer on stream has settled
// (acked or terminated) every message on its subjects that the stream held
// when it was called, and fails t after timeout. A consumer's NumPending
// alone would not do: the server counts a new message as pending a moment
// after its PubAck, so a check right after a publish can find nothing to
// wait for while the message is on its way.
func (s *Server) AwaitSettled(t testing.TB, stream, consumer string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var (
		c    jetstream.Consumer
		last uint64
		err  error
	)
	for {
		if c == nil { // a service may still be binding its consumer
			if c, err = s.JS.Consumer(ctx, stream, consumer); err == nil {
				if last, err = s.lastSeq(ctx, stream, c.CachedInfo().Config); err != nil {
					c = nil
				}
			}
		}
		if c != nil {
			var info *jetstream.ConsumerInfo
			info, err = c.Info(ctx)
			if err == nil && info.AckFloor.Stream >= last && info.NumAckPending == 0 && info.NumPending == 0 {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("eventstest: consumer %s on %s did not settle up to message %d (last error: %v)", consumer, stream, last, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// lastSeq returns the sequence of the last message of stream on the
// consumer's subjects, 0 when there is none.
func (s *Server) lastSeq(ctx context.Context, stream string, cfg jetstream.ConsumerConfig) (uint64, error) {
	st, err := s.JS.Stream(ctx, stream)
	if err != nil {
		return 0, err
	}
	filters := slices.Clip(cfg.FilterSubjects) // an append below must not write into cfg's array
	if cfg.FilterSubject != "" {
		filters = append(filters, cfg.FilterSubject)
	}
	if len(filters) == 0 {
		filters = []string{">"}
	}
	var last uint64
	for _, f := range filters {
		m, err := st.GetLastMsgForSubject(ctx, f)
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
		case err != nil:
			return 0, err
		default:
			last = max(last, m.Sequence)
		}
	}
	return last, nil
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

// Cluster is an in-process NATS cluster with JetStream on every node.
type Cluster struct {
	Servers []*server.Server
	dirs    []string
}

// ClusterOption adjusts every node's options before it starts.
type ClusterOption func(*server.Options) error

// WithConfigFile starts every node from a nats-server configuration file
// (accounts, users, permissions); ports, routes and stores stay the test's.
func WithConfigFile(path string) ClusterOption {
	return func(o *server.Options) error {
		base, err := server.ProcessConfigFile(path)
		if err != nil {
			return fmt.Errorf("config %s: %w", path, err)
		}
		base.ServerName, base.Host, base.Port, base.JetStream = o.ServerName, o.Host, o.Port, true
		base.StoreDir, base.NoLog, base.NoSigs, base.Routes, base.Cluster = o.StoreDir, true, true, o.Routes, o.Cluster
		*o = *base
		return nil
	}
}

// RunCluster starts an n-node JetStream cluster for t on free ports, with
// its store in temporary directories, and shuts it down when t ends. It
// returns once the cluster has elected a meta leader.
func RunCluster(t testing.TB, n int, opts ...ClusterOption) *Cluster {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		ports[i] = freePort(t)
	}
	c := &Cluster{}
	for i := range n {
		var routes []*url.URL
		for j, p := range ports {
			if j != i {
				routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", p)})
			}
		}
		dir := t.TempDir()
		o := &server.Options{ServerName: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1", Port: -1,
			JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true, Routes: routes,
			Cluster: server.ClusterOpts{Name: "gtmhub-test", Host: "127.0.0.1", Port: ports[i]}}
		for _, opt := range opts {
			if err := opt(o); err != nil {
				t.Fatalf("eventstest: cluster node %d: %v", i+1, err)
			}
		}
		ns, err := server.NewServer(o)
		if err != nil {
			t.Fatalf("eventstest: cluster node %d: %v", i+1, err)
		}
		ns.Start()
		t.Cleanup(ns.Shutdown)
		c.Servers = append(c.Servers, ns)
		c.dirs = append(c.dirs, dir)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !c.hasMetaLeader() {
		if time.Now().After(deadline) {
			t.Fatal("eventstest: cluster elected no meta leader in 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return c
}

func (c *Cluster) hasMetaLeader() bool {
	for _, s := range c.Servers {
		if s.Running() && s.JetStreamIsLeader() {
			return true
		}
	}
	return false
}

// StreamLeaderIn returns the node leading stream in account, or nil.
func (c *Cluster) StreamLeaderIn(account, stream string) *server.Server {
	for _, s := range c.Servers {
		if s.Running() && s.JetStreamIsStreamLeader(account, stream) {
			return s
		}
	}
	return nil
}

// URLs is a client URL list of every running node.
func (c *Cluster) URLs() string {
	var urls []string
	for _, s := range c.Servers {
		if s.Running() {
			urls = append(urls, s.ClientURL())
		}
	}
	return strings.Join(urls, ",")
}

// StreamLeader returns the node leading stream in the global account, or nil.
func (c *Cluster) StreamLeader(stream string) *server.Server {
	return c.StreamLeaderIn(server.DEFAULT_GLOBAL_ACCOUNT, stream)
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
