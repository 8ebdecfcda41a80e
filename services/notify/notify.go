// Package notify decides who hears about record changes.
//
// It consumes the store's change feed (gtm.records.>: contacts and companies
// created or updated) and evaluates notification [Rule]s on every event. A
// rule names the event types it looks at, a condition written in expr-lang
// over the event's id, type, subject and data (for example
// `(data.contact?.signal_score ?? 0) > 80`), a channel (slack or email), a
// target and a dedupe key template. Expressions and templates are compiled
// once at start; a configuration with a broken rule does not start.
//
// Every match becomes a decision, recorded as a com.gtmhub.notification.sent
// event on gtm.notify.{outcome}: sent when a channel [Sender] delivered it,
// failed when the channel refused it, skipped when the channel is not
// configured. Slack and email delivery are not built in yet, so with the
// default configuration every decision is skipped with the reason
// "channel not configured".
//
// A decision's CloudEvent id is [DecisionID] of its rule and dedupe key, and
// the JetStream key-value bucket [LedgerBucket] remembers it for the dedupe
// window (24h by default): notify checks the ledger before acting and writes
// it after, so the same notification is never acted on or recorded twice,
// whichever event, redelivery or replay fires it again. Events marked as
// replays (CloudEvent extension gtmreplay=true) notify nobody unless
// notify_replays is set.
package notify

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/service"
)

// Name is the service name: the consumer's durable name and the CloudEvent
// source's last element.
const Name = "notify"

// DefaultDedupeWindow is how long a decision is remembered by default.
const DefaultDedupeWindow = 24 * time.Hour

// Config is the notify service's configuration.
type Config struct {
	// Rules are the notification rules; when none are declared,
	// [DefaultRules] apply.
	Rules []Rule `yaml:"rules"`
	// Slack configures the Slack channel.
	Slack Slack `yaml:"slack"`
	// SMTP configures the email channel.
	SMTP SMTP `yaml:"smtp"`
	// NotifyReplays makes replayed events notify like live ones.
	NotifyReplays bool `yaml:"notify_replays"`
	// DedupeWindow is how long the ledger remembers a decision. Default 24h.
	DedupeWindow time.Duration `yaml:"notify_dedupe_window"`
	// Senders deliver notifications, by channel. A channel without a sender
	// has its decisions recorded as skipped.
	Senders map[contracts.Channel]Sender `yaml:"-"`
	// NATSURL is where to connect when the host passes no connection.
	NATSURL string `yaml:"-"`
}

// Slack is the slack: section of gtmhub.yaml.
type Slack struct {
	// WebhookURL is the incoming-webhook URL. It is a secret: it is never
	// logged. Empty: Slack is not configured.
	WebhookURL string `yaml:"webhook_url"`
}

// SMTP is the smtp: section of gtmhub.yaml.
type SMTP struct {
	// Host is the mail server, host or host:port. Empty: email is not
	// configured.
	Host string `yaml:"host"`
}

// DefaultConfig returns the configuration used when gtmhub.yaml says
// nothing: the default rules, no channel configured, replays not notified,
// a 24h dedupe window.
func DefaultConfig() Config {
	return Config{DedupeWindow: DefaultDedupeWindow}
}

// EffectiveRules returns the rules in force: c.Rules, or [DefaultRules] when
// there are none.
func (c Config) EffectiveRules() []Rule {
	if len(c.Rules) == 0 {
		return DefaultRules()
	}
	return c.Rules
}

// Validate reports every problem with c at once, including every rule that
// does not compile, by name.
func (c Config) Validate() error {
	var p service.Problems
	_, errs := compileRules(c.EffectiveRules())
	for _, err := range errs {
		p.Addf("rules: %w", err)
	}
	if c.DedupeWindow <= 0 {
		p.Addf("notify_dedupe_window must be positive, not %s", c.DedupeWindow)
	}
	if c.Slack.WebhookURL != "" {
		// The URL is a secret: say what is wrong without repeating it.
		if u, err := url.Parse(c.Slack.WebhookURL); err != nil || u.Scheme != "https" || u.Host == "" {
			p.Addf("slack.webhook_url must be an https URL")
		}
	}
	for ch, s := range c.Senders {
		if ch != contracts.ChannelSlack && ch != contracts.ChannelEmail {
			p.Addf("sender for unknown channel %q", ch)
		}
		if s == nil {
			p.Addf("sender for channel %q is nil", ch)
		}
	}
	return p.Err()
}

// unavailable says, for every channel without a sender, why it has none.
func (c Config) unavailable() map[contracts.Channel]string {
	missing := map[contracts.Channel]string{}
	for ch, configured := range map[contracts.Channel]bool{
		contracts.ChannelSlack: c.Slack.WebhookURL != "",
		contracts.ChannelEmail: c.SMTP.Host != "",
	} {
		switch {
		case c.Senders[ch] != nil:
		case configured:
			missing[ch] = fmt.Sprintf("%s delivery is not implemented yet", ch)
		default:
			missing[ch] = ReasonNotConfigured
		}
	}
	return missing
}

// Run evaluates the rules on record changes until ctx is cancelled, then
// drains in-flight events and returns nil. It returns an error if the
// configuration is invalid, or the ledger or consumer cannot be set up.
func Run(ctx context.Context, cfg Config, deps service.Deps) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	engine, err := NewEngine(cfg.EffectiveRules())
	if err != nil {
		return err // Validate has already compiled the rules.
	}
	spec, ok := events.DefaultTopology().Consumer(Name)
	if !ok {
		return errors.New("notify: the topology declares no notify consumer")
	}

	r, closeConn, err := deps.Resolve(ctx, cfg.NATSURL, Name)
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	defer closeConn()
	led, err := openLedger(ctx, r.JS, cfg.DedupeWindow)
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	r.Health.Add("stream:"+events.StreamRecords, service.StreamsCheck(r.JS, events.StreamRecords))
	r.Health.Add("stream:"+events.StreamNotify, service.StreamsCheck(r.JS, events.StreamNotify))
	r.Health.Add("ledger:"+LedgerBucket, led.check)

	pub, err := r.Publisher()
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	outcomes, err := newOutcomeCounter(r.Registry)
	if err != nil {
		return fmt.Errorf("notify: metrics: %w", err)
	}
	n := &notifier{engine: engine, ledger: led, pub: pub, senders: cfg.Senders, missing: cfg.unavailable(),
		replays: cfg.NotifyReplays, log: r.Logger, outcomes: outcomes, now: time.Now}
	// One event at a time: the ledger check and write around a send must
	// not interleave with another event firing the same notification.
	consumer, err := events.NewConsumer(r.JS, spec, n.handle, r.ConsumerOptions(events.WithConcurrency(1))...)
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}

	r.Logger.InfoContext(ctx, "notify started", "consumer", spec.Durable, "rules", engine.Len(),
		"dedupe_window", cfg.DedupeWindow.String(), "notify_replays", cfg.NotifyReplays)
	for ch, why := range n.missing {
		r.Logger.InfoContext(ctx, "notifications on this channel are recorded as skipped", "channel", ch, "reason", why)
	}
	if err := consumer.Run(ctx); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	r.Logger.Info("notify stopped")
	return nil
}
