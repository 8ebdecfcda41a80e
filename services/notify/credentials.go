package notify

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gtmhub/gtmhub/events/service"
)

// credentials are the secrets notify holds, whichever are configured: the
// Slack webhook URLs, the alerts webhook, the SMTP password and the HubSpot
// and Airtable tokens.
func (c Config) credentials(getenv func(string) string) []service.Secret {
	out := []service.Secret{
		envSecret("slack.webhook", c.Slack.WebhookURL, c.Slack.WebhookURLEnv, getenv),
		envSecret("smtp.password", c.SMTP.Password, c.SMTP.PasswordEnv, getenv),
		envSecret("hubspot.token", c.HubSpot.Token, c.HubSpot.TokenEnv, getenv),
		envSecret("airtable.token", c.Airtable.Token, c.Airtable.TokenEnv, getenv),
		envSecret("alerts.webhook", c.Alerts.WebhookURL, c.Alerts.WebhookURLEnv, getenv),
	}
	targets := map[string]bool{}
	for _, m := range []map[string]string{c.Slack.Webhooks, c.Slack.WebhooksEnv} {
		for target := range m {
			targets[target] = true
		}
	}
	for _, target := range slices.Sorted(maps.Keys(targets)) {
		name := "slack.webhooks." + alertKey(strings.TrimPrefix(target, "#"))
		out = append(out, envSecret(name, c.Slack.Webhooks[target], c.Slack.WebhooksEnv[target], getenv))
	}
	return out
}

// envSecret is the secret given inline as value, or else read from the
// environment variable env, as notify's settings take them.
func envSecret(name, value, env string, getenv func(string) string) service.Secret {
	if value == "" && env != "" {
		value = getenv(env)
	}
	if env != "" && getenv(env) != value {
		env = "" // the inline value wins
	}
	return service.SecretFrom(name, env, value)
}

// resolveForgotten posts "resolved" for the overdue alerts of credentials
// no longer recorded: forgotten with gtmhub credentials forget.
func (n *notifier) resolveForgotten(ctx context.Context, recorded []service.Credential) {
	keys, err := n.alerts.kv.ListKeysFiltered(ctx, credentialAlert+".>")
	if err != nil { // the next look tries again
		n.log.DebugContext(ctx, "credential alerts: list active alerts", "err", err)
		return
	}
	for k := range keys.Keys() {
		key, ok := strings.CutSuffix(strings.TrimPrefix(k, credentialAlert+"."), ".active")
		if !ok || slices.ContainsFunc(recorded, func(c service.Credential) bool { return alertKey(c.Key()) == key }) {
			continue
		}
		n.alerts.resolve(ctx, credentialAlert+"."+key, "credential "+key+" overdue for rotation")
	}
}

// credentialAlert prefixes the names of credential alerts.
const credentialAlert = "credential"

// checkCredentials alerts on every credential the services recorded that
// is overdue for rotation, once per credential and value (the alert ledger
// forgets after a week, so one still overdue then is raised again), and
// posts "resolved" once it has been rotated.
func (n *notifier) checkCredentials(ctx context.Context) {
	all, err := service.ListCredentials(ctx, n.js)
	if err != nil {
		n.log.WarnContext(ctx, "credential alerts: read credentials", "err", err)
		return
	}
	now := n.now()
	rotateAfter := cmp.Or(n.rotateAfter, service.DefaultRotateAfter)
	n.resolveForgotten(ctx, all)
	for _, c := range all {
		name, what := credentialAlert+"."+c.Key(), "credential "+c.Key()+" overdue for rotation"
		if c.Rotation(now, rotateAfter) != service.RotationOverdue {
			n.alerts.resolve(ctx, name, what)
			continue
		}
		body := fmt.Sprintf("%s of %s (%s) has had the same value for %d days, since %s; the rotation period is %d days. See `gtmhub credentials`.",
			c.Name, c.Service, c.Origin, days(c.Age(now)), c.FirstSeen.UTC().Format(time.DateOnly), days(rotateAfter))
		n.alerts.raise(ctx, name, string(service.RotationOverdue), c.Fingerprint, "Credential "+c.Key()+" overdue for rotation", body)
	}
}

// days is d in whole days.
func days(d time.Duration) int { return int(d / (24 * time.Hour)) }
