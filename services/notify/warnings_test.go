package notify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/services/notify"
)

func TestConfigWarnings(t *testing.T) {
	const hook, other = "https://hooks.slack.example/services/T0/B0/secret", "https://hooks.slack.example/services/T0/B1/other"
	withSMTP := func(unsubscribe string) notify.Config {
		c := notify.DefaultConfig()
		c.SMTP = notify.SMTP{Host: "smtp.example.com", From: "growth@example.com", Unsubscribe: unsubscribe}
		return c
	}
	withSlack := func(rules ...notify.Rule) notify.Config {
		c := notify.DefaultConfig()
		c.Slack.WebhookURL = hook
		c.Rules = rules
		return c
	}
	slackRule := func(name, target string) notify.Rule {
		return notify.Rule{Name: name, On: []string{contracts.TypeContactCreated}, Action: contracts.ChannelSlack, Target: target}
	}
	tests := []struct {
		name string
		cfg  notify.Config
		want []string // one substring per warning, in order
	}{
		{"nothing configured", notify.DefaultConfig(), nil},
		{"email without unsubscribe", withSMTP(""), []string{"email rules new-lead-nurture send without smtp.unsubscribe"}},
		{"email with mailto unsubscribe only", withSMTP("<mailto:u@example.com>"), []string{"no one-click unsubscribe"}},
		{"email with one-click unsubscribe", withSMTP("<https://example.com/u?to={{.target}}>"), nil},
		{"alerts through the rules' webhook", withSlack(slackRule("hot", "#high-intent")),
			[]string{`alerts for #alerts go through slack.webhook_url, the webhook rules use for #high-intent`}},
		{"alerts with their own webhook", func() notify.Config {
			c := withSlack(slackRule("hot", "#high-intent"))
			c.Slack.Webhooks = map[string]string{"#alerts": other}
			return c
		}(), nil},
		{"alerts channel is the rules' channel", func() notify.Config {
			c := withSlack(slackRule("hot", "#sales"))
			c.Alerts.Channel = "#sales"
			return c
		}(), nil},
		{"two channels through one webhook", func() notify.Config {
			c := withSlack(slackRule("hot", "#high-intent"), slackRule("won", "#wins"), slackRule("hot2", "#high-intent"))
			c.Alerts.WebhookURL = other
			return c
		}(), []string{"rules post to #high-intent, #wins through the one webhook slack.webhook_url"}},
		{"each channel its webhook", func() notify.Config {
			c := withSlack(slackRule("hot", "#high-intent"), slackRule("won", "#wins"))
			c.Slack.Webhooks = map[string]string{"#wins": other, "#alerts": other}
			return c
		}(), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			got := tt.cfg.Warnings()
			if len(got) != len(tt.want) {
				t.Fatalf("warnings %q, want %d", got, len(tt.want))
			}
			for i, w := range got {
				if !strings.Contains(w, tt.want[i]) {
					t.Errorf("warning %q, want %q in it", w, tt.want[i])
				}
				if strings.Contains(w, "secret") || strings.Contains(w, "hooks.slack") {
					t.Errorf("warning repeats a webhook URL: %q", w)
				}
			}
		})
	}
}

// TestRunNotesConfigWarnings: gtmhub status shows the warnings of the
// configuration notify runs with.
func TestRunNotesConfigWarnings(t *testing.T) {
	srv := eventstest.RunServer(t)
	cfg := notify.DefaultConfig()
	cfg.Slack.WebhookURL = "https://hooks.slack.example/services/T0/B0/secret"
	startNotify(t, srv, cfg)
	awaitNote(t, srv, "config", func(n service.Note) bool {
		return n.Level == service.LevelWarning && strings.Contains(n.Text, "alerts for #alerts go through slack.webhook_url")
	})
}

// awaitNote waits for notify's note key to satisfy ok.
func awaitNote(t *testing.T, srv *eventstest.Server, key string, ok func(service.Note) bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		notes, err := service.ListNotes(context.Background(), srv.JS)
		for _, n := range notes {
			if n.Service == notify.Name && n.Key == key && ok(n) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("notes %+v, %v; no %s note as wanted", notes, err, key)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
