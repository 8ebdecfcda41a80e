package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
)

// Source is the CloudEvent source of every decision notify publishes.
const Source = "/gtmhub/" + Name

// ReplayExtension is the CloudEvent extension that marks a replayed event.
// Replayed events notify nobody unless Config.NotifyReplays is set.
const ReplayExtension = "gtmreplay"

// ReasonNotConfigured is the reason recorded for a notification whose
// channel has no configuration.
const ReasonNotConfigured = "channel not configured"

// Sender delivers notifications on one channel. Return an error wrapped by
// [events.Permanent] when the channel refused the message for good (the
// decision is recorded as failed); any other error is retried.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Message is one notification to deliver.
type Message struct {
	Rule    string
	Channel contracts.Channel
	// Target is where to send it: a Slack channel or an email address.
	Target string
	// Event is the event that fired the rule; Data is its decoded data.
	Event event.Event
	Data  map[string]any
}

// DecisionID returns the CloudEvent id and ledger key of the decision for
// rule and dedupeKey: a UUID v5 over "notify:{rule}:{dedupeKey}". The same
// notification always has the same id, so it is recorded once.
func DecisionID(rule, dedupeKey string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte(Name+":"+rule+":"+dedupeKey)).String()
}

type notifier struct {
	engine   *Engine
	ledger   *ledger
	pub      *events.Publisher
	senders  map[contracts.Channel]Sender
	missing  map[contracts.Channel]string // why a channel without a sender has none
	replays  bool
	log      *slog.Logger
	outcomes *prometheus.CounterVec
	now      func() time.Time
}

// handle evaluates the rules on one record change and acts on every match.
// A rule that cannot be evaluated on the event dead-letters it once the
// other rules have been acted on; redriving it later is safe, since the
// ledger holds what was already decided.
func (n *notifier) handle(ctx context.Context, ev event.Event) error {
	if isReplay(ev) && !n.replays {
		n.log.DebugContext(ctx, "replayed event skipped", "event_id", ev.ID())
		return nil
	}
	data, err := decodeData(ev)
	if err != nil {
		return events.Permanent(err)
	}
	matches, evalErr := n.engine.Evaluate(Input{ID: ev.ID(), Type: ev.Type(), Subject: ev.Subject(), Data: data})
	for _, m := range matches {
		if err := n.decide(ctx, ev, data, m); err != nil {
			return err
		}
	}
	return events.Permanent(evalErr)
}

// decide acts on one match unless the ledger already holds its decision,
// publishes the decision, then records it in the ledger.
func (n *notifier) decide(ctx context.Context, ev event.Event, data map[string]any, m Match) error {
	id := DecisionID(m.Rule, m.DedupeKey)
	seen, err := n.ledger.seen(ctx, id)
	if err != nil {
		return err
	}
	if seen {
		n.log.DebugContext(ctx, "notification already decided", "rule", m.Rule, "decision_id", id, "event_id", ev.ID())
		return nil
	}

	outcome, reason, err := n.deliver(ctx, ev, data, m)
	if err != nil {
		return fmt.Errorf("rule %s: %w", m.Rule, err)
	}
	decision := contracts.Notification{Rule: m.Rule, Channel: m.Channel, Outcome: outcome, Reason: reason,
		DedupeKey: m.DedupeKey, Target: redactTarget(m.Target), EventID: ev.ID()}
	if err := n.publish(ctx, ev, id, decision); err != nil {
		return err
	}
	if err := n.ledger.record(ctx, id, ledgerEntry{Rule: m.Rule, Outcome: outcome, EventID: ev.ID(), At: n.now()}); err != nil {
		return err
	}
	n.outcomes.WithLabelValues(m.Rule, string(outcome)).Inc()
	n.log.InfoContext(ctx, "notification decided", "rule", m.Rule, "channel", m.Channel, "outcome", outcome,
		"reason", reason, "decision_id", id, "event_id", ev.ID())
	return nil
}

// deliver sends the notification when its channel has a sender. It returns
// an error only when the send should be retried.
func (n *notifier) deliver(ctx context.Context, ev event.Event, data map[string]any, m Match) (contracts.Outcome, string, error) {
	s, ok := n.senders[m.Channel]
	if !ok {
		return contracts.OutcomeSkipped, n.missing[m.Channel], nil
	}
	err := s.Send(ctx, Message{Rule: m.Rule, Channel: m.Channel, Target: m.Target, Event: ev, Data: data})
	switch {
	case err == nil:
		return contracts.OutcomeSent, "", nil
	case events.IsPermanent(err):
		return contracts.OutcomeFailed, reasonText(err), nil
	default:
		return "", "", fmt.Errorf("send %s: %w", m.Channel, err)
	}
}

// publish records the decision on gtm.notify.{outcome}.
func (n *notifier) publish(ctx context.Context, trigger event.Event, id string, d contracts.Notification) error {
	subject, err := events.Subject("gtm.notify", string(d.Outcome))
	if err != nil {
		return fmt.Errorf("decision subject: %w", err)
	}
	out := event.New()
	out.SetID(id)
	out.SetSource(Source)
	out.SetType(contracts.TypeNotificationSent)
	out.SetTime(n.now())
	if trigger.Subject() != "" {
		out.SetSubject(trigger.Subject())
	}
	if e, ok := contracts.Lookup(contracts.TypeNotificationSent); ok {
		out.SetDataSchema(e.DataSchema)
	}
	if err := out.SetData(event.ApplicationJSON, d); err != nil {
		return fmt.Errorf("decision data: %w", err)
	}
	if err := n.pub.Publish(ctx, subject, out); err != nil {
		return fmt.Errorf("publish decision: %w", err)
	}
	return nil
}

// decodeData decodes the event's JSON object and, for a type the contracts
// know, checks it against its schema.
func decodeData(ev event.Event) (map[string]any, error) {
	if err := contracts.Validate(ev.Type(), ev.Data()); err != nil && !errors.Is(err, contracts.ErrUnknownType) {
		return nil, err
	}
	var data map[string]any
	if err := json.Unmarshal(ev.Data(), &data); err != nil {
		return nil, fmt.Errorf("decode %s data: %w", ev.Type(), err)
	}
	return data, nil
}

func isReplay(ev event.Event) bool {
	v, ok := ev.Extensions()[ReplayExtension]
	return ok && strings.EqualFold(fmt.Sprint(v), "true")
}

// redactTarget keeps a Slack channel as it is and hides the local part of an
// email address: ada@example.com becomes a***@example.com.
func redactTarget(t string) string {
	if local, domain, ok := strings.Cut(t, "@"); ok && local != "" {
		t = local[:1] + "***@" + domain
	}
	return truncate(t, 256)
}

// reasonText is err as a decision reason: redacted and within the
// contract's 1000 characters.
func reasonText(err error) string {
	return truncate(events.Redact(err.Error()), 1000)
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// newOutcomeCounter registers gtmhub_notify_decisions_total, or reuses it
// when a previous Run registered it with the same registry.
func newOutcomeCounter(reg prometheus.Registerer) (*prometheus.CounterVec, error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gtmhub", Subsystem: Name, Name: "decisions_total",
		Help: "Notification decisions recorded, by rule and outcome (sent, suppressed, failed, skipped).",
	}, []string{"rule", "outcome"})
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing, nil
			}
		}
		return nil, err
	}
	return c, nil
}
