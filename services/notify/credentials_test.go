package notify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/services/notify"
	"github.com/gtmhub/gtmhub/services/notify/internal/fakeslack"
)

// awaitCredentials waits until n credentials are recorded.
func awaitCredentials(t *testing.T, srv *eventstest.Server, n int) []service.Credential {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		got, err := service.ListCredentials(context.Background(), srv.JS)
		if err == nil && len(got) == n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("credentials %+v, %v; want %d", got, err, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRecordsItsCredentials: notify records each configured secret at
// start with where it comes from, and the bucket holds none of them.
func TestRecordsItsCredentials(t *testing.T) {
	srv := eventstest.RunServer(t)
	fake := fakeslack.New(t)
	t.Setenv("GTMHUB_TEST_SMTP_PASSWORD", "smtp-pass-0123456789")
	cfg := slackConfig(fake)
	t.Setenv("GTMHUB_TEST_SLACK_ALERTS", fake.Webhook("alerts-secret-token"))
	cfg.Slack.Webhooks = map[string]string{"#high-intent": fake.Webhook("hi-intent-secret-token")}
	cfg.Slack.WebhooksEnv = map[string]string{"#alerts": "GTMHUB_TEST_SLACK_ALERTS"}
	cfg.SMTP.Host, cfg.SMTP.From, cfg.SMTP.PasswordEnv = "127.0.0.1", "gtmhub@example.com", "GTMHUB_TEST_SMTP_PASSWORD"
	cfg.HubSpot.Token = "pat-na1-hubspot-secret"
	startNotify(t, srv, cfg)

	got := awaitCredentials(t, srv, 5)
	want := map[string]string{
		"notify.slack.webhook": "inline", "notify.slack.webhooks.high-intent": "inline",
		"notify.slack.webhooks.alerts": "env GTMHUB_TEST_SLACK_ALERTS",
		"notify.smtp.password":         "env GTMHUB_TEST_SMTP_PASSWORD", "notify.hubspot.token": "inline",
	}
	for _, c := range got {
		if want[c.Key()] != c.Origin {
			t.Errorf("%s from %q, want %q", c.Key(), c.Origin, want[c.Key()])
		}
	}
	kv, err := srv.JS.KeyValue(context.Background(), service.CredentialsBucket)
	if err != nil {
		t.Fatal(err)
	}
	for k := range want {
		e, err := kv.Get(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{"secret-token", "smtp-pass", "hubspot-secret"} {
			if strings.Contains(string(e.Value()), secret) {
				t.Errorf("%s holds a secret: %s", k, e.Value())
			}
		}
	}
}

// TestAlertCredentialOverdue: a credential older than the rotation period
// is alerted once, without its secret; once rotated, the alert resolves.
// One due soon is not alerted.
func TestAlertCredentialOverdue(t *testing.T) {
	srv := eventstest.RunServer(t)
	fake := fakeslack.New(t)
	ctx := context.Background()
	now := time.Now()
	record := func(svc, name, secret string, at time.Time) {
		t.Helper()
		if err := service.RecordCredentials(ctx, srv.JS, svc, []service.Secret{service.SecretFrom(name, "KEY_ENV", secret)}, at); err != nil {
			t.Fatal(err)
		}
	}
	record("enrich", "provider.clearbit", "sk-clearbit-old-secret", now.AddDate(0, 0, -31))
	record("ingest", "webhook.clay", "clay-secret", now.AddDate(0, 0, -21))
	cfg := notify.DefaultConfig()
	cfg.Slack.HTTPClient = fake.Client()
	cfg.Alerts = notify.Alerts{WebhookURL: fake.Webhook("alerts"), Interval: 100 * time.Millisecond}
	cfg.Credentials.RotateAfter = service.Days(30 * 24 * time.Hour)
	startNotify(t, srv, cfg)

	awaitAlert(t, fake, "Credential enrich.provider.clearbit overdue for rotation")
	time.Sleep(300 * time.Millisecond) // a few more looks
	record("enrich", "provider.clearbit", "sk-clearbit-new-secret", time.Now())
	awaitAlert(t, fake, "Resolved: credential enrich.provider.clearbit overdue for rotation")
	// A credential forgotten while overdue is resolved too.
	record("ingest", "webhook.github", "github-secret", now.AddDate(0, 0, -40))
	awaitAlert(t, fake, "Credential ingest.webhook.github overdue for rotation")
	if err := service.ForgetCredential(ctx, srv.JS, "ingest.webhook.github"); err != nil {
		t.Fatal(err)
	}
	awaitAlert(t, fake, "Resolved: credential ingest.webhook.github overdue for rotation")
	var overdue []string
	for _, text := range alertTexts(fake) {
		if strings.Contains(text, "sk-clearbit") || strings.Contains(text, "clay-secret") || strings.Contains(text, "github-secret") {
			t.Errorf("an alert holds a secret: %s", text)
		}
		if strings.Contains(text, "overdue") && !strings.Contains(text, "Resolved") {
			overdue = append(overdue, text)
		}
	}
	if len(overdue) != 2 {
		t.Errorf("overdue alerts %q, want clearbit's and github's once each", overdue)
	}
}
