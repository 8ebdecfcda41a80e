package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
)

// TestReplayCommand: `gtmhub replay --to store` re-delivers every enriched
// lead and `gtmhub replay ls` lists the replay with what it replayed and
// what the stream removed before it was read.
func TestReplayCommand(t *testing.T) {
	srv := eventstest.RunServer(t)
	if out, err := gtmhub(t, srv, "", "init"); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	// The store's reader of replays, which the store creates when it runs.
	if _, err := srv.JS.CreateOrUpdateConsumer(context.Background(), events.StreamReplay, jetstream.ConsumerConfig{
		Durable: "store-replay", FilterSubject: events.ReplaySubject("store", ">"), AckPolicy: jetstream.AckExplicitPolicy,
	}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		srv.Publish(t, events.SubjectLeadsEnriched, eventstest.NewEvent(t, "com.gtmhub.lead.enriched",
			map[string]string{"email": fmt.Sprintf("l%d@example.com", i)}))
	}
	out, err := gtmhub(t, srv, "", "replay", "--to", "store", "--since", "1h")
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	if !strings.Contains(out, "done: 5 events re-delivered") {
		t.Fatalf("replay printed:\n%s", out)
	}
	out, err = gtmhub(t, srv, "", "replay", "ls")
	if err != nil {
		t.Fatalf("replay ls: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("replay ls printed %d lines, want a header and one row:\n%s", len(lines), out)
	}
	row := strings.Fields(lines[1])
	// The destination "consumer store" is two fields in the row.
	want := []string{"done", events.StreamLeads, "consumer", "store", "5", "0"}
	if !strings.Contains(lines[0], "REPLAYED  GONE") || len(row) < 7 ||
		strings.Join(row[1:7], " ") != strings.Join(want, " ") {
		t.Errorf("replay ls:\n%s\nwant a row with %v after the id", out, want)
	}
}
