package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
)

// TestAnnounceBreakerStates: two instances of one service each answer
// their own breakers on the subject their $SRV.INFO gives.
func TestAnnounceBreakerStates(t *testing.T) {
	srv := eventstest.RunServer(t, eventstest.WithoutTopology())
	tripped := events.NewBreakers(events.WithTripAfter(1), events.WithDestinations("hunter"))
	_ = tripped.Do(context.Background(), "clearbit", func(context.Context) error { return errors.New("503") })
	tests := []struct {
		breakers []*events.Breakers
		want     []string
	}{
		{[]*events.Breakers{tripped, events.NewBreakers(events.WithDestinations("apollo"))},
			[]string{"apollo closed", "clearbit open", "hunter closed"}},
		{nil, nil},
	}
	ids := map[string][]string{}
	for _, tt := range tests {
		reg := service.NewBreakerRegistry()
		for _, b := range tt.breakers {
			reg.Register(b)
		}
		svc, err := service.Announce(srv.Conn, "enrich", service.Version, service.WithBreakerStates(reg))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = svc.Stop() })
		ids[svc.Info().ID] = tt.want
	}
	subj, err := micro.ControlSubject(micro.InfoVerb, "gtmhub-enrich", "")
	if err != nil {
		t.Fatal(err)
	}
	infos := requestAll(t, srv, subj, len(tests))
	for _, info := range infos {
		want, ok := ids[info.ID]
		i := slices.IndexFunc(info.Endpoints, func(e micro.EndpointInfo) bool { return e.Name == service.BreakersEndpoint })
		if !ok || i < 0 {
			t.Fatalf("info %+v: unknown instance or no %s endpoint", info, service.BreakersEndpoint)
		}
		m, err := srv.Conn.Request(info.Endpoints[i].Subject, nil, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var states []events.BreakerState
		if err := json.Unmarshal(m.Data, &states); err != nil {
			t.Fatal(err, string(m.Data))
		}
		var got []string
		for _, s := range states {
			got = append(got, s.Destination+" "+s.State)
			if (s.State == "open") == s.RetryAt.IsZero() {
				t.Errorf("%s %s retries at %v", s.Destination, s.State, s.RetryAt)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("instance %s: states %v, want %v", info.ID, got, want)
		}
	}
}

// requestAll sends one request and decodes the first n replies.
func requestAll(t *testing.T, srv *eventstest.Server, subject string, n int) []micro.Info {
	t.Helper()
	inbox := srv.Conn.NewRespInbox()
	sub, err := srv.Conn.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := srv.Conn.PublishRequest(subject, inbox, nil); err != nil {
		t.Fatal(err)
	}
	var out []micro.Info
	for range n {
		m, err := sub.NextMsg(2 * time.Second)
		if err != nil {
			t.Fatalf("%d of %d replies: %v", len(out), n, err)
		}
		var info micro.Info
		if err := json.Unmarshal(m.Data, &info); err != nil {
			t.Fatal(err)
		}
		out = append(out, info)
	}
	return out
}
