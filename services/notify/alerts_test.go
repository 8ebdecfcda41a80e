package notify_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/services/notify"
	"github.com/gtmhub/gtmhub/services/notify/internal/fakeslack"
)

// alertTexts returns the texts posted to the alerts webhook.
func alertTexts(fake *fakeslack.Server) []string {
	var out []string
	for _, m := range fake.Messages() {
		if strings.HasSuffix(m.Path, "/alerts") {
			out = append(out, m.Text)
		}
	}
	return out
}

// awaitAlert waits until an alert containing want was posted.
func awaitAlert(t *testing.T, fake *fakeslack.Server, want string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		for _, text := range alertTexts(fake) {
			if strings.Contains(text, want) {
				return
			}
		}
		fake.Wait(len(fake.Messages())+1, 100*time.Millisecond)
	}
	t.Fatalf("no alert %q; alerts: %q", want, alertTexts(fake))
}

func TestAlertBreakerOpensAndResolves(t *testing.T) {
	srv := eventstest.RunServer(t)
	fake := fakeslack.New(t)
	cfg := slackConfig(fake)
	cfg.Slack.BreakerTripAfter = 1
	cfg.Slack.BreakerTimeout = time.Second
	cfg.Alerts = notify.Alerts{WebhookURL: fake.Webhook("alerts"), Interval: 100 * time.Millisecond}
	fake.FailNext(fakeslack.Response{Status: 503, Body: "service_unavailable"})
	startNotify(t, srv, cfg)

	publish(t, srv, leadEvent(t, "ada@example.com", 85))
	dest := notify.SlackDestination(cfg.Slack.WebhookURL)
	awaitAlert(t, fake, "Circuit breaker open: "+dest)
	// The trial call after the breaker timeout delivers the post, and the
	// breaker closes.
	awaitAlert(t, fake, "Resolved: circuit breaker open: "+dest)
	awaitSettled(t, srv)
	posts := 0
	for _, m := range fake.Messages() {
		if !strings.HasSuffix(m.Path, "/alerts") {
			posts++
		}
	}
	if posts != 1 {
		t.Errorf("%d lead posts, want 1", posts)
	}
	for _, text := range alertTexts(fake) {
		if strings.Contains(text, "secret-token") {
			t.Errorf("alert names the webhook: %s", text)
		}
	}
}

func TestAlertDLQDepthRisingThenResolved(t *testing.T) {
	srv := eventstest.RunServer(t)
	fake := fakeslack.New(t)
	cfg := notify.DefaultConfig()
	cfg.Slack.HTTPClient = fake.Client()
	cfg.Alerts = notify.Alerts{WebhookURL: fake.Webhook("alerts"), Interval: 200 * time.Millisecond}
	startNotify(t, srv, cfg)

	for range 2 {
		publish(t, srv, eventstest.NewEvent(t, contracts.TypeContactCreated, map[string]any{"contact": map[string]any{"email": "x"}}))
	}
	srv.Await(t, events.StreamDLQ, "gtm.dlq.>", 2, wait)
	awaitAlert(t, fake, "DLQ depth rising")
	awaitAlert(t, fake, "Resolved: DLQ depth rising")
	rising := 0
	for _, text := range alertTexts(fake) {
		if strings.Contains(text, "DLQ depth rising") && !strings.Contains(text, "Resolved") {
			rising++
		}
	}
	if rising != 1 {
		t.Errorf("%d DLQ alerts, want 1 per period: %q", rising, alertTexts(fake))
	}
}

func TestChannels(t *testing.T) {
	cfg := notify.DefaultConfig()
	got := cfg.Channels()
	if len(got) != 2 || got[0].Ready || got[1].Ready || got[0].Rules[0] != "high-intent" ||
		got[1].Rules[0] != "new-lead-nurture" || !strings.Contains(got[0].Reason, "slack.webhook_url") ||
		!strings.Contains(got[1].Reason, "smtp.host") {
		t.Errorf("default channels %+v, want both inert with the setting to fix", got)
	}
	cfg.Slack.WebhookURL = "https://hooks.slack.com/services/T/B/x"
	cfg.SMTP = notify.SMTP{Host: "smtp.example.com", From: "a@example.com"}
	for _, c := range cfg.Channels() {
		if !c.Ready || c.Reason != "" {
			t.Errorf("configured channel %+v not ready", c)
		}
	}
}

func TestAlertRateLimitsAndFailures(t *testing.T) {
	srv := eventstest.RunServer(t)
	fake := fakeslack.New(t)
	cfg := slackConfig(fake)
	cfg.Alerts = notify.Alerts{WebhookURL: fake.Webhook("alerts"), Interval: 100 * time.Millisecond, RateLimitHits: 1}
	fake.FailNext(fakeslack.Response{Status: 429, RetryAfter: time.Second}, fakeslack.Response{Status: 429, RetryAfter: time.Second})
	startNotify(t, srv, cfg)

	publish(t, srv, leadEvent(t, "ada@example.com", 85))
	awaitAlert(t, fake, "Slack rate limits above threshold")
	awaitAlert(t, fake, "Notification failures above threshold")
	awaitSettled(t, srv)
	if n := srv.Count(t, events.StreamNotify, events.SubjectNotifySent); n != 1 {
		t.Errorf("%d sent decisions, want 1", n)
	}
}

type slowSender struct{ d time.Duration }

func (s slowSender) Send(ctx context.Context, _ notify.Message) error {
	select {
	case <-time.After(s.d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestAlertLatencyAndPending(t *testing.T) {
	srv := eventstest.RunServer(t)
	fake := fakeslack.New(t)
	cfg := notify.DefaultConfig()
	cfg.Slack.HTTPClient = fake.Client()
	cfg.Senders = map[contracts.Channel]notify.Sender{contracts.ChannelEmail: slowSender{200 * time.Millisecond}}
	cfg.Alerts = notify.Alerts{WebhookURL: fake.Webhook("alerts"), Interval: 100 * time.Millisecond,
		Latency: 100 * time.Millisecond, Pending: 2}
	startNotify(t, srv, cfg)

	// More than notify's workers and their pull-ahead, so some wait.
	for i := range 64 {
		publish(t, srv, contactEvent(t, contracts.TypeContactCreated, fmt.Sprintf("p%d@example.com", i), 10))
	}
	awaitAlert(t, fake, "Notification latency above threshold")
	awaitAlert(t, fake, "Consumer notify has")
	awaitAlert(t, fake, "Resolved: consumer notify backlog")
}

// TestAlertUsageLevels: a quota another service reports in the usage bucket
// alerts once at the highest level it reached in its period, again when it
// reaches a higher one; an ended period, a usage without a limit and the
// email quota (which alerts as it is counted) do not.
func TestAlertUsageLevels(t *testing.T) {
	srv := eventstest.RunServer(t)
	fake := fakeslack.New(t)
	ctx := context.Background()
	month := time.Now().UTC().Format("2006-01")
	for _, u := range []service.Usage{
		{Resource: "enrich.clearbit.credits", Used: 82, Limit: 100, Unit: "credits", Period: month},
		{Resource: "enrich.hunter.credits", Used: 99, Limit: 100, Unit: "credits", Period: "2020-01"},
		{Resource: "enrich.apollo.credits", Used: 500, Unit: "credits", Period: month},
		{Resource: "notify.email.daily", Used: 499, Limit: 500, Unit: "emails"},
	} {
		if err := service.PutUsage(ctx, srv.JS, u); err != nil {
			t.Fatal(err)
		}
	}
	cfg := notify.DefaultConfig()
	cfg.Slack.HTTPClient = fake.Client()
	cfg.Alerts = notify.Alerts{WebhookURL: fake.Webhook("alerts"), Interval: 100 * time.Millisecond}
	startNotify(t, srv, cfg)

	awaitAlert(t, fake, "enrich.clearbit.credits at 80% of its limit")
	if err := service.PutUsage(ctx, srv.JS, service.Usage{Resource: "enrich.clearbit.credits", Used: 96, Limit: 100,
		Unit: "credits", Period: month}); err != nil {
		t.Fatal(err)
	}
	awaitAlert(t, fake, "enrich.clearbit.credits at 95% of its limit")
	time.Sleep(300 * time.Millisecond) // a few more looks
	var usage []string
	for _, text := range alertTexts(fake) {
		if strings.Contains(text, "of its limit") {
			usage = append(usage, text)
		}
	}
	if len(usage) != 2 {
		t.Errorf("usage alerts %q, want clearbit's 80%% and 95%% once each", usage)
	}
}
