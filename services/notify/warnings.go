package notify

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events/service"
)

// Warnings lists what in a valid configuration works but likely not as
// meant, one sentence each, without secrets: email rules without a
// one-click unsubscribe, alerts posted through the rules' Slack webhook,
// and rules for several Slack channels sharing one webhook (an incoming
// webhook always posts to the channel it was created for; slack.webhooks
// gives each channel its own). notify logs them at start and shows them in
// gtmhub status.
func (c Config) Warnings() []string {
	c = c.withDefaults()
	var out []string
	if w := c.unsubscribeWarning(); w != "" {
		out = append(out, w)
	}
	shared := c.sharedWebhookTargets()
	others := slices.DeleteFunc(slices.Clone(shared), func(t string) bool { return t == c.Alerts.Channel })
	if c.Alerts.WebhookURL == "" && c.Slack.Webhooks[c.Alerts.Channel] == "" && len(others) > 0 {
		out = append(out, fmt.Sprintf("alerts for %s go through slack.webhook_url, the webhook rules use for %s, "+
			"so they land in the channel that webhook was created for: set alerts.webhook_url or slack.webhooks[%q]",
			c.Alerts.Channel, strings.Join(others, ", "), c.Alerts.Channel))
	}
	if len(shared) > 1 {
		out = append(out, fmt.Sprintf("rules post to %s through the one webhook slack.webhook_url, and an incoming webhook "+
			"posts only to the channel it was created for: all of them land there; give each channel its webhook in slack.webhooks",
			strings.Join(shared, ", ")))
	}
	return out
}

// unsubscribeWarning says when email rules send without a one-click
// unsubscribe, which Gmail and Yahoo require of bulk senders.
func (c Config) unsubscribeWarning() string {
	if !c.SMTP.configured() {
		return "" // the email rules are inert
	}
	var rules []string
	for _, r := range c.EffectiveRules() {
		if r.Action == contracts.ChannelEmail {
			rules = append(rules, r.Name)
		}
	}
	switch {
	case len(rules) == 0:
		return ""
	case strings.TrimSpace(c.SMTP.Unsubscribe) == "":
		return fmt.Sprintf("email rules %s send without smtp.unsubscribe: Gmail and Yahoo require bulk senders to offer "+
			"List-Unsubscribe with a one-click https URL (RFC 8058)", strings.Join(rules, ", "))
	case !strings.Contains(strings.ToLower(c.SMTP.Unsubscribe), "<https://"):
		return fmt.Sprintf("smtp.unsubscribe offers no <https://...> URL, so the emails of %s have no one-click unsubscribe "+
			"(List-Unsubscribe-Post, RFC 8058), which Gmail and Yahoo require of bulk senders", strings.Join(rules, ", "))
	}
	return ""
}

// sharedWebhookTargets lists, sorted, the distinct targets of Slack rules
// that have no webhook of their own in slack.webhooks, and so post through
// slack.webhook_url.
func (c Config) sharedWebhookTargets() []string {
	if c.Slack.WebhookURL == "" {
		return nil
	}
	var out []string
	for _, r := range c.EffectiveRules() {
		if r.Action == contracts.ChannelSlack && c.Slack.Webhooks[r.Target] == "" && !slices.Contains(out, r.Target) {
			out = append(out, r.Target)
		}
	}
	slices.Sort(out)
	return out
}

// noteWarnings logs each configuration warning once and records them as
// one note for gtmhub status, replacing the last start's.
func noteWarnings(ctx context.Context, r service.Resolved, warnings []string) {
	note := service.Note{Service: Name, Key: "config", Level: service.LevelOK, Text: "no configuration warnings"}
	if len(warnings) > 0 {
		note.Level, note.Text = service.LevelWarning, strings.Join(warnings, "; ")
	}
	for _, w := range warnings {
		r.Logger.WarnContext(ctx, "notify configuration", "warning", w)
	}
	if err := service.PutNote(ctx, r.JS, note); err != nil {
		r.Logger.WarnContext(ctx, "record configuration warnings", "err", err)
	}
}
