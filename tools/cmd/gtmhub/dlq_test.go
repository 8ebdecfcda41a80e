package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
)

// gtmhub runs the CLI against srv and returns what it printed.
func gtmhub(t *testing.T, srv *eventstest.Server, stdin string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := gtmhubTo(srv, &out, &out, stdin, args...)
	return out.String(), err
}

// gtmhubTo runs the CLI against srv, writing its output to out and its
// errors and progress to errOut.
func gtmhubTo(srv *eventstest.Server, out, errOut io.Writer, stdin string, args ...string) error {
	root := newRootCmd()
	root.SetOut(out)
	root.SetErr(errOut)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(append(args, "--nats-url", srv.ClientURL()))
	return root.ExecuteContext(context.Background())
}

// TestDLQRedriveAfterRecovery: a destination failing with 500 dead-letters
// the event after MaxDeliver attempts, with its metadata; once it recovers,
// `dlq redrive --all` delivers it exactly once and empties the DLQ.
func TestDLQRedriveAfterRecovery(t *testing.T) {
	srv := eventstest.RunServer(t)
	var healthy atomic.Bool
	var mu sync.Mutex
	delivered := map[string]int{}
	h := func(_ context.Context, ev event.Event) error {
		if !healthy.Load() {
			return errors.New("destination answered 500")
		}
		mu.Lock()
		delivered[ev.ID()]++
		mu.Unlock()
		return nil
	}
	spec, _ := events.DefaultTopology().Consumer("store")
	spec.MaxDeliver = 3
	c, err := events.NewConsumer(srv.JS, spec, h, events.WithBackoff(events.ExponentialBackoff(10*time.Millisecond, 50*time.Millisecond)))
	if err != nil {
		t.Fatal(err)
	}
	eventstest.Go(t, c.Run)
	ev := eventstest.NewEvent(t, "com.gtmhub.lead.enriched", map[string]string{"email": "ada@example.com"})
	ev.SetExtension("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	srv.Publish(t, events.SubjectLeadsEnriched, ev)
	srv.Await(t, events.StreamDLQ, "gtm.dlq.store.>", 1, 10*time.Second)

	out, err := gtmhub(t, srv, "", "dlq", "ls", "--json", "--service", "store")
	if err != nil {
		t.Fatal(err, out)
	}
	var dls []deadLetter
	if err := json.Unmarshal([]byte(out), &dls); err != nil || len(dls) != 1 {
		t.Fatalf("dlq ls: %v %s", err, out)
	}
	d := dls[0]
	if d.Service != "store" || d.Attempts != "3" || d.TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" ||
		!strings.Contains(d.Error, "500") || d.EventID != ev.ID() {
		t.Errorf("dead letter %+v", d)
	}
	if out, err := gtmhub(t, srv, "", "dlq", "show", fmt.Sprint(d.Seq)); err != nil || !strings.Contains(out, "ada@example.com") ||
		!strings.Contains(out, "gtmhub dlq redrive") {
		t.Errorf("dlq show: %v\n%s", err, out)
	}

	healthy.Store(true)
	if out, err := gtmhub(t, srv, "", "dlq", "redrive", "--all", "--dry-run"); err != nil ||
		out != fmt.Sprintf("would redrive %d to %s (event %s)\n", d.Seq, d.Subject, ev.ID()) {
		t.Fatalf("dry run: %v %q", err, out)
	}
	out, err = gtmhub(t, srv, "", "dlq", "redrive", "--all", "--json")
	if err != nil {
		t.Fatal(err, out)
	}
	var redriven []deadLetter
	if err := json.Unmarshal([]byte(out), &redriven); err != nil || len(redriven) != 1 || redriven[0].Seq != d.Seq {
		t.Fatalf("dlq redrive --json: %v %s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := delivered[ev.ID()]
		mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivered %d times after redrive", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := srv.Count(t, events.StreamDLQ, "gtm.dlq.>"); n != 0 {
		t.Errorf("DLQ holds %d after redrive", n)
	}
	waitIdle(t, srv, events.StreamLeads, "store")
	mu.Lock()
	defer mu.Unlock()
	if delivered[ev.ID()] != 1 {
		t.Errorf("delivered %d times", delivered[ev.ID()])
	}
}

func TestDLQPurgeAsks(t *testing.T) {
	srv := eventstest.RunServer(t)
	c, err := events.NewConsumer(srv.JS, events.ConsumerSpec{Service: "notify", Stream: events.StreamRecords,
		Durable: "notify", Filters: []string{"gtm.records.>"}},
		func(context.Context, event.Event) error {
			return events.Permanent(errors.New("slack 404 channel_not_found"))
		})
	if err != nil {
		t.Fatal(err)
	}
	eventstest.Go(t, c.Run)
	for range 2 {
		srv.Publish(t, events.SubjectContactCreated, eventstest.NewEvent(t, "com.gtmhub.contact.created", nil))
	}
	srv.Await(t, events.StreamDLQ, "gtm.dlq.>", 2, 10*time.Second)
	if _, err := gtmhub(t, srv, "n\n", "dlq", "purge", "--service", "notify"); err == nil {
		t.Error("purge went ahead without a yes")
	}
	if n := srv.Count(t, events.StreamDLQ, "gtm.dlq.>"); n != 2 {
		t.Fatalf("DLQ holds %d after a refused purge", n)
	}
	if out, err := gtmhub(t, srv, "y\n", "dlq", "purge", "--service", "notify"); err != nil {
		t.Fatal(err, out)
	}
	if n := srv.Count(t, events.StreamDLQ, "gtm.dlq.>"); n != 0 {
		t.Errorf("DLQ holds %d after purge", n)
	}
}

func TestSubjectMatches(t *testing.T) {
	tests := []struct {
		pattern, subject string
		want             bool
	}{
		{"gtm.leads.>", "gtm.leads.captured.form", true},
		{"gtm.leads.*", "gtm.leads.enriched", true},
		{"gtm.leads.*", "gtm.leads.captured.form", false},
		{"gtm.leads.enriched", "gtm.leads.enriched", true},
		{"gtm.leads.>", "gtm.leads", false},
		{"gtm.records.*.created", "gtm.records.contact.created", true},
	}
	for _, tt := range tests {
		if got := subjectMatches(tt.pattern, tt.subject); got != tt.want {
			t.Errorf("subjectMatches(%q, %q) = %v", tt.pattern, tt.subject, got)
		}
	}
}

// waitIdle waits until a consumer has nothing pending or unacknowledged.
func waitIdle(t *testing.T, srv *eventstest.Server, stream, durable string) {
	t.Helper()
	srv.AwaitSettled(t, stream, durable, 10*time.Second)
}

// TestListingsLeaveNoLastingConsumer: the consumers `dlq ls` and
// `quarantine ls` read through go within seconds of the command, so that
// gtmhub status does not list them for minutes.
func TestListingsLeaveNoLastingConsumer(t *testing.T) {
	srv := eventstest.RunServer(t)
	for _, tt := range []struct {
		stream string
		args   []string
	}{
		{events.StreamDLQ, []string{"dlq", "ls"}},
		{events.StreamQuarantine, []string{"quarantine", "ls"}},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			if out, err := gtmhub(t, srv, "", tt.args...); err != nil {
				t.Fatal(err, out)
			}
			stream, err := srv.JS.Stream(context.Background(), tt.stream)
			if err != nil {
				t.Fatal(err)
			}
			list := stream.ListConsumers(context.Background())
			n := 0
			for info := range list.Info() {
				n++
				if info.Config.Durable == "" && (info.Config.InactiveThreshold == 0 || info.Config.InactiveThreshold > 10*time.Second) {
					t.Errorf("consumer %s on %s lasts %s after its last read, want at most 10s",
						info.Name, tt.stream, info.Config.InactiveThreshold)
				}
			}
			if err := list.Err(); err != nil || n == 0 {
				t.Fatalf("%d consumers on %s, %v: want the listing's", n, tt.stream, err)
			}
		})
	}
}

func TestDeadLetterErrorText(t *testing.T) {
	tests := []struct{ reason, err, want string }{
		{"permanent", "permanent: 422 from the provider", "permanent: 422 from the provider"},
		{"max_deliver", "destination answered 500", "max_deliver: destination answered 500"},
		{"", "destination answered 500", "destination answered 500"},
	}
	for _, tt := range tests {
		if got := (deadLetter{Reason: tt.reason, Error: tt.err}).errorText(); got != tt.want {
			t.Errorf("errorText(%q, %q) = %q, want %q", tt.reason, tt.err, got, tt.want)
		}
	}
}

// deadLetterOn stores in the DLQ a dead letter of durable for an event
// first published on subject, and returns its DLQ sequence.
func deadLetterOn(t *testing.T, srv *eventstest.Server, service, durable, subject string) uint64 {
	t.Helper()
	ev := eventstest.NewEvent(t, "com.gtmhub.lead.enriched", map[string]string{"email": "ada@example.com"})
	pub := srv.Publish(t, subject, ev)
	now := time.Now()
	msg := events.DeadLetter(events.Delivery{Service: service, Consumer: durable, Stream: pub.Stream, Subject: subject,
		Sequence: pub.Sequence, Attempt: 8}, nil, []byte(`{}`), ev, "max_deliver", errors.New("500"), now, now)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := srv.JS.PublishMsg(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// TestDLQRedriveRefusesUnreadSubjects: a dead letter whose subject no
// consumer reads any more stays in the DLQ, named in the error, unless
// --force; one a consumer reads is redriven alongside.
func TestDLQRedriveRefusesUnreadSubjects(t *testing.T) {
	srv := eventstest.RunServer(t)
	orphan := deadLetterOn(t, srv, "archive", "archive", "gtm.raw.github.push")
	read := deadLetterOn(t, srv, "store", "store", events.SubjectLeadsEnriched)

	out, err := gtmhub(t, srv, "", "dlq", "redrive", "--all")
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("dead letter %d left in the DLQ: no consumer reads gtm.raw.github.push", orphan)) {
		t.Fatalf("redrive --all: %v\n%s", err, out)
	}
	if !strings.Contains(out, fmt.Sprintf("redrove %d to %s", read, events.SubjectLeadsEnriched)) {
		t.Errorf("redrive --all printed %q, want the read one redriven", out)
	}
	if n := srv.Count(t, events.StreamDLQ, "gtm.dlq.>"); n != 1 {
		t.Fatalf("DLQ holds %d, want the unread one", n)
	}
	if out, err := gtmhub(t, srv, "", "dlq", "redrive", "--force", fmt.Sprint(orphan)); err != nil {
		t.Fatalf("redrive --force: %v\n%s", err, out)
	}
	if n := srv.Count(t, events.StreamDLQ, "gtm.dlq.>"); n != 0 {
		t.Errorf("DLQ holds %d after --force", n)
	}
}

// TestDLQRedriveNamesWhatIsMissing: sequences, message ids and filters that
// match no dead letter fail the command, naming each; what was found is
// still redriven.
func TestDLQRedriveNamesWhatIsMissing(t *testing.T) {
	srv := eventstest.RunServer(t)
	seq := deadLetterOn(t, srv, "store", "store", events.SubjectLeadsEnriched)
	tests := []struct {
		name    string
		args    []string
		wantErr []string
	}{
		{"unknown sequence", []string{"999", "998"}, []string{"no dead letter 999 in the DLQ", "no dead letter 998 in the DLQ"}},
		{"unknown message id", []string{"--msg-id", "nosuch"}, []string{"no dead letter with --msg-id nosuch"}},
		{"unknown service", []string{"--service", "nosuch"}, []string{"no dead letter matches"}},
		{"sequence filtered out", []string{"--service", "enrich", fmt.Sprint(seq)},
			[]string{fmt.Sprintf("no dead letter %d among the dead letters the filters keep", seq)}},
		{"found and missing", []string{fmt.Sprint(seq), "999"}, []string{"no dead letter 999 in the DLQ"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := gtmhub(t, srv, "", append([]string{"dlq", "redrive", "--dry-run"}, tt.args...)...)
			if err == nil {
				t.Fatalf("redrive %v succeeded:\n%s", tt.args, out)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("redrive %v: %v, want it to say %q", tt.args, err, w)
				}
			}
		})
	}
	out, err := gtmhub(t, srv, "", "dlq", "redrive", fmt.Sprint(seq), "999")
	if err == nil || !strings.Contains(out, fmt.Sprintf("redrove %d", seq)) {
		t.Fatalf("redrive %d 999: %v\n%s", seq, err, out)
	}
	if out, err := gtmhub(t, srv, "", "dlq", "redrive", "--all"); err != nil || out != "nothing to redrive\n" {
		t.Errorf("redrive --all of an empty DLQ: %v %q", err, out)
	}
}

func TestConsumerReads(t *testing.T) {
	tests := []struct {
		subject string
		want    bool
	}{
		{"gtm.leads.captured.form", true},
		{events.SubjectLeadsEnriched, true},
		{"gtm.records.contact.created", true},
		{events.ReplaySubject("store", events.SubjectLeadsEnriched), true},
		{"gtm.raw.github.push", false},
		{"gtm.knowledge.page.synced", false},
		{events.ReplaySubject("archive", "gtm.raw.github.push"), false},
	}
	for _, tt := range tests {
		if got := consumerReads(events.DefaultTopology(), tt.subject); got != tt.want {
			t.Errorf("consumerReads(%q) = %v, want %v", tt.subject, got, tt.want)
		}
	}
}
