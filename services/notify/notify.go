// Package notify decides who hears about record changes, and tells them.
//
// It consumes the store's change feed (gtm.records.>: contacts and companies
// created or updated) and evaluates notification [Rule]s on every event. A
// rule names the event types it looks at, a condition written in expr-lang
// over the event's id, type, subject and data (for example
// `(data.contact?.signal_score ?? 0) > 80`), a channel (slack or email, or
// hubspot or airtable to write the contact there), a target and a dedupe key
// template. Expressions and templates are compiled
// once at start; a configuration with a broken rule does not start.
//
// # Channels
//
// Slack goes through incoming webhooks ([SlackWebhooks]): a Block Kit
// message with the lead's name, company, title, scores and source, and a
// link to the trace when slack.tracing_ui_url is set. Every webhook has a
// rate limiter (one message a second, as Slack documents) shared by all
// workers, and a circuit breaker. 200 is sent; 429 is retried after Slack's
// Retry-After; 400, 403, 404 and 410 are refused for good (the event goes
// to the DLQ with Slack's error code); 5xx is retried. Webhook URLs are
// secrets and never appear in logs, errors or events.
//
// Email goes over SMTP ([Mailer], STARTTLS, implicit TLS or plain, with
// optional AUTH), text and HTML parts from templates per rule and a
// List-Unsubscribe header. A daily quota (500 by default) is counted per
// local day in the [QuotaBucket]: each email reserves its place before the
// send (a compare-and-swap, so the quota is a hard ceiling across replicas)
// and gives it back when the server did not accept it, temporarily or for
// good, so the quota counts emails sent, not attempts. Emails over it wait in the
// [DeferredBucket] and go out on the next day (see [DeferredBucket] for why
// not RetryAfter), and crossing 70, 80, 85 and 95 % raises an alert. 5xx
// answers are refused for good, 4xx retried.
//
// # Writing to HubSpot and Airtable
//
// A rule with action hubspot ([HubSpotSender]) upserts the contact of a
// contact change by email (POST /crm/v3/objects/contacts/batch/upsert) with
// the properties hubspot.properties maps (firstname, lastname, company,
// jobtitle, phone, and the status as an hs_lead_status option by default;
// scores only when mapped to custom properties), then, when the contact has
// a domain, finds the company by domain (or creates it) and gives the two
// HubSpot's default association. A rule with action airtable
// ([AirtableSender]) upserts the contact into a table, merged on its Email
// column, with the seed's columns (Email, First Name, Last Name, Company,
// Status, Created). Both keep to the APIs' rate limits with a limiter
// (HubSpot: 100 requests per ten seconds and 4 searches a second; Airtable:
// 5 requests a second per base), wait out a 429 (HubSpot's Retry-After, or
// 10s; Airtable's 30s), retry 5xx through a circuit breaker, and refuse for
// good any other 4xx, dead-lettering the event with the API's error. Writes
// that arrive within a few milliseconds share one request (100 contacts to
// HubSpot, 10 records to Airtable); a batch refused for good is sent again
// record by record. Tokens never appear in logs, errors, events or dead
// letters.
//
// Every change is written once: these rules are deduplicated by event id.
// A change that came from the destination itself is not written back to it
// (see [Skipper]): when every changed field it holds got its value from the
// destination's ingest sources (hubspot.sources, airtable.sources), the
// decision is recorded as suppressed. The echo of a write ends after one
// round, since the store publishes no change for values it already holds.
//
// Until slack.webhook_url, smtp.host, hubspot.token or airtable.token is
// set, the rules on that channel are inert: their decisions are recorded as skipped, and [Config.Channels]
// says so for gtmhub status.
//
// # Never twice
//
// Every match is a notification whose ledger key is [DecisionID] of its rule
// and dedupe key, in the JetStream key-value bucket [LedgerBucket] (24h
// dedupe window by default). notify claims the key with a KV Create before
// sending (only one claimant wins), and replaces the claim with the outcome
// by a KV Update at the claim's revision after. See [State] for the
// states and the at-most-once choice for a crash between a send and its
// outcome. Redeliveries, producer retries, `gtmhub dlq redrive` and replays
// asking for side effects (extension gtmsideeffects=true) therefore never
// send a notification twice; replays without it (gtmreplay=true) notify
// nobody unless notify_replays is set.
//
// Every decision is recorded as a com.gtmhub.notification.sent event on
// gtm.notify.{outcome}: sent, failed (refused for good), skipped (channel
// not configured) or suppressed (a duplicate of an earlier decision, a
// replay, a deferral by the quota, an interrupted send), with its reason.
//
// # Digest and alerts
//
// The daily digest ([Digest], cron schedule and time zone, 08:00 local by
// default) emails yesterday's new leads (count, by source, top ten by
// signal score) and rejected count, read from the RECORDS and LEADS
// streams by time, with the day's warnings (dead letters by service, alert
// levels raised), once per date and recipient, recorded in the
// [DigestBucket] ([RunDigest] runs one on demand). A digest that could not
// be sent is retried with backoff, and one a stopped notify missed is sent
// when it starts, for a day after its scheduled time.
// Operations alerts ([Alerts]) go to a Slack channel: DLQ depth rising, a
// breaker opening, quota levels (the email quota, and every quota in the
// usage bucket, such as a provider's monthly credits), failure rate, latency, consumer backlog
// and Slack rate limits; each level at most once per period, with a
// "resolved" message when it clears.
package notify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/service"
)

// Name is the service name: the consumer's durable name and the CloudEvent
// source's last element.
const Name = "notify"

// workers is how many record changes notify handles at once.
const workers = 16

// Defaults.
const (
	// DefaultDedupeWindow is how long a decision is remembered by default.
	DefaultDedupeWindow = 24 * time.Hour
	// DefaultClaimLease is how long a claimed notification may stay without
	// an outcome before it is taken as interrupted.
	DefaultClaimLease = 2 * time.Minute
	// DefaultDeferredInterval is how often deferred notifications are
	// looked at.
	DefaultDeferredInterval = time.Minute
)

// Config is the notify service's configuration.
type Config struct {
	// Rules are the notification rules; when none are declared,
	// [DefaultRules] apply.
	Rules []Rule `yaml:"rules"`
	// Slack configures the Slack channel.
	Slack Slack `yaml:"slack"`
	// SMTP configures the email channel.
	SMTP SMTP `yaml:"smtp"`
	// HubSpot configures the hubspot channel: contacts upserted in HubSpot.
	HubSpot HubSpot `yaml:"hubspot"`
	// Airtable configures the airtable channel: contacts upserted in a table.
	Airtable Airtable `yaml:"airtable"`
	// Alerts configures operations alerts to Slack.
	Alerts Alerts `yaml:"alerts"`
	// Digest configures the daily digest email.
	Digest Digest `yaml:"digest"`
	// Credentials sets how old a credential may grow before notify alerts
	// that it is overdue for rotation.
	Credentials service.CredentialsConfig `yaml:"credentials"`
	// NotifyReplays makes replayed events notify like live ones, even when
	// the replay did not ask for side effects.
	NotifyReplays bool `yaml:"notify_replays"`
	// DedupeWindow is how long the ledger remembers a decision. Default 24h.
	DedupeWindow time.Duration `yaml:"notify_dedupe_window"`
	// ClaimLease is how long a claimed notification may wait for its
	// outcome; a claim older than that is taken as a send interrupted by a
	// crash and is not sent again. Default 2m. It must exceed the longest
	// send (Slack and SMTP timeouts).
	ClaimLease time.Duration `yaml:"claim_lease"`
	// DeferredInterval is how often notifications deferred by the email
	// quota are looked at. Default 1m.
	DeferredInterval time.Duration `yaml:"deferred_interval"`
	// Senders deliver notifications, by channel, in place of the built-in
	// Slack and email senders. A channel without a sender has its decisions
	// recorded as skipped.
	Senders map[contracts.Channel]Sender `yaml:"-"`
	// Now is the clock; nil means time.Now. Tests move it to the next day.
	Now func() time.Time `yaml:"-"`
	// NATSURL is where to connect when the host passes no connection.
	NATSURL string `yaml:"-"`
}

// DefaultConfig returns the configuration used when gtmhub.yaml says
// nothing: the default rules, no channel configured, replays not notified,
// a 24h dedupe window.
func DefaultConfig() Config {
	return Config{DedupeWindow: DefaultDedupeWindow, ClaimLease: DefaultClaimLease,
		DeferredInterval: DefaultDeferredInterval, Digest: DefaultDigest()}
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
// does not compile, by name. It never repeats a secret.
func (c Config) Validate() error {
	c = c.resolveEnv()
	var p service.Problems
	_, errs := compileRules(c.EffectiveRules())
	for _, err := range errs {
		p.Addf("rules: %w", err)
	}
	if c.DedupeWindow <= 0 {
		p.Addf("notify_dedupe_window must be positive, not %s", c.DedupeWindow)
	}
	if c.ClaimLease < 0 || c.DeferredInterval < 0 {
		p.Addf("claim_lease and deferred_interval must not be negative")
	}
	c.Slack.validate(&p, "slack")
	c.Slack.unsetEnv(&p, "slack")
	if c.Alerts.WebhookURLEnv != "" && c.Alerts.WebhookURL == "" {
		p.Addf("alerts.webhook_url_env: %s is not set", c.Alerts.WebhookURLEnv)
	}
	c.SMTP.validate(&p)
	c.HubSpot.validate(&p)
	c.Airtable.validate(&p)
	ruleNames := map[string]bool{}
	for _, r := range c.EffectiveRules() {
		ruleNames[r.Name] = true
	}
	for name := range c.SMTP.Templates {
		if !ruleNames[name] {
			p.Addf("smtp.templates[%q]: no rule has that name, so the template would never be used", name)
		}
	}
	c.Alerts.validate(&p)
	if c.Credentials.RotateAfter < 0 {
		p.Addf("credentials.rotate_after must not be negative")
	}
	c.Digest.validate(&p, c.SMTP)
	for ch, s := range c.Senders {
		if !slices.Contains(allChannels, ch) {
			p.Addf("sender for unknown channel %q", ch)
		}
		if s == nil {
			p.Addf("sender for channel %q is nil", ch)
		}
	}
	return p.Err()
}

// ChannelStatus says whether notifications on one channel can go out.
type ChannelStatus struct {
	Channel contracts.Channel `json:"channel"`
	// Ready is false when the channel is not configured: its rules are
	// inert, and their decisions are recorded as skipped.
	Ready bool `json:"ready"`
	// Rules are the rules in force that notify on the channel.
	Rules []string `json:"rules"`
	// Reason says why the channel is not ready.
	Reason string `json:"reason,omitempty"`
}

// allChannels are the channels rules can name, in the order status lists
// them.
var allChannels = []contracts.Channel{contracts.ChannelSlack, contracts.ChannelEmail,
	contracts.ChannelHubSpot, contracts.ChannelAirtable}

// Channels reports, for slack and email, and for hubspot and airtable when
// they are configured or a rule uses them, whether the channel is
// configured and which rules use it, for gtmhub status ("the high-intent
// rule is inert: Slack is not configured").
func (c Config) Channels() []ChannelStatus {
	c = c.resolveEnv()
	configured := map[contracts.Channel]bool{
		contracts.ChannelSlack: c.Slack.configured(), contracts.ChannelEmail: c.SMTP.configured(),
		contracts.ChannelHubSpot: c.HubSpot.configured(), contracts.ChannelAirtable: c.Airtable.configured(),
	}
	what := map[contracts.Channel]string{contracts.ChannelSlack: "slack.webhook_url", contracts.ChannelEmail: "smtp.host",
		contracts.ChannelHubSpot: "hubspot.token", contracts.ChannelAirtable: "airtable.token, base and table"}
	var out []ChannelStatus
	for _, ch := range allChannels {
		st := ChannelStatus{Channel: ch, Ready: c.Senders[ch] != nil || configured[ch]}
		for _, r := range c.EffectiveRules() {
			if r.Action == ch {
				st.Rules = append(st.Rules, r.Name)
			}
		}
		crm := ch == contracts.ChannelHubSpot || ch == contracts.ChannelAirtable
		if crm && !st.Ready && len(st.Rules) == 0 {
			continue
		}
		if !st.Ready {
			st.Reason = fmt.Sprintf("%s: set %s in gtmhub.yaml", ReasonNotConfigured, what[ch])
		}
		out = append(out, st)
	}
	return out
}

// resolveEnv reads the secrets named by *_env settings.
func (c Config) resolveEnv() Config {
	c.Slack = c.Slack.resolveEnv(os.Getenv)
	if c.Alerts.WebhookURL == "" && c.Alerts.WebhookURLEnv != "" {
		c.Alerts.WebhookURL = os.Getenv(c.Alerts.WebhookURLEnv)
	}
	c.SMTP = c.SMTP.resolveEnv(os.Getenv)
	c.HubSpot = c.HubSpot.resolveEnv(os.Getenv)
	c.Airtable = c.Airtable.resolveEnv(os.Getenv)
	return c
}

// withDefaults reads secrets from the environment and fills in zero
// durations (a Config built without DefaultConfig).
func (c Config) withDefaults() Config {
	c = c.resolveEnv()
	if c.ClaimLease == 0 {
		c.ClaimLease = DefaultClaimLease
	}
	if c.DeferredInterval == 0 {
		c.DeferredInterval = DefaultDeferredInterval
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.Alerts = c.Alerts.withDefaults()
	c.Digest = c.Digest.withDefaults()
	return c
}

// alertsWebhook is where alerts go: alerts.webhook_url, else the Slack
// webhook of the alerts channel, else slack.webhook_url, else nowhere.
func (c Config) alertsWebhook() string {
	if c.Alerts.WebhookURL != "" {
		return c.Alerts.WebhookURL
	}
	return c.Slack.webhookFor(c.Alerts.Channel)
}

// Run evaluates the rules on record changes until ctx is cancelled, then
// drains in-flight events and returns nil. It also sends deferred emails
// when their day comes, the daily digest on its schedule, and alerts. It
// returns an error if the configuration is invalid, or the buckets or
// consumer cannot be set up.
func Run(ctx context.Context, cfg Config, deps service.Deps) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
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
	n, err := newNotifier(ctx, cfg, engine, r, r.KeyValue)
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	r.Health.Add("stream:"+events.StreamRecords, service.StreamsCheck(r.JS, events.StreamRecords))
	r.Health.Add("stream:"+events.StreamNotify, service.StreamsCheck(r.JS, events.StreamNotify))
	r.Health.Add("ledger:"+LedgerBucket, n.ledger.check)
	noteChannels(ctx, r, cfg)
	defer r.KeepCredentialsSeen(ctx, Name, cfg.credentials(os.Getenv), 0)()
	noteWarnings(ctx, r, cfg.Warnings())

	// The changes to one record are handled in turn (a record's events are
	// keyed by their CloudEvent subject), different records at once. Two
	// records matching the same notification still meet at its claim in the
	// ledger: only one sends it.
	consumer, err := events.NewConsumer(r.JS, spec, n.handle, r.ConsumerOptions(
		events.WithConcurrency(workers), events.WithOrderingKey(events.SubjectKey))...)
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}

	r.Logger.InfoContext(ctx, "notify started", "consumer", spec.Durable, "rules", engine.Len(),
		"dedupe_window", cfg.DedupeWindow.String(), "notify_replays", cfg.NotifyReplays)
	for ch, why := range n.missing {
		r.Logger.InfoContext(ctx, "notifications on this channel are recorded as skipped", "channel", ch, "reason", why)
	}
	var wg sync.WaitGroup
	bg, stopBackground := context.WithCancel(ctx)
	n.background(bg, &wg, cfg, r)
	err = consumer.Run(ctx)
	stopBackground()
	wg.Wait()
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	r.Logger.Info("notify stopped")
	return nil
}

// noteChannels tells gtmhub status which channels are configured, and which
// rules stay inert until theirs is.
func noteChannels(ctx context.Context, r service.Resolved, cfg Config) {
	for _, ch := range cfg.Channels() {
		note := service.Note{Service: Name, Key: "channel." + string(ch.Channel), Level: service.LevelOK,
			Text: string(ch.Channel) + " configured"}
		if !ch.Ready {
			note.Text = string(ch.Channel) + " not configured: " + ch.Reason
			if len(ch.Rules) > 0 {
				note.Level = service.LevelWarning
				note.Text += "; inert rules: " + strings.Join(ch.Rules, ", ")
			}
		}
		if err := service.PutNote(ctx, r.JS, note); err != nil {
			r.Logger.WarnContext(ctx, "record channel status", "channel", ch.Channel, "err", err)
		}
	}
}
