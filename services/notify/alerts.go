package notify

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/events"
)

// AlertsBucket remembers which alert levels were raised in which period,
// and which alerts are active, so each level is posted at most once per
// period, by whichever instance, and a "resolved" message follows once.
const AlertsBucket = "notify-alerts"

// Alerts is the alerts: section of gtmhub.yaml: operations alerts posted to
// a Slack channel.
type Alerts struct {
	// WebhookURL is the incoming webhook of the alerts channel. Empty: the
	// webhook slack.webhooks[channel], else slack.webhook_url; none of them:
	// alerts are only logged.
	WebhookURL string `yaml:"webhook_url"`
	// WebhookURLEnv names an environment variable holding WebhookURL.
	WebhookURLEnv string `yaml:"webhook_url_env"`
	// Channel names the alerts channel. Default #alerts.
	Channel string `yaml:"channel"`
	// Interval is how often the monitors look. Default 1m.
	Interval time.Duration `yaml:"interval"`
	// Period is how long one level of one alert stays quiet once posted.
	// Default 1h.
	Period time.Duration `yaml:"period"`
	// FailureRate is the share of failed sends in an interval that raises
	// an alert. Default 0.05 (seed: > 5 % failures).
	FailureRate float64 `yaml:"failure_rate"`
	// Latency is the longest acceptable average send over an interval.
	// Default 2s (seed: API latency > 2s average).
	Latency time.Duration `yaml:"latency"`
	// Pending is the backlog of a consumer that raises an alert. Default 1000.
	Pending int `yaml:"pending"`
	// RateLimitHits is the number of 429 answers in an hour that raises an
	// alert. Default 10.
	RateLimitHits int `yaml:"rate_limit_hits"`
	// UsageLevels are the percentages of a quota other services report
	// (a provider's monthly credits, say) that raise an alert, once per
	// level and period. Default 70, 80, 85, 95.
	UsageLevels []int `yaml:"usage_levels"`
}

// emailUsageResource is the usage entry of the daily email quota.
const emailUsageResource = "notify.email.daily"

func (a Alerts) usageLevels() []int {
	if len(a.UsageLevels) == 0 {
		return defaultAlertLevels
	}
	return a.UsageLevels
}

func (a Alerts) withDefaults() Alerts {
	if a.Channel == "" {
		a.Channel = "#alerts"
	}
	if a.Interval == 0 {
		a.Interval = time.Minute
	}
	if a.Period == 0 {
		a.Period = time.Hour
	}
	if a.FailureRate == 0 {
		a.FailureRate = 0.05
	}
	if a.Latency == 0 {
		a.Latency = 2 * time.Second
	}
	if a.Pending == 0 {
		a.Pending = 1000
	}
	if a.RateLimitHits == 0 {
		a.RateLimitHits = 10
	}
	return a
}

func (a Alerts) validate(p interface{ Addf(string, ...any) }) {
	if a.WebhookURL != "" {
		Slack{WebhookURL: a.WebhookURL}.validate(p, "alerts")
	}
	if a.Interval < 0 || a.Period < 0 || a.Latency < 0 {
		p.Addf("alerts: interval, period and latency must not be negative")
	}
	if a.FailureRate < 0 || a.FailureRate > 1 {
		p.Addf("alerts.failure_rate must be between 0 and 1")
	}
	if a.Pending < 0 || a.RateLimitHits < 0 {
		p.Addf("alerts: pending and rate_limit_hits must not be negative")
	}
	for _, l := range a.UsageLevels {
		if l <= 0 || l > 100 {
			p.Addf("alerts.usage_levels: %d is not a percentage", l)
		}
	}
}

// alerter posts alerts to the alerts webhook from one goroutine, so that a
// slow or rate-limited Slack never holds up a notification.
type alerter struct {
	kv      jetstream.KeyValue
	hooks   *SlackWebhooks
	webhook string
	channel string
	period  time.Duration
	log     *slog.Logger
	now     func() time.Time
	queue   chan SlackMessage
}

func openAlerter(ctx context.Context, open bucketOpener, cfg Alerts, webhook string, hooks *SlackWebhooks, log *slog.Logger) (*alerter, error) {
	kv, err := open(ctx, jetstream.KeyValueConfig{
		Bucket:      AlertsBucket,
		Description: "alert levels raised per period, and active alerts",
		TTL:         7 * 24 * time.Hour,
		History:     1,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("alerts bucket %s: %w", AlertsBucket, err)
	}
	return &alerter{kv: kv, hooks: hooks, webhook: webhook, channel: cfg.Channel, period: cfg.Period,
		log: log, now: time.Now, queue: make(chan SlackMessage, 256)}, nil
}

// alertKey makes a KV key out of free text.
func alertKey(parts ...string) string {
	k := strings.Join(parts, ".")
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.', r == '=':
			return r
		}
		return '_'
	}, k)
}

// raise posts alert name at level unless that level was already raised in
// the current period (period: "" means the alerter's period). It marks the
// alert active, so that [alerter.resolve] posts a "resolved" message.
func (a *alerter) raise(ctx context.Context, name, level, period, title, body string) {
	if period == "" {
		period = a.now().Truncate(a.period).UTC().Format("20060102T1504")
	}
	_, err := a.kv.Create(ctx, alertKey(name, level, period), []byte(a.now().UTC().Format(time.RFC3339)))
	switch {
	case events.KVConflict(err):
		return
	case err != nil:
		a.log.WarnContext(ctx, "alert ledger", "alert", name, "err", err)
		return
	}
	if _, err := a.kv.Put(ctx, alertKey(name, "active"), []byte(level)); err != nil {
		a.log.WarnContext(ctx, "alert ledger", "alert", name, "err", err)
	}
	a.log.WarnContext(ctx, "alert", "alert", name, "level", level, "title", title)
	a.enqueue(AlertMessage(":rotating_light: "+title, body))
}

// resolve posts a "resolved" message if alert name is active.
func (a *alerter) resolve(ctx context.Context, name, title string) {
	e, err := a.kv.Get(ctx, alertKey(name, "active"))
	if err != nil {
		return
	}
	if err := a.kv.Delete(ctx, alertKey(name, "active"), jetstream.LastRevision(e.Revision())); err != nil {
		return // another instance resolved it
	}
	a.log.InfoContext(ctx, "alert resolved", "alert", name)
	a.enqueue(AlertMessage(":white_check_mark: Resolved: "+title, "Back to normal: "+title))
}

func (a *alerter) enqueue(m SlackMessage) {
	if a.webhook == "" {
		return
	}
	select {
	case a.queue <- m:
	default:
		a.log.Warn("alert queue full: alert dropped", "title", m.Text)
	}
}

// run posts queued alerts until ctx is cancelled, waiting out rate limits
// and trying each alert up to five times.
func (a *alerter) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-a.queue:
			a.post(ctx, m)
		}
	}
}

func (a *alerter) post(ctx context.Context, m SlackMessage) {
	for attempt := 1; ; attempt++ {
		err := a.hooks.Post(ctx, a.webhook, m)
		if err == nil {
			return
		}
		if attempt == 5 || events.IsPermanent(err) || ctx.Err() != nil {
			a.log.Warn("alert not posted", "channel", a.channel, "err", err)
			return
		}
		delay, ok := events.RetryDelay(err)
		if !ok {
			delay = time.Duration(attempt) * time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

// lastDepthKey keeps the DLQ depth of the last look, so a rise across a
// restart is noticed too.
const lastDepthKey = "dlq.last_depth"

func (a *alerter) lastDepth(ctx context.Context) uint64 {
	e, err := a.kv.Get(ctx, lastDepthKey)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseUint(string(e.Value()), 10, 64)
	return n
}

func (a *alerter) setLastDepth(ctx context.Context, depth uint64) {
	if _, err := a.kv.Put(ctx, lastDepthKey, []byte(strconv.FormatUint(depth, 10))); err != nil {
		a.log.WarnContext(ctx, "alert ledger", "err", err)
	}
}
