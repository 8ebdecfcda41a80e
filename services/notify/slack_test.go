package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/services/notify"
	"github.com/gtmhub/gtmhub/services/notify/internal/fakeslack"
)

const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"

func slackConfig(fake *fakeslack.Server) notify.Config {
	cfg := notify.DefaultConfig()
	cfg.Slack = notify.Slack{WebhookURL: fake.Webhook("high-intent-secret-token"), HTTPClient: fake.Client(),
		TracingUIURL: "https://jaeger.example.test/"}
	return cfg
}

func leadEvent(t *testing.T, email string, score float64) event.Event {
	t.Helper()
	now := time.Now().UTC()
	ev := eventstest.NewEvent(t, contracts.TypeContactCreated, contracts.ContactChanged{
		Contact: contracts.Contact{Lead: contracts.Lead{Email: email, FirstName: "Ada", LastName: "Lovelace",
			Company: "Analytical Engines", Title: "CTO", Source: "form", SignalScore: &score,
			IntentScore: ptr(70.0), FitScore: ptr(60.0)}, UpdatedAt: &now},
		Changes: []contracts.FieldChange{{Field: "email", New: email}, {Field: "signal_score", New: score}},
	})
	ev.SetExtension("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	return ev
}

func ptr[T any](v T) *T { return &v }

// redeliver publishes ev again under a fresh Nats-Msg-Id, as a redelivery,
// a producer retry outside the duplicate window or a `dlq redrive` would.
func redeliver(t *testing.T, srv *eventstest.Server, ev event.Event, n int) {
	t.Helper()
	msg, err := events.Encode(subjectFor(ev.Type()), ev)
	if err != nil {
		t.Fatal(err)
	}
	msg.Header.Set(nats.MsgIdHdr, ev.ID()+"-again-"+string(rune('a'+n)))
	if _, err := srv.JS.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
}

func ledgerEntry(t *testing.T, srv *eventstest.Server, id string) notify.LedgerEntry {
	t.Helper()
	kv, err := srv.JS.KeyValue(context.Background(), notify.LedgerBucket)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("ledger %s: %v", id, err)
	}
	var le notify.LedgerEntry
	if err := json.Unmarshal(e.Value(), &le); err != nil {
		t.Fatal(err)
	}
	return le
}

func TestSlackHighIntentLeadPostedOnce(t *testing.T) {
	srv := eventstest.RunServer(t)
	fake := fakeslack.New(t)
	startNotify(t, srv, slackConfig(fake))

	lead := leadEvent(t, "ada@example.com", 85)
	publish(t, srv, lead)
	msgs := fake.Wait(1, wait)
	if len(msgs) != 1 {
		t.Fatalf("%d Slack posts, want 1", len(msgs))
	}
	raw := string(msgs[0].Raw)
	for _, want := range []string{"Ada Lovelace", "Analytical Engines", "CTO", "form", "85", "70", "60",
		"https://jaeger.example.test/trace/" + traceID, lead.ID()} {
		if !strings.Contains(raw, want) {
			t.Errorf("Slack message lacks %q: %s", want, raw)
		}
	}

	// The same event delivered three more times, then replayed without and
	// with side effects: nothing is posted again.
	for i := range 3 {
		redeliver(t, srv, lead, i)
	}
	replay(t, srv, lead, false)
	replay(t, srv, lead, true)
	awaitSettled(t, srv)
	awaitReplaysSettled(t, srv)
	if got := fake.Messages(); len(got) != 1 {
		t.Errorf("%d Slack posts after redeliveries and replays, want 1", len(got))
	}

	kv, err := srv.JS.KeyValue(context.Background(), notify.LedgerBucket)
	if err != nil {
		t.Fatal(err)
	}
	hist, err := kv.History(context.Background(), notify.DecisionID("high-intent", "ada@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	if le := ledgerEntry(t, srv, notify.DecisionID("high-intent", "ada@example.com")); len(hist) != 1 ||
		le.State != notify.StateSent || le.EventID != lead.ID() || !le.Published {
		t.Errorf("ledger entry %+v (%d versions), want one, sent for %s and published", le, len(hist), lead.ID())
	}
	if n := srv.Count(t, events.StreamNotify, events.SubjectNotifySent); n != 1 {
		t.Errorf("%d sent decisions, want 1", n)
	}
	// The replay without side effects is on record as suppressed.
	var replayed bool
	for _, d := range decisions(t, srv, int(srv.Count(t, events.StreamNotify, "gtm.notify.>"))) {
		replayed = replayed || (d.Rule == "high-intent" && d.Reason == notify.ReasonReplay)
	}
	if !replayed {
		t.Error("no suppressed decision for the replay")
	}
}

func awaitReplaysSettled(t *testing.T, srv *eventstest.Server) {
	t.Helper()
	srv.AwaitSettled(t, events.StreamReplay, notify.Name+"-replay", wait)
}

func TestSlackRetryAfterDelaysThePost(t *testing.T) {
	srv := eventstest.RunServer(t)
	fake := fakeslack.New(t)
	fake.FailNext(fakeslack.Response{Status: 429, Body: "rate_limited", RetryAfter: 3 * time.Second})
	startNotify(t, srv, slackConfig(fake))

	start := time.Now()
	publish(t, srv, leadEvent(t, "ada@example.com", 85))
	msgs := fake.Wait(1, wait)
	if len(msgs) != 1 {
		t.Fatalf("%d Slack posts, want 1", len(msgs))
	}
	if d := msgs[0].At.Sub(start); d < 3*time.Second {
		t.Errorf("posted %s after the event, want at least the 3s Slack asked for", d)
	}
	awaitSettled(t, srv)
	if n := len(fake.Messages()); n != 1 || len(fake.Rejected()) != 1 {
		t.Errorf("%d posts and %d refusals, want 1 and 1", n, len(fake.Rejected()))
	}
	if n := srv.Count(t, events.StreamNotify, events.SubjectNotifySent); n != 1 {
		t.Errorf("%d sent decisions, want 1", n)
	}
}

func TestSlackNotFoundDeadLetters(t *testing.T) {
	srv := eventstest.RunServer(t)
	fake := fakeslack.New(t)
	fake.FailNext(fakeslack.Response{Status: 404, Body: "channel_not_found"})
	startNotify(t, srv, slackConfig(fake))

	lead := leadEvent(t, "ada@example.com", 85)
	publish(t, srv, lead)
	dead := srv.Await(t, events.StreamDLQ, events.DLQSubject(notify.Name, ">"), 1, wait)
	h := dead[0].Headers()
	if h.Get("ce-id") != lead.ID() || h.Get(events.DLQHeaderReason) != "permanent" ||
		!strings.Contains(h.Get(events.DLQHeaderError), "404 channel_not_found") {
		t.Errorf("dead letter %s: reason %q, error %q", h.Get("ce-id"), h.Get(events.DLQHeaderReason), h.Get(events.DLQHeaderError))
	}
	if e := h.Get(events.DLQHeaderError); strings.Count(e, "permanent") > 1 || !strings.Contains(e, "rule high-intent") {
		t.Errorf("dead letter error %q, want the rule and one permanent prefix", e)
	}
	if strings.Contains(h.Get(events.DLQHeaderError), "secret-token") {
		t.Errorf("dead letter repeats the webhook URL: %s", h.Get(events.DLQHeaderError))
	}
	var failed *contracts.Notification
	for _, d := range decisions(t, srv, 2) {
		if d.Rule == "high-intent" {
			failed = &d
		}
	}
	if failed == nil || failed.Outcome != contracts.OutcomeFailed || !strings.Contains(failed.Reason, "channel_not_found") ||
		strings.Contains(failed.Reason, "secret-token") {
		t.Errorf("decision %+v, want failed: channel_not_found", failed)
	}
	if len(fake.Messages()) != 0 {
		t.Errorf("Slack accepted %d posts", len(fake.Messages()))
	}

	// Once the channel is back, `gtmhub dlq redrive` delivers the refused
	// notification; redriving the same dead letter again sends nothing.
	for range 2 {
		rm, err := events.RedriveMsg(h, dead[0].Data())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := srv.JS.PublishMsg(context.Background(), rm); err != nil {
			t.Fatal(err)
		}
		awaitSettled(t, srv)
	}
	if got := fake.Wait(1, wait); len(got) != 1 {
		t.Errorf("%d Slack posts after two redrives, want 1", len(got))
	}
	if le := ledgerEntry(t, srv, notify.DecisionID("high-intent", "ada@example.com")); le.State != notify.StateSent {
		t.Errorf("ledger entry %+v after the redrive, want sent", le)
	}
}

// TestCrashBetweenSendAndOutcome covers a process that stopped after
// claiming a notification and (maybe) sending it, before writing the
// outcome: within the claim lease the event waits; after it, notify does
// not send again and records the notification as interrupted.
func TestCrashBetweenSendAndOutcome(t *testing.T) {
	srv := eventstest.RunServer(t)
	fake := fakeslack.New(t)
	kv, err := srv.JS.CreateKeyValue(context.Background(), jetstreamKV(notify.LedgerBucket))
	if err != nil {
		t.Fatal(err)
	}
	id := notify.DecisionID("high-intent", "ada@example.com")
	stale, _ := json.Marshal(notify.LedgerEntry{Rule: "high-intent", Channel: contracts.ChannelSlack,
		State: notify.StateClaimed, EventID: "earlier-event", At: time.Now().Add(-time.Hour)})
	if _, err := kv.Create(context.Background(), id, stale); err != nil {
		t.Fatal(err)
	}
	startNotify(t, srv, slackConfig(fake))

	publish(t, srv, leadEvent(t, "ada@example.com", 85))
	var got *contracts.Notification
	for _, d := range decisions(t, srv, 2) {
		if d.Rule == "high-intent" {
			got = &d
		}
	}
	if got == nil || got.Outcome != contracts.OutcomeSuppressed || got.Reason != notify.ReasonInterrupted {
		t.Errorf("decision %+v, want suppressed: %s", got, notify.ReasonInterrupted)
	}
	if le := ledgerEntry(t, srv, id); le.State != notify.StateInterrupted {
		t.Errorf("ledger state %s, want interrupted", le.State)
	}
	if n := len(fake.Messages()); n != 0 {
		t.Errorf("%d Slack posts, want none", n)
	}
}

func TestSlackWebhooksAnswers(t *testing.T) {
	fake := fakeslack.New(t, fakeslack.WithInterval(time.Millisecond))
	hooks := notify.NewSlackWebhooks(notify.Slack{HTTPClient: fake.Client(), PerSecond: 1000}, events.NewBreakers(events.WithTripAfter(100)))
	msg := notify.AlertMessage("title", "body")
	tests := []struct {
		status    int
		body      string
		permanent bool
		retry     time.Duration
	}{
		{200, "ok", false, 0},
		{429, "rate_limited", false, 7 * time.Second},
		{400, "invalid_payload", true, 0},
		{403, "action_prohibited", true, 0},
		{404, "channel_not_found", true, 0},
		{404, "no_service", true, 0},
		{410, "channel_is_archived", true, 0},
		{500, "rollup_error", false, 0},
		{503, "service_unavailable", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			if tt.status != 200 {
				fake.FailNext(fakeslack.Response{Status: tt.status, Body: tt.body, RetryAfter: tt.retry})
			}
			err := hooks.Post(context.Background(), fake.Webhook("T-secret"), msg)
			if (err == nil) != (tt.status == 200) || events.IsPermanent(err) != tt.permanent {
				t.Fatalf("Post = %v, want permanent=%v", err, tt.permanent)
			}
			if d, ok := events.RetryDelay(err); ok != (tt.retry > 0) || d != tt.retry {
				t.Errorf("retry delay %s (%v), want %s", d, ok, tt.retry)
			}
			var se *notify.SlackError
			if err != nil && (!errors.As(err, &se) || se.Status != tt.status || se.Code != tt.body) {
				t.Errorf("Post = %v, want a SlackError %d %s", err, tt.status, tt.body)
			}
			if err != nil && strings.Contains(err.Error(), "T-secret") {
				t.Errorf("error repeats the webhook URL: %v", err)
			}
		})
	}
}

func TestSlackWebhooksRateAndBreaker(t *testing.T) {
	fake := fakeslack.New(t) // one post a second per webhook
	breakers := events.NewBreakers(events.WithTripAfter(2), events.WithBreakerTimeout(time.Minute))
	hooks := notify.NewSlackWebhooks(notify.Slack{HTTPClient: fake.Client()}, breakers)
	msg := notify.AlertMessage("title", "body")

	start := time.Now()
	for range 3 {
		if err := hooks.Post(context.Background(), fake.Webhook("a"), msg); err != nil {
			t.Fatalf("Post: %v", err)
		}
	}
	if d := time.Since(start); d < 2*time.Second || len(fake.Rejected()) != 0 {
		t.Errorf("3 posts took %s with %d refusals, want at least 2s and none", d, len(fake.Rejected()))
	}

	// Two 5xx open webhook b's breaker: the next call does not reach Slack.
	fast := notify.NewSlackWebhooks(notify.Slack{HTTPClient: fake.Client(), PerSecond: 1000}, breakers)
	fake.FailNext(fakeslack.Response{Status: 500}, fakeslack.Response{Status: 502})
	for range 2 {
		if err := fast.Post(context.Background(), fake.Webhook("b"), msg); err == nil || events.IsPermanent(err) {
			t.Fatalf("Post on 5xx = %v, want a retryable error", err)
		}
	}
	err := fast.Post(context.Background(), fake.Webhook("b"), msg)
	if d, ok := events.RetryDelay(err); !ok || d <= 0 || len(fake.Rejected()) != 2 {
		t.Errorf("Post with the breaker open = %v, %d calls refused; want RetryAfter without a call", err, len(fake.Rejected()))
	}
	if strings.Contains(err.Error(), fake.URL) {
		t.Errorf("error names the webhook: %v", err)
	}
}

func TestLeadMessageFitsSlackLimits(t *testing.T) {
	long := strings.Repeat("é", 5000)
	score := 99.5
	data := map[string]any{"contact": map[string]any{"email": "a@example.com", "first_name": long, "company": long,
		"title": long, "source": "form", "signal_score": score}}
	ev := eventstest.NewEvent(t, contracts.TypeContactCreated, data)
	m := notify.LeadMessage(notify.Message{Rule: "high-intent", Event: ev, Data: data}, "")
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		Text   string            `json:"text"`
		Blocks []fakeslack.Block `json:"blocks"`
	}
	if err := json.Unmarshal(b, &parsed); err != nil {
		t.Fatal(err)
	}
	if err := fakeslack.Check(parsed.Text, parsed.Blocks); err != nil {
		t.Errorf("lead message breaks Slack's limits: %v", err)
	}
	if strings.Contains(string(b), "/trace/") {
		t.Error("trace link without a tracing UI")
	}
}

func jetstreamKV(bucket string) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{Bucket: bucket, History: 1, TTL: notify.DefaultDedupeWindow, Storage: jetstream.FileStorage}
}

// TestClaimInFlightWaits: while another instance holds a fresh claim, the
// event waits; once that instance releases it (its send failed and will be
// retried), the event claims the notification and sends it once.
func TestClaimInFlightWaits(t *testing.T) {
	srv := eventstest.RunServer(t)
	fake := fakeslack.New(t)
	kv, err := srv.JS.CreateKeyValue(context.Background(), jetstreamKV(notify.LedgerBucket))
	if err != nil {
		t.Fatal(err)
	}
	id := notify.DecisionID("high-intent", "ada@example.com")
	held, _ := json.Marshal(notify.LedgerEntry{Rule: "high-intent", Channel: contracts.ChannelSlack,
		State: notify.StateClaimed, EventID: "other-instance", At: time.Now()})
	if _, err := kv.Create(context.Background(), id, held); err != nil {
		t.Fatal(err)
	}
	cfg := slackConfig(fake)
	cfg.ClaimLease = 4 * time.Second
	startNotify(t, srv, cfg)

	publish(t, srv, leadEvent(t, "ada@example.com", 85))
	deadline := time.Now().Add(wait)
	for {
		c, err := srv.JS.Consumer(context.Background(), events.StreamRecords, notify.Name)
		if err == nil {
			if info, err := c.Info(context.Background()); err == nil && info.Delivered.Consumer >= 1 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the event was not delivered")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(fake.Messages()); n != 0 {
		t.Fatalf("%d posts while another instance holds the claim", n)
	}
	if err := kv.Delete(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	awaitSent(t, srv, fake, id, 1) // once the claim was released
}

// awaitSent waits for n Slack posts in all and for notify to settle, then
// checks that there are still n and that the ledger records id as sent.
func awaitSent(t *testing.T, srv *eventstest.Server, fake *fakeslack.Server, id string, n int) {
	t.Helper()
	if got := fake.Wait(n, wait); len(got) != n {
		t.Fatalf("%d posts, want %d", len(got), n)
	}
	awaitSettled(t, srv)
	if le := ledgerEntry(t, srv, id); le.State != notify.StateSent || len(fake.Messages()) != n {
		t.Errorf("ledger %+v with %d posts, want sent, %d posts in all", le, len(fake.Messages()), n)
	}
}

// TestShutdownDuringSendReleasesTheClaim: a shutdown that cancels a send
// still waiting for its turn at Slack's rate releases the claim, so the
// notification goes out once after the restart instead of being recorded
// as interrupted, maybe sent.
func TestShutdownDuringSendReleasesTheClaim(t *testing.T) {
	srv := eventstest.RunServer(t)
	fake := fakeslack.New(t)
	slow := slackConfig(fake)
	slow.Slack.PerSecond = 0.05 // the second post waits 20 s for its turn

	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- notify.Run(ctx, slow, service.Deps{Conn: srv.Conn}) }()
	t.Cleanup(cancel)

	publish(t, srv, leadEvent(t, "ada@example.com", 85))
	publish(t, srv, leadEvent(t, "grace@example.com", 90))
	if got := fake.Wait(1, wait); len(got) != 1 {
		t.Fatalf("%d posts, want the first", len(got))
	}
	second := notify.DecisionID("high-intent", "grace@example.com")
	kv, err := srv.JS.KeyValue(context.Background(), notify.LedgerBucket)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(wait); ; time.Sleep(10 * time.Millisecond) {
		if _, err := kv.Get(context.Background(), second); err == nil {
			break // claimed: its send waits for the limiter
		}
		if time.Now().After(deadline) {
			t.Fatal("the second notification was never claimed")
		}
	}
	// In-flight handlers get the consumer's shutdown timeout (10 s) to
	// finish, then their context is cancelled, the limiter's wait with it.
	cancel()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10*time.Second + wait):
		t.Fatal("notify did not stop")
	}
	if e, err := kv.Get(context.Background(), second); err == nil {
		t.Fatalf("after the shutdown the ledger holds %s, want the claim released", e.Value())
	}

	startNotify(t, srv, slackConfig(fake))
	awaitSent(t, srv, fake, second, 2)
}

// TestOneRuleWaitingHoldsUpNoOther: while Slack asks the high-intent post to
// wait, the nurture email for the same event goes out at once, and the
// event's retry sends the post without sending the email again.
func TestOneRuleWaitingHoldsUpNoOther(t *testing.T) {
	srv := eventstest.RunServer(t)
	ms := startMailServer(t, mailOptions{})
	fake := fakeslack.New(t)
	fake.FailNext(fakeslack.Response{Status: 429, Body: "rate_limited", RetryAfter: 8 * time.Second})
	cfg := slackConfig(fake)
	cfg.SMTP = smtpConfig(ms, notify.SecurityPlain)
	startNotify(t, srv, cfg)

	publish(t, srv, leadEvent(t, "ada@example.com", 85))
	if got := ms.wait(1, 5*time.Second); len(got) != 1 {
		t.Fatalf("%d emails within 5 s, want the nurture email while Slack waits its 8 s", len(got))
	}
	if n := len(fake.Messages()); n != 0 {
		t.Fatalf("%d Slack posts before the wait Slack asked for, want none", n)
	}
	if got := fake.Wait(1, wait); len(got) != 1 {
		t.Fatalf("%d Slack posts, want 1 after the wait", len(got))
	}
	awaitSettled(t, srv)
	if got := ms.wait(1, 0); len(got) != 1 || len(fake.Messages()) != 1 {
		t.Errorf("%d emails and %d posts, want one of each", len(got), len(fake.Messages()))
	}
}

// TestLeadMessageSays: the message names the record the event is about, a
// contact or a company.
func TestLeadMessageSays(t *testing.T) {
	tests := []struct {
		name     string
		typ      string
		data     map[string]any
		want     []string
		wantNone string
	}{
		{"a contact", contracts.TypeContactCreated, map[string]any{"contact": map[string]any{"email": "ada@example.com",
			"first_name": "Ada", "last_name": "Lovelace", "company": "Analytical Engines", "signal_score": 85.0}},
			[]string{"Ada Lovelace (Analytical Engines)", "signal score 85"}, "A company"},
		{"a company", contracts.TypeCompanyCreated, map[string]any{"company": map[string]any{"domain": "acme.io",
			"name": "Acme", "industry": "Software", "employees": 250.0, "country": "GB"}},
			[]string{"big-company: Acme", "*Domain*\\nacme.io", "*Employees*\\n250", "*Industry*\\nSoftware"}, "A lead"},
		{"a company without a name", contracts.TypeCompanyUpdated, map[string]any{"company": map[string]any{"domain": "acme.io"}},
			[]string{"big-company: acme.io"}, "A lead"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := eventstest.NewEvent(t, tt.typ, tt.data)
			b, err := json.Marshal(notify.LeadMessage(notify.Message{Rule: "big-company", Event: ev, Data: tt.data}, ""))
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range tt.want {
				if !strings.Contains(string(b), want) {
					t.Errorf("message lacks %q: %s", want, b)
				}
			}
			if strings.Contains(string(b), tt.wantNone) {
				t.Errorf("message says %q: %s", tt.wantNone, b)
			}
		})
	}
}

// TestLeadMessageEscapesData: what a lead says of itself reaches Slack as
// text, never as a mention or a link, however it is truncated.
func TestLeadMessageEscapesData(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  string
	}{
		{"a channel mention", "<!channel>", "&lt;!channel&gt;"},
		{"a disguised link", "<https://evil.example/login|Reset your password>", "&lt;https://evil.example/login|Reset your password&gt;"},
		{"an ampersand", "Smith & Sons", "Smith &amp; Sons"},
		{"plain text", "Ada", "Ada"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := map[string]any{"contact": map[string]any{"email": "a@example.com", "first_name": tt.value, "company": tt.value}}
			ev := eventstest.NewEvent(t, contracts.TypeContactCreated, data)
			m := notify.LeadMessage(notify.Message{Rule: "high-intent", Event: ev, Data: data}, "")
			texts := []string{m.Text}
			for _, b := range m.Blocks {
				for _, f := range b.Fields {
					if f.Type == "mrkdwn" {
						texts = append(texts, f.Text)
					}
				}
			}
			for _, s := range texts {
				if strings.ContainsAny(strings.NewReplacer("&amp;", "", "&lt;", "", "&gt;", "").Replace(s), "<>&") {
					t.Errorf("unescaped control character in %q", s)
				}
			}
			if !strings.Contains(m.Text, tt.want) {
				t.Errorf("text %q lacks %q", m.Text, tt.want)
			}
		})
	}
	t.Run("truncated", func(t *testing.T) {
		long := strings.Repeat("<", 3000)
		data := map[string]any{"contact": map[string]any{"email": "a@example.com", "first_name": long}}
		ev := eventstest.NewEvent(t, contracts.TypeContactCreated, data)
		m := notify.LeadMessage(notify.Message{Rule: "r", Event: ev, Data: data}, "")
		if !strings.HasSuffix(m.Text, "&lt;") {
			t.Errorf("text cut inside an escape: ...%q", m.Text[len(m.Text)-8:])
		}
		if len(m.Text) > 3000 {
			t.Errorf("text is %d bytes, over Slack's 3000", len(m.Text))
		}
	})
}
