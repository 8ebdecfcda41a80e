package notify

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/service"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// newNotifier opens the buckets with open and builds the senders cfg
// configures. cfg has its defaults applied.
func newNotifier(ctx context.Context, cfg Config, engine *Engine, r service.Resolved, open bucketOpener) (*notifier, error) {
	led, err := openLedger(ctx, open, cfg.DedupeWindow)
	if err != nil {
		return nil, err
	}
	pub, err := r.Publisher()
	if err != nil {
		return nil, err
	}
	outcomes, err := newOutcomeCounter(r.Registry)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	n := &notifier{engine: engine, ledger: led, pub: pub, replays: cfg.NotifyReplays, lease: cfg.ClaimLease,
		log: r.Logger, outcomes: outcomes, now: cfg.Now, stats: &sendStats{}, rotateAfter: time.Duration(cfg.Credentials.RotateAfter),
		breakers: r.Breakers.Register(cfg.Slack.breakers(r.Metrics)), senders: maps.Clone(cfg.Senders)}
	if n.senders == nil {
		n.senders = map[contracts.Channel]Sender{}
	}
	n.hooks = NewSlackWebhooks(tracedSlack(cfg.Slack, r), n.breakers)
	n.hooks.onRateLimit = n.stats.rateLimited
	if n.alerts, err = openAlerter(ctx, open, cfg.Alerts, cfg.alertsWebhook(), n.hooks, r.Logger); err != nil {
		return nil, err
	}
	n.alerts.now = cfg.Now
	if _, ok := n.senders[contracts.ChannelSlack]; !ok && cfg.Slack.configured() {
		n.senders[contracts.ChannelSlack] = NewSlackSender(cfg.Slack, n.hooks)
	}
	if cfg.SMTP.configured() {
		if n.mailer, err = NewMailer(cfg.SMTP, WithMailerTracerProvider(r.TracerProvider)); err != nil {
			return nil, err
		}
		if _, ok := n.senders[contracts.ChannelEmail]; !ok {
			s, err := NewEmailSender(cfg.SMTP, n.mailer)
			if err != nil {
				return nil, err
			}
			n.senders[contracts.ChannelEmail] = s
		}
	}
	if n.senders[contracts.ChannelEmail] != nil {
		loc, _ := cfg.SMTP.location() // validated
		if n.quota, err = openQuota(ctx, open, cfg.SMTP.quotaLimit(), loc, cfg.SMTP.alertLevels()); err != nil {
			return nil, err
		}
		n.quota.crossed, n.quota.now = n.quotaCrossed, cfg.Now
		n.quota.used = emailUsage(r, n.quota.loc.String())
		if n.deferredKV, err = openDeferred(ctx, open); err != nil {
			return nil, err
		}
	}
	if err := n.addCRMSenders(ctx, cfg, r, open); err != nil {
		return nil, err
	}
	n.missing = map[contracts.Channel]string{}
	for _, ch := range allChannels {
		if n.senders[ch] == nil {
			delete(n.senders, ch)
			n.missing[ch] = ReasonNotConfigured
		}
	}
	n.digest, n.slack = cfg.Digest, cfg.Slack
	if n.mailer != nil {
		if n.digests, err = openDigestLedger(ctx, open); err != nil {
			return nil, err
		}
	}
	n.js = r.JS
	return n, nil
}

// addCRMSenders adds the hubspot and airtable senders cfg configures, each
// with its circuit breaker, unless cfg.Senders has one for the channel.
func (n *notifier) addCRMSenders(ctx context.Context, cfg Config, r service.Resolved, open bucketOpener) error {
	if _, ok := n.senders[contracts.ChannelHubSpot]; !ok && cfg.HubSpot.configured() {
		companies, err := openHubSpotBucket(ctx, open)
		if err != nil {
			return err
		}
		b := r.Breakers.Register(events.NewBreakers(events.WithDestinations(HubSpotDestination), events.WithBreakerMetrics(r.Metrics)))
		cfg.HubSpot.HTTPClient = tracedClient(cfg.HubSpot.HTTPClient, cfg.HubSpot.Timeout, r)
		client := NewHubSpotClient(cfg.HubSpot, b)
		client.api.onRateLimit = n.stats.rateLimited
		n.senders[contracts.ChannelHubSpot] = NewHubSpotSender(cfg.HubSpot, client, WithCompanyClaims(companies))
	}
	if _, ok := n.senders[contracts.ChannelAirtable]; !ok && cfg.Airtable.configured() {
		dest := AirtableDestination(cfg.Airtable.Base)
		b := r.Breakers.Register(events.NewBreakers(events.WithDestinations(dest), events.WithBreakerMetrics(r.Metrics)))
		cfg.Airtable.HTTPClient = tracedClient(cfg.Airtable.HTTPClient, cfg.Airtable.Timeout, r)
		client := NewAirtableClient(cfg.Airtable, b)
		client.api.onRateLimit = n.stats.rateLimited
		n.senders[contracts.ChannelAirtable] = NewAirtableSender(cfg.Airtable, client)
	}
	return nil
}

// quotaCrossed raises the quota alert for level, once per day and level.
func (n *notifier) quotaCrossed(ctx context.Context, day string, level, used, limit int) {
	title := fmt.Sprintf("Email quota %d%% used on %s", level, day)
	body := fmt.Sprintf("%d of the %d emails allowed on %s are used.", used, limit, day)
	if used >= limit {
		body += " Further emails are deferred to the next day."
	}
	n.alerts.raise(ctx, "quota.email", fmt.Sprint(level), day, title, body)
}

// background starts the alert poster, the deferred-email ticker, the
// digest schedule and the monitors; they stop when ctx is cancelled.
func (n *notifier) background(ctx context.Context, wg *sync.WaitGroup, cfg Config, r service.Resolved) {
	wg.Go(func() { n.alerts.run(ctx) })
	if n.deferredKV != nil {
		wg.Go(func() { n.deferredLoop(ctx, cfg.DeferredInterval) })
	}
	if n.mailer != nil && len(cfg.Digest.To) > 0 {
		wg.Go(func() { n.digestLoop(ctx) })
	}
	wg.Go(func() { n.monitor(ctx, cfg.Alerts) })
}

// deferredLoop sends due deferred notifications at start and every
// interval, so the first tick after midnight sends the day's share.
func (n *notifier) deferredLoop(ctx context.Context, every time.Duration) {
	service.Every(ctx, every, func(ctx context.Context) {
		if sent, err := n.sendDeferred(ctx); err != nil && ctx.Err() == nil {
			n.log.WarnContext(ctx, "deferred notifications", "err", err)
		} else if sent > 0 {
			n.log.InfoContext(ctx, "deferred notifications sent", "count", sent)
		}
	})
}

// tracedSlack gives the Slack client a traced transport, so every webhook
// call is a client span in the lead's trace.
func tracedSlack(cfg Slack, r service.Resolved) Slack {
	cfg.HTTPClient = tracedClient(cfg.HTTPClient, cfg.Timeout, r)
	return cfg
}

// tracedClient returns a copy of c (nil: a client with timeout, 10s when
// zero) whose calls are client spans naming the host only.
func tracedClient(c *http.Client, timeout time.Duration, r service.Resolved) *http.Client {
	client := http.Client{Timeout: timeout}
	if c != nil {
		client = *c
	}
	if client.Timeout == 0 {
		client.Timeout = 10 * time.Second
	}
	base := client.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	client.Transport = secretURLTransport{base: base, tracer: r.TracerProvider.Tracer("github.com/gtmhub/gtmhub/services/notify")}
	return &client
}

// secretURLTransport traces calls to URLs that are secrets (a Slack
// incoming webhook's path is its credential): the span names the host only,
// where otelhttp would record the full URL.
type secretURLTransport struct {
	base   http.RoundTripper
	tracer trace.Tracer
}

func (t secretURLTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, span := t.tracer.Start(req.Context(), req.Method+" "+req.URL.Host, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(semconv.HTTPRequestMethodKey.String(req.Method), semconv.ServerAddress(req.URL.Hostname())))
	defer span.End()
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		span.RecordError(errors.New(events.Redact(err.Error())))
		span.SetStatus(codes.Error, "request failed")
		return nil, err
	}
	span.SetAttributes(semconv.HTTPResponseStatusCode(resp.StatusCode))
	if resp.StatusCode >= 400 {
		span.SetStatus(codes.Error, resp.Status)
	}
	return resp, nil
}

// emailUsage records the day's emails against the quota in the usage
// bucket, where gtmhub status rates them. A failure to record is logged.
func emailUsage(r service.Resolved, zone string) func(context.Context, string, int, int) {
	return func(ctx context.Context, day string, used, limit int) {
		u := service.Usage{Resource: emailUsageResource, Used: float64(used), Limit: float64(limit),
			Unit: "emails", Period: day, Zone: zone}
		if err := service.PutUsage(ctx, r.JS, u); err != nil {
			r.Logger.WarnContext(ctx, "record email usage", "err", err)
		}
	}
}
