package notify

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/service"
)

// sendStats counts sends between two monitor looks.
type sendStats struct {
	mu       sync.Mutex
	cur      sendWindow
	rateHits []time.Time // 429 answers in the last hour
}

// sendWindow is what the sends between two monitor looks came to.
type sendWindow struct {
	sends, failures int
	total, slowest  time.Duration
	hits            int // 429 answers in the last hour
}

// average is the mean time of a send in the window.
func (w sendWindow) average() time.Duration {
	if w.sends == 0 {
		return 0
	}
	return w.total / time.Duration(w.sends)
}

// slow reports whether sends took longer than threshold on average (seed:
// API latency > 2s average); one slow send among quick ones is not.
func (w sendWindow) slow(threshold time.Duration) bool {
	return w.sends > 0 && w.average() > threshold
}

func (s *sendStats) observe(d time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur.sends++
	if err != nil {
		s.cur.failures++
	}
	s.cur.total += d
	s.cur.slowest = max(s.cur.slowest, d)
}

func (s *sendStats) rateLimited() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateHits = append(s.rateHits, time.Now())
}

// snapshot returns the sends since the last snapshot, with the 429s of the
// last hour, and starts a new window.
func (s *sendStats) snapshot(now time.Time) sendWindow {
	s.mu.Lock()
	defer s.mu.Unlock()
	cut := 0
	for cut < len(s.rateHits) && now.Sub(s.rateHits[cut]) > time.Hour {
		cut++
	}
	s.rateHits = s.rateHits[cut:]
	w := s.cur
	w.hits = len(s.rateHits)
	s.cur = sendWindow{}
	return w
}

// monitor looks at the DLQ, the consumers' backlog, the sends and the
// breakers every interval, raising and resolving alerts.
func (n *notifier) monitor(ctx context.Context, cfg Alerts) {
	var stops []func()
	for _, hook := range n.webhooks() {
		dest := SlackDestination(hook)
		stops = append(stops, n.breakers.Watch(dest, func(open bool, until time.Time) {
			name := "breaker." + dest
			if open {
				n.alerts.raise(ctx, name, "open", "", "Circuit breaker open: "+dest,
					fmt.Sprintf("Slack webhook %s keeps failing; calls resume on trial at %s.", dest, until.UTC().Format(time.RFC3339)))
			} else {
				n.alerts.resolve(ctx, name, "circuit breaker open: "+dest)
			}
		}))
	}
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	service.Tick(ctx, cfg.Interval, func(ctx context.Context) {
		if depth, err := n.dlqDepth(ctx); err == nil {
			n.checkDLQ(ctx, n.alerts.lastDepth(ctx), depth)
			n.alerts.setLastDepth(ctx, depth)
		}
		n.checkPending(ctx, cfg.Pending)
		n.checkSends(ctx, cfg)
		n.checkUsage(ctx, cfg.usageLevels())
		n.checkCredentials(ctx)
	})
}

// checkUsage alerts on every quota other services report in the usage
// bucket (a provider's monthly credits, say) once per level and period, at
// the highest of levels its usage has reached. The email quota is notify's
// own and alerts as it is counted.
func (n *notifier) checkUsage(ctx context.Context, levels []int) {
	all, err := service.ListUsage(ctx, n.js)
	if err != nil {
		n.log.WarnContext(ctx, "usage alerts: read usage", "err", err)
		return
	}
	now := n.now()
	for _, u := range all {
		if u.Resource == emailUsageResource || u.Limit <= 0 || !u.Current(now) {
			continue
		}
		level := 0
		for _, l := range levels {
			if u.Percent() >= float64(l) {
				level = max(level, l)
			}
		}
		if level == 0 {
			continue
		}
		title := fmt.Sprintf("%s at %d%% of its limit", u.Resource, level)
		body := fmt.Sprintf("%g of %g %s used", u.Used, u.Limit, cmp.Or(u.Unit, "units"))
		if u.Period != "" {
			body += " in " + u.Period
		}
		n.alerts.raise(ctx, "usage."+u.Resource, fmt.Sprint(level), u.Period, title, body+". See `gtmhub status`.")
	}
}

// webhooks lists the Slack webhooks notify posts to.
func (n *notifier) webhooks() []string {
	var out []string
	if n.slack.WebhookURL != "" {
		out = append(out, n.slack.WebhookURL)
	}
	for _, u := range n.slack.Webhooks {
		out = append(out, u)
	}
	return out
}

func (n *notifier) dlqDepth(ctx context.Context) (uint64, error) {
	st, err := n.js.Stream(ctx, events.StreamDLQ)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.Msgs, nil
}

func (n *notifier) checkDLQ(ctx context.Context, before, after uint64) {
	if after > before {
		n.alerts.raise(ctx, "dlq.depth", "rising", "", "DLQ depth rising",
			fmt.Sprintf("%d new dead letters (now %d). See `gtmhub dlq ls`.", after-before, after))
		return
	}
	n.alerts.resolve(ctx, "dlq.depth", "DLQ depth rising")
}

// checkPending alerts on every consumer whose backlog exceeds limit.
func (n *notifier) checkPending(ctx context.Context, limit int) {
	for _, spec := range events.DefaultTopology().Consumers {
		c, err := n.js.Consumer(ctx, spec.Stream, spec.Durable)
		if err != nil {
			continue
		}
		info, err := c.Info(ctx)
		if err != nil {
			continue
		}
		name := "pending." + spec.Durable
		if info.NumPending > uint64(limit) {
			n.alerts.raise(ctx, name, "high", "", fmt.Sprintf("Consumer %s has %d pending", spec.Durable, info.NumPending),
				fmt.Sprintf("More than %d events wait for %s.", limit, spec.Durable))
		} else {
			n.alerts.resolve(ctx, name, fmt.Sprintf("consumer %s backlog", spec.Durable))
		}
	}
}

// checkSends alerts on the failure rate, the average send time and the
// rate limit hits of the last interval.
func (n *notifier) checkSends(ctx context.Context, cfg Alerts) {
	w := n.stats.snapshot(n.now())
	if w.sends > 0 && float64(w.failures)/float64(w.sends) > cfg.FailureRate {
		n.alerts.raise(ctx, "sends.failures", "high", "", "Notification failures above threshold",
			fmt.Sprintf("%d of %d sends failed (threshold %.0f%%).", w.failures, w.sends, cfg.FailureRate*100))
	} else if w.sends > 0 {
		n.alerts.resolve(ctx, "sends.failures", "notification failure rate")
	}
	if w.slow(cfg.Latency) {
		n.alerts.raise(ctx, "sends.latency", "high", "", "Notification latency above threshold",
			fmt.Sprintf("Sends took %s on average over %d sends, the slowest %s (threshold %s average).",
				w.average().Round(time.Millisecond), w.sends, w.slowest.Round(time.Millisecond), cfg.Latency))
	} else if w.sends > 0 {
		n.alerts.resolve(ctx, "sends.latency", "notification latency")
	}
	if w.hits > cfg.RateLimitHits {
		n.alerts.raise(ctx, "slack.rate_limits", "high", "", "Slack rate limits above threshold",
			fmt.Sprintf("%d rate-limit answers in the last hour (threshold %d).", w.hits, cfg.RateLimitHits))
	} else {
		n.alerts.resolve(ctx, "slack.rate_limits", "Slack rate limits")
	}
}
