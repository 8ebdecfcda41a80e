package events_test

import (
	"context"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
)

func TestPublishSameIDStoredOnce(t *testing.T) {
	srv := eventstest.RunServer(t)
	pub, err := events.NewPublisher(srv.JS, events.WithMaxPending(4))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ev := eventstest.NewEvent(t, "com.gtmhub.lead.captured", map[string]string{"email": "ada@example.com"})
	first, err := pub.PublishAck(ctx, testSubject, ev)
	if err != nil {
		t.Fatal(err)
	}
	second, err := pub.PublishAck(ctx, testSubject, ev)
	if err != nil {
		t.Fatal(err)
	}
	if first.Duplicate || !second.Duplicate || first.Sequence != second.Sequence {
		t.Errorf("acks %+v then %+v: want the second to be the first's duplicate", first, second)
	}
	if n := srv.Count(t, events.StreamLeads, testSubject); n != 1 {
		t.Errorf("stream holds %d messages, want 1", n)
	}
}

func TestPublishInjectsTraceAndCarriesEvent(t *testing.T) {
	srv := eventstest.RunServer(t)
	pub, err := events.NewPublisher(srv.JS)
	if err != nil {
		t.Fatal(err)
	}
	ev := eventstest.NewEvent(t, "com.gtmhub.lead.captured", map[string]string{"email": "ada@example.com"})
	ctx := contextWithSpan(t)
	if err := pub.Publish(ctx, testSubject, ev); err != nil {
		t.Fatal(err)
	}
	got := srv.Await(t, events.StreamLeads, testSubject, 1, 5*time.Second)[0]
	dec, err := events.Decode(got.Headers(), got.Data())
	if err != nil {
		t.Fatal(err)
	}
	if dec.ID() != ev.ID() || events.TraceID(dec) != testTraceID {
		t.Errorf("id %s trace %q: want %s and %s", dec.ID(), events.TraceID(dec), ev.ID(), testTraceID)
	}
	if got.Headers().Get(events.HeaderMsgID) != ev.ID() {
		t.Errorf("Nats-Msg-Id = %q", got.Headers().Get(events.HeaderMsgID))
	}
}

func TestPublishErrorsSayWhetherToRetry(t *testing.T) {
	tests := []struct {
		name      string
		subject   string
		stop      bool
		retryable bool
	}{
		{"no stream for subject", "nowhere.at.all", false, true},
		{"server gone", testSubject, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := eventstest.RunServer(t)
			pub, err := events.NewPublisher(srv.JS)
			if err != nil {
				t.Fatal(err)
			}
			if tt.stop {
				srv.Shutdown()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			err = pub.Publish(ctx, tt.subject, eventstest.NewEvent(t, "com.gtmhub.lead.captured", nil))
			if err == nil {
				t.Fatal("want an error")
			}
			if events.IsRetryable(err) != tt.retryable {
				t.Errorf("IsRetryable(%v) = %v, want %v", err, !tt.retryable, tt.retryable)
			}
		})
	}
}
