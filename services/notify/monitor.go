package notify

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gtmhub/gtmhub/events"
)

// sendStats counts sends between two monitor looks.
type sendStats struct {
	mu       sync.Mutex
	sends    int
	failures int
	slowest  time.Duration
	rateHits []time.Time // 429 answers in the last hour
}

func (s *sendStats) observe(d time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sends++
	if err != nil {
		s.failures++
	}
	s.slowest = max(s.slowest, d)
}

func (s *sendStats) rateLimited() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateHits = append(s.rateHits, time.Now())
}

// snapshot returns the counts since the last snapshot, and the 429s of the
// last hour, and starts a new window.
func (s *sendStats) snapshot(now time.Time) (sends, failures int, slowest time.Duration, hits int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cut := 0
	for cut < len(s.rateHits) && now.Sub(s.rateHits[cut]) > time.Hour {
		cut++
	}
	s.rateHits = s.rateHits[cut:]
	sends, failures, slowest, hits = s.sends, s.failures, s.slowest, len(s.rateHits)
	s.sends, s.failures, s.slowest = 0, 0, 0
	return sends, failures, slowest, hits
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
	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if depth, err := n.dlqDepth(ctx); err == nil {
			n.checkDLQ(ctx, n.alerts.lastDepth(ctx), depth)
			n.alerts.setLastDepth(ctx, depth)
		}
		n.checkPending(ctx, cfg.Pending)
		n.checkSends(ctx, cfg)
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

// checkSends alerts on the failure rate, the slowest send and the rate
// limit hits of the last interval.
func (n *notifier) checkSends(ctx context.Context, cfg Alerts) {
	sends, failures, slowest, hits := n.stats.snapshot(n.now())
	if sends > 0 && float64(failures)/float64(sends) > cfg.FailureRate {
		n.alerts.raise(ctx, "sends.failures", "high", "", "Notification failures above threshold",
			fmt.Sprintf("%d of %d sends failed (threshold %.0f%%).", failures, sends, cfg.FailureRate*100))
	} else if sends > 0 {
		n.alerts.resolve(ctx, "sends.failures", "notification failure rate")
	}
	if slowest > cfg.Latency {
		n.alerts.raise(ctx, "sends.latency", "high", "", "Notification latency above threshold",
			fmt.Sprintf("The slowest send took %s (threshold %s).", slowest.Round(time.Millisecond), cfg.Latency))
	} else if sends > 0 {
		n.alerts.resolve(ctx, "sends.latency", "notification latency")
	}
	if hits > cfg.RateLimitHits {
		n.alerts.raise(ctx, "slack.rate_limits", "high", "", "Slack rate limits above threshold",
			fmt.Sprintf("%d rate-limit answers in the last hour (threshold %d).", hits, cfg.RateLimitHits))
	} else {
		n.alerts.resolve(ctx, "slack.rate_limits", "Slack rate limits")
	}
}
