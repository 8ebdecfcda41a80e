package events_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
)

func TestTopologyEnsureIsIdempotent(t *testing.T) {
	srv := eventstest.RunServer(t, eventstest.WithoutTopology())
	ctx := context.Background()
	topo := events.DefaultTopology()
	for range 2 {
		if err := topo.Ensure(ctx, srv.JS, events.WithDuplicateWindow(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]struct {
		subject string
		maxAge  time.Duration
	}{
		"LEADS": {"gtm.leads.>", 30 * 24 * time.Hour}, "RECORDS": {"gtm.records.>", 30 * 24 * time.Hour},
		"RAW": {"gtm.raw.>", 7 * 24 * time.Hour}, "NOTIFY": {"gtm.notify.>", 30 * 24 * time.Hour},
		"KNOWLEDGE": {"gtm.knowledge.>", 30 * 24 * time.Hour}, "DLQ": {"gtm.dlq.>", 30 * 24 * time.Hour},
		"QUARANTINE": {"gtm.quarantine.>", 14 * 24 * time.Hour}, "REPLAY": {"gtm.replay.>", 7 * 24 * time.Hour},
	}
	for name, w := range want {
		s, err := srv.JS.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		cfg := s.CachedInfo().Config
		if !slices.Equal(cfg.Subjects, []string{w.subject}) || cfg.MaxAge != w.maxAge ||
			cfg.Duplicates != time.Minute || cfg.Retention != jetstream.LimitsPolicy || cfg.Storage != jetstream.FileStorage {
			t.Errorf("stream %s config %+v", name, cfg)
		}
	}
	for _, c := range topo.Consumers {
		info, err := srv.JS.Consumer(ctx, c.Stream, c.Durable)
		if err != nil {
			t.Fatalf("consumer %s: %v", c.Durable, err)
		}
		cfg := info.CachedInfo().Config
		if cfg.AckPolicy != jetstream.AckExplicitPolicy || cfg.MaxAckPending <= 0 || cfg.Metadata["gtmhub.service"] != c.Service {
			t.Errorf("consumer %s config %+v", c.Durable, cfg)
		}
	}
}

func TestSubjectTokens(t *testing.T) {
	tests := []struct {
		tokens []string
		want   string
		ok     bool
	}{
		{[]string{"form"}, "gtm.leads.captured.form", true},
		{[]string{"hub-spot_2"}, "gtm.leads.captured.hub-spot_2", true},
		{[]string{"Form"}, "", false},
		{[]string{"a.b"}, "", false},
		{[]string{">"}, "", false},
		{[]string{""}, "", false},
	}
	for _, tt := range tests {
		got, err := events.Subject(events.SubjectLeadsCaptured, tt.tokens...)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("Subject(%v) = %q, %v", tt.tokens, got, err)
		}
	}
}

func TestConsumerSpecValidate(t *testing.T) {
	bad := events.ConsumerSpec{Service: "Bad Name", Durable: "a.b"}
	err := bad.Validate()
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{"service", "stream", "durable", "filter"} {
		if !containsAny(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}
