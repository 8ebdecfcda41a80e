package notify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/gtmhub/gtmhub/events"
)

// Slack is the slack: section of gtmhub.yaml.
type Slack struct {
	// WebhookURL is the incoming-webhook URL used for every Slack target
	// without its own entry in Webhooks. It is a secret: it is never logged.
	// Empty (and no Webhooks): Slack is not configured.
	WebhookURL string `yaml:"webhook_url"`
	// WebhookURLEnv names an environment variable holding WebhookURL, to
	// keep the secret out of gtmhub.yaml.
	WebhookURLEnv string `yaml:"webhook_url_env"`
	// Webhooks maps a rule target (a channel such as #high-intent) to its
	// own incoming-webhook URL: an incoming webhook always posts to the
	// channel it was created for.
	Webhooks map[string]string `yaml:"webhooks"`
	// WebhooksEnv maps a rule target to an environment variable holding
	// its webhook URL, to keep those secrets out of gtmhub.yaml too. A
	// target in Webhooks keeps that URL.
	WebhooksEnv map[string]string `yaml:"webhooks_env"`
	// TracingUIURL is the base URL of a tracing UI such as Jaeger; when set,
	// messages link to {tracing_ui_url}/trace/{trace_id}.
	TracingUIURL string `yaml:"tracing_ui_url"`
	// Timeout bounds one webhook call. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// PerSecond is the most messages a second sent to one webhook; Slack
	// documents 1. Default 1.
	PerSecond float64 `yaml:"per_second"`
	// BreakerTripAfter is how many failures in a row (5xx, timeouts) open a
	// webhook's circuit breaker. Default 5.
	BreakerTripAfter uint32 `yaml:"breaker_trip_after"`
	// BreakerTimeout is how long an open breaker waits before a trial call.
	// Default 30s.
	BreakerTimeout time.Duration `yaml:"breaker_timeout"`
	// HTTPClient makes the webhook calls; nil means a client with Timeout.
	HTTPClient *http.Client `yaml:"-"`
}

// resolveEnv fills WebhookURL from WebhookURLEnv and Webhooks from
// WebhooksEnv, into a copy of Webhooks.
func (s Slack) resolveEnv(getenv func(string) string) Slack {
	if s.WebhookURL == "" && s.WebhookURLEnv != "" {
		s.WebhookURL = getenv(s.WebhookURLEnv)
	}
	if len(s.WebhooksEnv) > 0 {
		hooks := maps.Clone(s.Webhooks)
		if hooks == nil {
			hooks = make(map[string]string, len(s.WebhooksEnv))
		}
		for target, name := range s.WebhooksEnv {
			if hooks[target] == "" {
				if u := getenv(name); u != "" {
					hooks[target] = u
				}
			}
		}
		s.Webhooks = hooks
	}
	return s
}

// unsetEnv adds to p each variable of the section, resolved, that should
// hold a webhook URL and does not.
func (s Slack) unsetEnv(p interface{ Addf(string, ...any) }, section string) {
	if s.WebhookURLEnv != "" && s.WebhookURL == "" {
		p.Addf("%s.webhook_url_env: %s is not set", section, s.WebhookURLEnv)
	}
	for _, target := range slices.Sorted(maps.Keys(s.WebhooksEnv)) {
		if s.Webhooks[target] == "" {
			p.Addf("%s.webhooks_env[%q]: %s is not set", section, target, s.WebhooksEnv[target])
		}
	}
}

// configured reports whether any webhook is set.
func (s Slack) configured() bool { return s.WebhookURL != "" || len(s.Webhooks) > 0 }

// webhookFor returns the webhook URL for target.
func (s Slack) webhookFor(target string) string {
	if u, ok := s.Webhooks[target]; ok && u != "" {
		return u
	}
	return s.WebhookURL
}

// validate adds the problems of the slack section to p without repeating a
// webhook URL: they are secrets.
func (s Slack) validate(p interface{ Addf(string, ...any) }, section string) {
	check := func(name, raw string) {
		if u, err := url.Parse(raw); err != nil || u.Scheme != "https" || u.Host == "" {
			p.Addf("%s must be an https URL", name)
		}
	}
	if s.WebhookURL != "" {
		check(section+".webhook_url", s.WebhookURL)
	}
	for target, raw := range s.Webhooks {
		check(fmt.Sprintf("%s.webhooks[%q]", section, target), raw)
	}
	if s.TracingUIURL != "" {
		if u, err := url.Parse(s.TracingUIURL); err != nil || u.Scheme == "" || u.Host == "" {
			p.Addf("%s.tracing_ui_url must be an absolute URL", section)
		}
	}
	if s.Timeout < 0 {
		p.Addf("%s.timeout must not be negative", section)
	}
	if s.BreakerTimeout < 0 {
		p.Addf("%s.breaker_timeout must not be negative", section)
	}
	if s.PerSecond < 0 {
		p.Addf("%s.per_second must not be negative", section)
	}
}

// SlackWebhooks posts messages to Slack incoming webhooks. Every webhook has
// its own rate limiter (Slack allows about one message a second per
// webhook), shared by every goroutine posting to it, and its own circuit
// breaker. Errors never contain a webhook URL.
type SlackWebhooks struct {
	client   *http.Client
	breakers *events.Breakers
	every    rate.Limit
	// onRateLimit, when set, is called on every 429.
	onRateLimit func()

	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

// NewSlackWebhooks returns a poster using cfg's client, timeout and rate,
// and breakers for the circuit breakers (keyed by [SlackDestination]); nil
// breakers means a set built from cfg's breaker settings.
func NewSlackWebhooks(cfg Slack, breakers *events.Breakers) *SlackWebhooks {
	client := cfg.HTTPClient
	if client == nil {
		timeout := cfg.Timeout
		if timeout == 0 {
			timeout = 10 * time.Second
		}
		client = &http.Client{Timeout: timeout}
	}
	perSecond := cfg.PerSecond
	if perSecond == 0 {
		perSecond = 1
	}
	if breakers == nil {
		breakers = cfg.breakers(nil)
	}
	return &SlackWebhooks{client: client, breakers: breakers, every: rate.Limit(perSecond),
		limiters: make(map[string]*rate.Limiter)}
}

// breakers returns circuit breakers with cfg's settings, one for each
// configured webhook from the start, exporting their state to m when it is
// set.
func (s Slack) breakers(m *events.Metrics) *events.Breakers {
	var dests []string
	for _, hook := range append([]string{s.WebhookURL}, slices.Collect(maps.Values(s.Webhooks))...) {
		if hook != "" {
			dests = append(dests, SlackDestination(hook))
		}
	}
	opts := []events.BreakerOption{events.WithDestinations(dests...)}
	if m != nil {
		opts = append(opts, events.WithBreakerMetrics(m))
	}
	if s.BreakerTripAfter > 0 {
		opts = append(opts, events.WithTripAfter(s.BreakerTripAfter))
	}
	if s.BreakerTimeout > 0 {
		opts = append(opts, events.WithBreakerTimeout(s.BreakerTimeout))
	}
	return events.NewBreakers(opts...)
}

// SlackDestination is the name of webhook's breaker and the way logs and
// alerts refer to it: "slack:" and the start of the URL's SHA-256, since the
// URL itself is a secret.
func SlackDestination(webhook string) string {
	sum := sha256.Sum256([]byte(webhook))
	return "slack:" + hex.EncodeToString(sum[:6])
}

func (s *SlackWebhooks) limiter(webhook string) *rate.Limiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.limiters[webhook]
	if !ok {
		l = rate.NewLimiter(s.every, 1)
		s.limiters[webhook] = l
	}
	return l
}

// SlackError is an answer from Slack other than 200 ok.
type SlackError struct {
	Status int
	// Code is Slack's error code from the body, such as channel_not_found.
	Code string
}

func (e *SlackError) Error() string {
	return fmt.Sprintf("slack webhook answered %d %s", e.Status, e.Code)
}

// Post sends msg to webhook, waiting for the webhook's rate limiter first.
// It returns nil on 200, an [events.RetryAfter] error on 429 (Slack's
// Retry-After) or while the breaker is open, an [events.Permanent] error on
// 400, 403, 404, 410 and other 4xx answers, and a plain error on 5xx and
// transport failures, which count against the webhook's breaker.
func (s *SlackWebhooks) Post(ctx context.Context, webhook string, msg SlackMessage) error {
	body, err := json.Marshal(msg)
	if err != nil {
		return events.Permanent(fmt.Errorf("slack message: %w", err))
	}
	if err := s.limiter(webhook).Wait(ctx); err != nil {
		return fmt.Errorf("slack rate limiter: %w", err)
	}
	dest := SlackDestination(webhook)
	// Only 5xx and transport failures reach the breaker; a refusal or a
	// rate limit is an answer from a healthy Slack.
	var answer error
	err = s.breakers.Do(ctx, dest, func(ctx context.Context) error {
		status, code, retryAfter, err := s.post(ctx, webhook, body)
		if err != nil {
			return err
		}
		answer = classify(status, code, retryAfter)
		if status == http.StatusTooManyRequests && s.onRateLimit != nil {
			s.onRateLimit()
		}
		if status >= 500 {
			return answer
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", dest, err)
	}
	if answer != nil {
		if events.IsPermanent(answer) {
			return events.Permanent(fmt.Errorf("%s: %w", dest, unwrapPermanent(answer)))
		}
		return fmt.Errorf("%s: %w", dest, answer)
	}
	return nil
}

// post makes the call. Its errors leave the URL out.
func (s *SlackWebhooks) post(ctx context.Context, webhook string, body []byte) (status int, code string, retryAfter time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhook, bytes.NewReader(body))
	if err != nil {
		return 0, "", 0, events.Permanent(errors.New("slack webhook URL is not valid"))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // url.Error repeats the URL
		}
		return 0, "", 0, fmt.Errorf("slack webhook call: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	return resp.StatusCode, strings.TrimSpace(string(b)), parseRetryAfter(resp.Header.Get("Retry-After")), nil
}

// classify maps Slack's answer to the error contract.
func classify(status int, code string, retryAfter time.Duration) error {
	if code == "" {
		code = http.StatusText(status)
	}
	code = truncate(events.Redact(code), 200)
	err := &SlackError{Status: status, Code: code}
	switch {
	case status == http.StatusOK:
		return nil
	case status == http.StatusTooManyRequests:
		if retryAfter <= 0 {
			retryAfter = time.Second
		}
		return events.RetryAfter(retryAfter, err)
	case status >= 500:
		return err
	default:
		// 400 invalid_payload, 403 action_prohibited, 404 channel_not_found
		// or no_service, 410 channel_is_archived: sending again cannot help.
		return events.Permanent(err)
	}
}

// parseRetryAfter reads a Retry-After header in seconds or as an HTTP date.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}

// SlackSender is the [Sender] for the slack channel: a Block Kit message to
// the target's incoming webhook.
type SlackSender struct {
	cfg   Slack
	hooks *SlackWebhooks
}

// NewSlackSender returns the Slack sender for cfg posting through hooks.
func NewSlackSender(cfg Slack, hooks *SlackWebhooks) *SlackSender {
	return &SlackSender{cfg: cfg, hooks: hooks}
}

// Send posts m to the webhook of its target.
func (s *SlackSender) Send(ctx context.Context, m Message) error {
	webhook := s.cfg.webhookFor(m.Target)
	if webhook == "" {
		return events.Permanent(fmt.Errorf("no slack webhook for %s", m.Target))
	}
	return s.hooks.Post(ctx, webhook, LeadMessage(m, s.cfg.TracingUIURL))
}
