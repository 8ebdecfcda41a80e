package events_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
)

// handledSet counts how often each event id was handled.
type handledSet struct {
	mu sync.Mutex
	n  map[string]int
	by map[string]int // per instance
}

func (h *handledSet) handler(instance string) events.Handler {
	return func(_ context.Context, ev event.Event) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.n[ev.ID()]++
		h.by[instance]++
		return nil
	}
}

func (h *handledSet) missing(ids []string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	missing := 0
	for _, id := range ids {
		if h.n[id] == 0 {
			missing++
		}
	}
	return missing
}

func clusterClient(t *testing.T, c *eventstest.Cluster) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(c.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// A request the cluster drops while it settles gets no answer at all,
	// so each attempt has its own deadline within the overall one.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := events.DefaultTopology().Ensure(ctx, js, events.WithReplicas(3))
		cancel()
		if err == nil {
			return js
		}
		if time.Now().After(deadline) {
			t.Fatalf("topology on the cluster: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// publishAll publishes n events, retrying each retryable failure as a
// webhook sender would, and returns the ids the stream acknowledged.
func publishAll(t *testing.T, pub *events.Publisher, n int, midway func()) []string {
	t.Helper()
	var acked []string
	for i := range n {
		if i == n/3 && midway != nil {
			midway()
		}
		ev := eventstest.NewEvent(t, "com.gtmhub.lead.enriched", map[string]int{"n": i})
		deadline := time.Now().Add(30 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			err := pub.Publish(ctx, events.SubjectLeadsEnriched, ev)
			cancel()
			if err == nil {
				acked = append(acked, ev.ID())
				break
			}
			if !events.IsRetryable(err) || time.Now().After(deadline) {
				t.Fatalf("publish %d: %v", i, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return acked
}

// TestClusterLosesNothingWhenTheLeaderDies publishes to a 3-replica stream
// while its leader is killed, with two instances of one service sharing the
// durable consumer: every acknowledged event is stored once and handled.
func TestClusterLosesNothingWhenTheLeaderDies(t *testing.T) {
	c := eventstest.RunCluster(t, 3)
	js := clusterClient(t, c)
	spec, _ := events.DefaultTopology().Consumer("store")
	h := &handledSet{n: map[string]int{}, by: map[string]int{}}
	for _, instance := range []string{"a", "b"} {
		cons, err := events.NewConsumer(js, spec, h.handler(instance), events.WithConcurrency(2))
		if err != nil {
			t.Fatal(err)
		}
		eventstest.Go(t, cons.Run)
	}
	pub, err := events.NewPublisher(js)
	if err != nil {
		t.Fatal(err)
	}
	var killed string
	acked := publishAll(t, pub, 600, func() {
		leader := c.StreamLeader(events.StreamLeads)
		if leader == nil {
			t.Fatal("no LEADS leader")
		}
		killed = leader.Name()
		leader.Shutdown()
	})
	deadline := time.Now().Add(60 * time.Second)
	for h.missing(acked) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged events never handled after %s died", h.missing(acked), len(acked), killed)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, events.StreamLeads)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != uint64(len(acked)) {
		t.Errorf("LEADS holds %d messages for %d acknowledged events", info.State.Msgs, len(acked))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	extra := 0
	for _, id := range acked {
		extra += h.n[id] - 1
	}
	if h.by["a"] == 0 || h.by["b"] == 0 {
		t.Errorf("work split %v: both instances should share the durable consumer", h.by)
	}
	t.Logf("killed %s; %d events acknowledged, all handled; %d redeliveries (absorbed by idempotent handlers); split %v",
		killed, len(acked), extra, h.by)
}

// TestTwoInstancesShareWork: without faults, two instances of a service on
// one durable consumer handle every event exactly once between them.
func TestTwoInstancesShareWork(t *testing.T) {
	srv := eventstest.RunServer(t)
	spec, _ := events.DefaultTopology().Consumer("store")
	h := &handledSet{n: map[string]int{}, by: map[string]int{}}
	for _, instance := range []string{"a", "b"} {
		cons, err := events.NewConsumer(srv.JS, spec, h.handler(instance), events.WithConcurrency(2))
		if err != nil {
			t.Fatal(err)
		}
		eventstest.Go(t, cons.Run)
	}
	var ids []string
	for i := range 400 {
		ev := eventstest.NewEvent(t, "com.gtmhub.lead.enriched", map[string]int{"n": i})
		srv.Publish(t, events.SubjectLeadsEnriched, ev)
		ids = append(ids, ev.ID())
	}
	deadline := time.Now().Add(20 * time.Second)
	for h.missing(ids) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d events not handled", h.missing(ids))
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitSettled(t, srv, "store")
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range ids {
		if h.n[id] != 1 {
			t.Errorf("event %s handled %d times", id, h.n[id])
		}
	}
	if h.by["a"]+h.by["b"] != len(ids) || h.by["a"] == 0 || h.by["b"] == 0 {
		t.Errorf("split %v over %d events", h.by, len(ids))
	}

}
