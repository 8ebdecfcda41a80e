package notify

import (
	"maps"
	"testing"
)

// TestAlertsWebhook: alerts go to alerts.webhook_url, else the alerts
// channel's webhook, else the Slack webhook every rule posts with.
func TestAlertsWebhook(t *testing.T) {
	const alerts, channel, slack = "https://hooks.example/alerts", "https://hooks.example/channel", "https://hooks.example/slack"
	t.Setenv("GTMHUB_TEST_ALERTS_SLACK_WEBHOOK", slack)
	t.Setenv("GTMHUB_TEST_ALERTS_WEBHOOK", alerts)
	t.Setenv("GTMHUB_TEST_ALERTS_CHANNEL_WEBHOOK", channel)
	tests := []struct {
		name   string
		alerts Alerts
		slack  Slack
		want   string
	}{
		{"alerts.webhook_url", Alerts{WebhookURL: alerts}, Slack{WebhookURL: slack, Webhooks: map[string]string{"#alerts": channel}}, alerts},
		{"the alerts channel's webhook", Alerts{}, Slack{WebhookURL: slack, Webhooks: map[string]string{"#alerts": channel}}, channel},
		{"another channel's alerts webhook", Alerts{Channel: "#ops"}, Slack{Webhooks: map[string]string{"#ops": channel}}, channel},
		{"slack.webhook_url", Alerts{}, Slack{WebhookURL: slack, Webhooks: map[string]string{"#high-intent": channel}}, slack},
		{"slack.webhook_url_env", Alerts{}, Slack{WebhookURLEnv: "GTMHUB_TEST_ALERTS_SLACK_WEBHOOK"}, slack},
		{"alerts.webhook_url_env", Alerts{WebhookURLEnv: "GTMHUB_TEST_ALERTS_WEBHOOK"}, Slack{WebhookURL: slack}, alerts},
		{"the alerts channel's webhook from slack.webhooks_env", Alerts{},
			Slack{WebhookURL: slack, WebhooksEnv: map[string]string{"#alerts": "GTMHUB_TEST_ALERTS_CHANNEL_WEBHOOK"}}, channel},
		{"slack.webhooks wins over slack.webhooks_env", Alerts{}, Slack{Webhooks: map[string]string{"#alerts": slack},
			WebhooksEnv: map[string]string{"#alerts": "GTMHUB_TEST_ALERTS_CHANNEL_WEBHOOK"}}, slack},
		{"an unset variable in slack.webhooks_env", Alerts{},
			Slack{WebhookURL: slack, WebhooksEnv: map[string]string{"#alerts": "GTMHUB_TEST_UNSET_WEBHOOK"}}, slack},
		{"nothing", Alerts{}, Slack{Webhooks: map[string]string{"#high-intent": channel}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Alerts, cfg.Slack = tt.alerts, tt.slack
			before := maps.Clone(tt.slack.Webhooks)
			if got := cfg.withDefaults().alertsWebhook(); got != tt.want {
				t.Errorf("alertsWebhook() = %q, want %q", got, tt.want)
			}
			if !maps.Equal(tt.slack.Webhooks, before) {
				t.Errorf("reading the environment changed slack.webhooks to %v", tt.slack.Webhooks)
			}
		})
	}
}
