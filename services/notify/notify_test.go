package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/services/notify"
)

const wait = 10 * time.Second

// startNotify runs the service on srv until the test ends and checks that it
// stops cleanly.
func startNotify(t *testing.T, srv *eventstest.Server, cfg notify.Config) {
	t.Helper()
	eventstest.Go(t, func(ctx context.Context) error { return notify.Run(ctx, cfg, service.Deps{Conn: srv.Conn}) })
}

func contactEvent(t *testing.T, typ, email string, score float64) event.Event {
	t.Helper()
	now := time.Now().UTC()
	return eventstest.NewEvent(t, typ, contracts.ContactChanged{
		Contact: contracts.Contact{Lead: contracts.Lead{Email: email, SignalScore: &score}, UpdatedAt: &now},
		Changes: []contracts.FieldChange{{Field: "signal_score", Old: nil, New: score}},
	})
}

func subjectFor(typ string) string {
	if typ == contracts.TypeContactUpdated {
		return events.SubjectContactUpdated
	}
	return events.SubjectContactCreated
}

func publish(t *testing.T, srv *eventstest.Server, ev event.Event) {
	t.Helper()
	srv.Publish(t, subjectFor(ev.Type()), ev)
}

// awaitSettled waits until the notify consumer has handled everything
// published so far.
func awaitSettled(t *testing.T, srv *eventstest.Server) {
	t.Helper()
	srv.AwaitSettled(t, events.StreamRecords, notify.Name, wait)
}

// decisions reads n decisions from NOTIFY, checking each against its
// contract and its subject.
func decisions(t *testing.T, srv *eventstest.Server, n int) []contracts.Notification {
	t.Helper()
	var out []contracts.Notification
	for _, m := range srv.Await(t, events.StreamNotify, "gtm.notify.>", n, wait) {
		ev, err := events.Decode(m.Headers(), m.Data())
		if err != nil {
			t.Fatal(err)
		}
		if err := contracts.Validate(ev.Type(), ev.Data()); err != nil {
			t.Errorf("decision %s breaks its contract: %v", ev.ID(), err)
		}
		var d contracts.Notification
		if err := json.Unmarshal(ev.Data(), &d); err != nil {
			t.Fatal(err)
		}
		// The final decision about a notification has its ledger key as id.
		final := d.Outcome == contracts.OutcomeSent || d.Outcome == contracts.OutcomeSkipped ||
			d.Reason == notify.ReasonInterrupted
		if ev.Type() != contracts.TypeNotificationSent || ev.Source() != notify.Source ||
			m.Subject() != "gtm.notify."+string(d.Outcome) || final != (ev.ID() == notify.DecisionID(d.Rule, d.DedupeKey)) {
			t.Errorf("decision %s: type %s, source %s, subject %s, outcome %s", ev.ID(), ev.Type(), ev.Source(), m.Subject(), d.Outcome)
		}
		out = append(out, d)
	}
	return out
}

func TestRunRecordsEachNotificationOnce(t *testing.T) {
	srv := eventstest.RunServer(t)
	startNotify(t, srv, notify.DefaultConfig())

	hot := contactEvent(t, contracts.TypeContactCreated, "ada@example.com", 90)
	cold := contactEvent(t, contracts.TypeContactCreated, "bob@example.com", 10)
	publish(t, srv, hot)
	publish(t, srv, cold)

	got := map[string][]contracts.Notification{}
	for _, d := range decisions(t, srv, 3) {
		got[d.Rule] = append(got[d.Rule], d)
		if d.Outcome != contracts.OutcomeSkipped || d.Reason != notify.ReasonNotConfigured {
			t.Errorf("decision %+v, want skipped: %s", d, notify.ReasonNotConfigured)
		}
	}
	if hi := got["high-intent"]; len(hi) != 1 || hi[0].EventID != hot.ID() || hi[0].Target != "#high-intent" ||
		hi[0].Channel != contracts.ChannelSlack {
		t.Errorf("high-intent decisions %+v, want one for %s", hi, hot.ID())
	}
	if nu := got["new-lead-nurture"]; len(nu) != 2 || nu[0].Channel != contracts.ChannelEmail ||
		nu[0].Target == "ada@example.com" || nu[0].Target == "bob@example.com" {
		t.Errorf("nurture decisions %+v, want two emails with redacted targets", nu)
	}

	// The same contact again under a new event id, created and updated: the
	// dedupe keys are the same, so nothing new is acted on, and each match
	// is recorded as suppressed with the earlier decision as its reason.
	publish(t, srv, contactEvent(t, contracts.TypeContactCreated, "ada@example.com", 95))
	publish(t, srv, contactEvent(t, contracts.TypeContactUpdated, "ada@example.com", 99))
	awaitSettled(t, srv)
	if n := srv.Count(t, events.StreamNotify, "gtm.notify.>"); n != 6 {
		t.Errorf("%d decisions after re-publishing, want 6", n)
	}
	for _, d := range decisions(t, srv, 6)[3:] {
		if d.Outcome != contracts.OutcomeSuppressed || !strings.HasPrefix(d.Reason, "already skipped for event "+hot.ID()) {
			t.Errorf("decision %+v, want suppressed: already skipped for %s", d, hot.ID())
		}
	}

	kv, err := srv.JS.KeyValue(context.Background(), notify.LedgerBucket)
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.TTL() != notify.DefaultDedupeWindow || st.Values() != 3 {
		t.Errorf("ledger TTL %s with %d values, want %s and 3", st.TTL(), st.Values(), notify.DefaultDedupeWindow)
	}
	kve, err := kv.Get(context.Background(), notify.DecisionID("high-intent", "ada@example.com"))
	if err != nil {
		t.Fatalf("ledger has no high-intent entry for ada: %v", err)
	}
	var e notify.LedgerEntry
	if err := json.Unmarshal(kve.Value(), &e); err != nil || e.State != notify.StateSkipped || e.EventID != hot.ID() {
		t.Errorf("ledger entry %+v (%v), want skipped for %s", e, err, hot.ID())
	}
}

// replay puts ev on the notify consumer's replay subject the way `gtmhub
// replay` does.
func replay(t *testing.T, srv *eventstest.Server, ev event.Event, sideEffects bool) {
	t.Helper()
	subject := subjectFor(ev.Type())
	msg, err := events.Encode(subject, ev)
	if err != nil {
		t.Fatal(err)
	}
	rm, err := events.ReplayMsg("r1", 1, subject, msg.Header, msg.Data, events.ReplaySubject(notify.Name, subject), sideEffects)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.JS.PublishMsg(context.Background(), rm); err != nil {
		t.Fatal(err)
	}
}

func TestRunReplays(t *testing.T) {
	tests := []struct {
		name        string
		replays     bool
		sideEffects bool
		want        contracts.Outcome
		reason      string
	}{
		{"default", false, false, contracts.OutcomeSuppressed, notify.ReasonReplay},
		{"side effects requested", false, true, contracts.OutcomeSkipped, notify.ReasonNotConfigured},
		{"notify_replays", true, false, contracts.OutcomeSkipped, notify.ReasonNotConfigured},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := eventstest.RunServer(t)
			cfg := notify.DefaultConfig()
			cfg.NotifyReplays = tt.replays
			startNotify(t, srv, cfg)

			replay(t, srv, contactEvent(t, contracts.TypeContactUpdated, "ada@example.com", 90), tt.sideEffects)
			if d := decisions(t, srv, 1)[0]; d.Outcome != tt.want || d.Reason != tt.reason {
				t.Errorf("decision %+v, want %s: %s", d, tt.want, tt.reason)
			}
		})
	}
}

type fakeSender struct {
	mu   sync.Mutex
	got  []notify.Message
	fail error
}

func (s *fakeSender) Send(_ context.Context, m notify.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, m)
	return s.fail
}

func TestRunDeliversThroughSenders(t *testing.T) {
	srv := eventstest.RunServer(t)
	slack := &fakeSender{}
	email := &fakeSender{fail: events.Permanent(errors.New("550 mailbox unavailable"))}
	cfg := notify.DefaultConfig()
	cfg.Senders = map[contracts.Channel]notify.Sender{contracts.ChannelSlack: slack, contracts.ChannelEmail: email}
	startNotify(t, srv, cfg)

	hot := contactEvent(t, contracts.TypeContactCreated, "ada@example.com", 90)
	publish(t, srv, hot)
	byRule := map[string]contracts.Notification{}
	for _, d := range decisions(t, srv, 2) {
		byRule[d.Rule] = d
	}
	if d := byRule["high-intent"]; d.Outcome != contracts.OutcomeSent || d.Reason != "" {
		t.Errorf("high-intent decision %+v, want sent", d)
	}
	if d := byRule["new-lead-nurture"]; d.Outcome != contracts.OutcomeFailed || !strings.Contains(d.Reason, "550 mailbox unavailable") {
		t.Errorf("nurture decision %+v, want failed with the reason", d)
	}
	// The refused email dead-letters the event, with the reason.
	dead := srv.Await(t, events.StreamDLQ, events.DLQSubject(notify.Name, ">"), 1, wait)
	if id := dead[0].Headers().Get("ce-id"); id != hot.ID() ||
		!strings.Contains(dead[0].Headers().Get(events.DLQHeaderError), "550 mailbox unavailable") {
		t.Errorf("dead letter %s with error %q", id, dead[0].Headers().Get(events.DLQHeaderError))
	}

	publish(t, srv, contactEvent(t, contracts.TypeContactUpdated, "ada@example.com", 91))
	awaitSettled(t, srv)
	slack.mu.Lock()
	defer slack.mu.Unlock()
	if len(slack.got) != 1 || slack.got[0].Target != "#high-intent" || slack.got[0].Event.ID() != hot.ID() ||
		slack.got[0].Data["contact"] == nil {
		t.Errorf("slack got %+v, want one message for %s", slack.got, hot.ID())
	}
}

func TestRunDeadLettersBadEvents(t *testing.T) {
	srv := eventstest.RunServer(t)
	cfg := notify.DefaultConfig()
	cfg.Rules = []notify.Rule{{Name: "strict", On: []string{contracts.TypeContactUpdated},
		When: "data.contact.title == 'CTO'", Action: contracts.ChannelSlack, Target: "#cto",
		Dedupe: "{{.data.contact.phone}}"}}
	startNotify(t, srv, cfg)

	broken := eventstest.NewEvent(t, contracts.TypeContactCreated, map[string]any{"contact": map[string]any{"email": "ada"}})
	publish(t, srv, broken)
	noPhone := contactEvent(t, contracts.TypeContactUpdated, "ada@example.com", 50)
	data, _ := json.Marshal(map[string]any{
		"contact": map[string]any{"email": "ada@example.com", "title": "CTO", "updated_at": time.Now().UTC()},
		"changes": []map[string]any{{"field": "title", "old": nil, "new": "CTO"}},
	})
	if err := noPhone.SetData(event.ApplicationJSON, data); err != nil {
		t.Fatal(err)
	}
	publish(t, srv, noPhone)

	dead := srv.Await(t, events.StreamDLQ, events.DLQSubject(notify.Name, ">"), 2, wait)
	ids := map[string]bool{}
	for _, m := range dead {
		ids[m.Headers().Get("ce-id")] = true
	}
	if !ids[broken.ID()] || !ids[noPhone.ID()] {
		t.Errorf("dead letters %v, want %s and %s", ids, broken.ID(), noPhone.ID())
	}
	if n := srv.Count(t, events.StreamNotify, "gtm.notify.>"); n != 0 {
		t.Errorf("%d decisions, want none", n)
	}
}

func TestRunRejectsInvalidConfig(t *testing.T) {
	cfg := notify.DefaultConfig()
	cfg.Rules = []notify.Rule{{Name: "x", On: []string{contracts.TypeContactCreated}, When: "(", Action: "slack", Target: "#x"}}
	if err := notify.Run(context.Background(), cfg, service.Deps{}); err == nil {
		t.Fatal("Run started with a broken rule")
	}
}

// TestRunNotesInertChannels: with neither Slack nor SMTP configured, notify
// tells gtmhub status that its default rules are inert, and why.
func TestRunNotesInertChannels(t *testing.T) {
	srv := eventstest.RunServer(t)
	startNotify(t, srv, notify.DefaultConfig())
	deadline := time.Now().Add(wait)
	for {
		notes, err := service.ListNotes(context.Background(), srv.JS)
		notes = slices.DeleteFunc(notes, func(n service.Note) bool { return !strings.HasPrefix(n.Key, "channel.") })
		if err == nil && len(notes) == 2 {
			for _, n := range notes {
				if n.Service != "notify" || n.Level != service.LevelWarning || !strings.Contains(n.Text, "not configured") ||
					!strings.Contains(n.Text, "inert rules: ") {
					t.Errorf("note %+v", n)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("notes %+v, %v", notes, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
