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
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/service"
)

// Source is the CloudEvent source of every decision notify publishes.
const Source = "/gtmhub/" + Name

// ReplayExtension is the CloudEvent extension that marks a replayed event.
// Replayed events notify nobody unless the replay asked for side effects
// ([SideEffectsExtension]) or Config.NotifyReplays is set.
const ReplayExtension = events.ExtensionReplay

// SideEffectsExtension ("true") on a replayed event asks notify to act on it;
// the ledger still keeps anything already sent from being sent again.
const SideEffectsExtension = events.ExtensionSideEffects

// Reasons recorded on decisions.
const (
	// ReasonNotConfigured is the reason recorded for a notification whose
	// channel has no configuration.
	ReasonNotConfigured = "channel not configured"
	// ReasonReplay is the reason a replayed event notified nobody.
	ReasonReplay = "replayed event: side effects not requested"
	// ReasonInterrupted is the reason recorded for a notification whose
	// send was interrupted before its outcome was written: it may have gone
	// out, so it is not sent again.
	ReasonInterrupted = "an earlier send was interrupted before its outcome was recorded; not sent again (at-most-once)"
)

// Sender delivers notifications on one channel. Return an error wrapped by
// [events.Permanent] when the channel refused the message for good (the
// decision is recorded as failed and the event dead-lettered with the
// reason); an [events.RetryAfter] or any other error is retried.
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
	// ID is the notification's [DecisionID], the same on every attempt: the
	// email channel derives the Message-ID from it, so a receiver can tell a
	// retry from a new message. Empty: each attempt gets a new one.
	ID string
}

// DecisionID returns the ledger key of the notification for rule and
// dedupeKey, and the CloudEvent id of its final decision (sent, skipped or
// interrupted): a UUID v5 over "notify:{rule}:{dedupeKey}". The same
// notification always has the same id, so it is recorded once.
func DecisionID(rule, dedupeKey string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte(Name+":"+rule+":"+dedupeKey)).String()
}

// derivedID is the CloudEvent id of a decision other than the final one
// about notification id: suppressed duplicates and replays, deferrals,
// failures. The same event always derives the same id, so a redelivery
// records it once.
func derivedID(id, purpose, eventID string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte(Name+":"+purpose+":"+id+":"+eventID)).String()
}

type notifier struct {
	engine   *Engine
	ledger   *ledger
	pub      *events.Publisher
	senders  map[contracts.Channel]Sender
	missing  map[contracts.Channel]string // why a channel without a sender has none
	replays  bool
	lease    time.Duration
	quota    *quota // nil: no email quota
	log      *slog.Logger
	outcomes *prometheus.CounterVec
	now      func() time.Time

	deferredKV jetstream.KeyValue // nil: no email quota
	breakers   *events.Breakers
	hooks      *SlackWebhooks
	alerts     *alerter
	mailer     *Mailer // nil: SMTP not configured
	stats      *sendStats
	digest     Digest
	slack      Slack
	js         jetstream.JetStream
	digests    *ledger // the digests decided; nil: SMTP not configured
	// rotateAfter is the credentials' rotation period; 0: the default.
	rotateAfter time.Duration
}

// actOptions change how [notifier.act] delivers a claimed notification.
type actOptions struct {
	// deferrable lets an email over the daily quota wait for the next day.
	deferrable bool
	// sender replaces the channel's sender and bypasses the quota (the
	// digest).
	sender Sender
}

// handle evaluates the rules on one record change and acts on every match.
// A match that must be tried again (its channel is rate limited, say) does
// not hold up the others: the event is retried once every match has been
// acted on. A match the channel refused for good, or a rule that cannot be
// evaluated on the event, dead-letters the event once the other matches
// have been acted on; redriving it later is safe, since the ledger holds
// what was already sent.
func (n *notifier) handle(ctx context.Context, ev event.Event) error {
	data, err := decodeData(ev)
	if err != nil {
		return events.Permanent(err)
	}
	matches, evalErr := n.engine.Evaluate(Input{ID: ev.ID(), Type: ev.Type(), Subject: ev.Subject(), Data: data})
	if n.silent(ev) {
		for _, m := range matches {
			d := n.decision(m, ev, contracts.OutcomeSuppressed, ReasonReplay)
			if err := n.publish(ctx, ev, derivedID(DecisionID(m.Rule, m.DedupeKey), "replay", ev.ID()), d); err != nil {
				return err
			}
		}
		return events.Permanent(evalErr)
	}
	var refused, retry []error
	for _, m := range matches {
		err := n.decide(ctx, ev, data, m)
		switch {
		case events.IsPermanent(err):
			refused = append(refused, unwrapPermanent(err))
		case err != nil:
			retry = append(retry, err)
		}
	}
	if len(retry) > 0 {
		return events.JoinRetries(retry...)
	}
	return events.Permanent(errors.Join(append(refused, evalErr)...))
}

// unwrapPermanent returns the error a [events.PermanentError] in err's
// chain wraps, so that joined refusals read without repeated prefixes.
func unwrapPermanent(err error) error {
	var p *events.PermanentError
	if errors.As(err, &p) {
		return p.Err
	}
	return err
}

// silent reports whether ev is a replay that must notify nobody.
func (n *notifier) silent(ev event.Event) bool {
	return isTrue(ev, ReplayExtension) && !isTrue(ev, SideEffectsExtension) && !n.replays
}

// decide acts on one match once: it claims the notification in the ledger,
// or settles with what the ledger already holds.
func (n *notifier) decide(ctx context.Context, ev event.Event, data map[string]any, m Match) error {
	id := DecisionID(m.Rule, m.DedupeKey)
	entry := LedgerEntry{Rule: m.Rule, Channel: m.Channel, State: StateClaimed, EventID: ev.ID(), At: n.now()}
	if _, ok := n.senders[m.Channel]; !ok {
		// Nothing will be sent: the entry starts in its final state.
		entry.State, entry.Reason = StateSkipped, n.missing[m.Channel]
	}
	cur, rev, claimed, err := n.ledger.claim(ctx, id, entry)
	switch {
	case err != nil:
		return err
	case claimed && entry.State == StateSkipped:
		// Not marked published: a redelivery publishes the same decision
		// again under the same id, which the stream keeps once.
		return n.announce(ctx, ev, m, id, entry)
	case !claimed:
		if rev, claimed, err = n.reclaim(ctx, ev, m, id, cur, rev); err != nil || !claimed {
			return err
		}
	}
	return n.act(ctx, ev, data, m, id, rev, actOptions{deferrable: true})
}

// reclaim settles a match whose notification the ledger already holds. It
// returns claimed=true with the new revision when the notification is to
// be sent after all (it failed before).
func (n *notifier) reclaim(ctx context.Context, ev event.Event, m Match, id string, cur LedgerEntry, rev uint64) (uint64, bool, error) {
	switch {
	case cur.State == StateClaimed && n.now().Sub(cur.At) < n.lease:
		// Look again soon, then less and less often: the claimant usually
		// records its outcome in milliseconds, or releases the claim when
		// its send failed, well before the lease runs out.
		return 0, false, events.RetryAfter(n.inFlightWait(ctx, cur),
			fmt.Errorf("notification %s: a send is in flight", id))
	case cur.State == StateClaimed:
		// The process stopped between sending and recording: maybe sent.
		cur.State, cur.Reason, cur.At = StateInterrupted, ReasonInterrupted, n.now()
		rev, err := n.ledger.update(ctx, id, rev, cur)
		if err != nil {
			return 0, false, err
		}
		return 0, false, n.record(ctx, ev, m, id, rev, cur)
	case cur.State == StateFailed:
		claim := LedgerEntry{Rule: m.Rule, Channel: m.Channel, State: StateClaimed, EventID: ev.ID(), At: n.now()}
		rev, err := n.ledger.update(ctx, id, rev, claim)
		return rev, err == nil, err
	case cur.EventID == ev.ID() && !cur.Published:
		// Recorded in the ledger but not yet on NOTIFY: finish that.
		return 0, false, n.record(ctx, ev, m, id, rev, cur)
	case cur.EventID == ev.ID():
		n.log.DebugContext(ctx, "redelivered event already decided", "rule", m.Rule, "decision_id", id, "event_id", ev.ID())
		return 0, false, nil
	default:
		reason := fmt.Sprintf("already %s for event %s at %s", cur.State, cur.EventID, cur.At.UTC().Format(time.RFC3339))
		d := n.decision(m, ev, contracts.OutcomeSuppressed, reason)
		if err := n.publish(ctx, ev, derivedID(id, "duplicate", ev.ID()), d); err != nil {
			return 0, false, err
		}
		n.count(m.Rule, contracts.OutcomeSuppressed)
		return 0, false, nil
	}
}

// act delivers a claimed notification (revision rev of id) and records the
// outcome. An email over the daily quota is deferred to the next day when
// o.deferrable is set, and released for a later try otherwise.
func (n *notifier) act(ctx context.Context, ev event.Event, data map[string]any, m Match, id string, rev uint64, o actOptions) error {
	entry := LedgerEntry{Rule: m.Rule, Channel: m.Channel, EventID: ev.ID(), At: n.now()}
	s, ok := n.senders[m.Channel]
	if o.sender != nil {
		s, ok = o.sender, true
	}
	if !ok {
		entry.State, entry.Reason = StateSkipped, n.missing[m.Channel]
		return n.finish(ctx, ev, m, id, rev, entry)
	}
	var charged string // the quota day this email was charged to
	if m.Channel == contracts.ChannelEmail && n.quota != nil && o.sender == nil {
		day, allowed, err := n.quota.reserve(ctx)
		if err != nil {
			sctx, cancel := settling(ctx)
			defer cancel()
			return n.releasing(sctx, id, rev, err)
		}
		if !allowed {
			if !o.deferrable {
				return n.releasing(ctx, id, rev, errQuotaReached)
			}
			return n.deferNotification(ctx, ev, m, id, rev)
		}
		charged = day
	}
	msg := Message{Rule: m.Rule, Channel: m.Channel, Target: m.Target, Event: ev, Data: data, ID: id}
	if sk, ok := s.(Skipper); ok {
		if reason := sk.SkipReason(msg); reason != "" {
			entry.State, entry.Reason = StateUnneeded, reason
			return n.finish(ctx, ev, m, id, rev, entry)
		}
	}
	start := time.Now()
	err := s.Send(ctx, msg)
	n.stats.observe(time.Since(start), err)
	// The outcome is recorded, or the claim released, even when a shutdown
	// cancelled ctx during the send: a claim left behind reads as "maybe
	// sent", and the notification would never go out.
	ctx, cancel := settling(ctx)
	defer cancel()
	if err != nil && charged != "" {
		n.refund(ctx, m, charged)
	}
	switch {
	case err == nil:
		entry.State = StateSent
		return n.finish(ctx, ev, m, id, rev, entry)
	case events.IsPermanent(err):
		entry.State, entry.Reason = StateFailed, reasonText(unwrapPermanent(err))
		if ferr := n.finish(ctx, ev, m, id, rev, entry); ferr != nil {
			return ferr
		}
		return events.Permanent(fmt.Errorf("rule %s: %s refused the notification: %w", m.Rule, m.Channel, unwrapPermanent(err)))
	default:
		return n.releasing(ctx, id, rev, fmt.Errorf("rule %s: send %s: %w", m.Rule, m.Channel, err))
	}
}

// refund gives back the quota an email that was not sent was charged on
// day. A refund that fails leaves the day's count one too high, never too
// low, so it is logged rather than failing the notification.
func (n *notifier) refund(ctx context.Context, m Match, day string) {
	if err := n.quota.refund(ctx, day); err != nil {
		n.log.WarnContext(ctx, "give back email quota", "rule", m.Rule, "day", day, "err", err)
	}
}

// inFlightWait is how long an event waits for the claimant of its
// notification: soon, then less and less often, and on the attempt before
// its last, until the claim's lease is out, so that a claim a crashed
// process left behind is settled as interrupted rather than the event
// dead-lettered for waiting.
func (n *notifier) inFlightWait(ctx context.Context, claim LedgerEntry) time.Duration {
	d, ok := events.DeliveryFrom(ctx)
	if !ok {
		d.Attempt = 1
	}
	left := n.lease - n.now().Sub(claim.At)
	if d.MaxDeliver > 0 && d.Attempt >= d.MaxDeliver-1 {
		return left + inFlightRetry
	}
	return min(left, events.ExponentialBackoff(inFlightRetry, n.lease/4)(d.Attempt))
}

// inFlightRetry is the first wait of an event whose notification another
// worker is sending.
const inFlightRetry = 250 * time.Millisecond

var errQuotaReached = errors.New("daily email quota reached")

// settleTimeout bounds the ledger writes that settle a claim once its send
// was tried.
const settleTimeout = 10 * time.Second

// settling returns ctx without its cancellation, bounded by settleTimeout.
func settling(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
}

// releasing releases the claim so that a retry can claim it again, and
// returns err. If the release fails too, the claim outlives its lease and
// the notification is recorded as interrupted rather than risk a second send.
func (n *notifier) releasing(ctx context.Context, id string, rev uint64, err error) error {
	if rerr := n.ledger.release(ctx, id, rev); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

// finish writes the outcome over the claim, then records the decision.
func (n *notifier) finish(ctx context.Context, ev event.Event, m Match, id string, rev uint64, e LedgerEntry) error {
	rev, err := n.ledger.update(ctx, id, rev, e)
	if err != nil {
		return err
	}
	return n.record(ctx, ev, m, id, rev, e)
}

// record publishes the decision for ledger entry e (revision rev of id) and
// marks it published.
func (n *notifier) record(ctx context.Context, ev event.Event, m Match, id string, rev uint64, e LedgerEntry) error {
	if err := n.announce(ctx, ev, m, id, e); err != nil {
		return err
	}
	e.Published = true
	if _, err := n.ledger.update(ctx, id, rev, e); err != nil {
		return err
	}
	return nil
}

// announce publishes the decision for ledger entry e of id.
func (n *notifier) announce(ctx context.Context, ev event.Event, m Match, id string, e LedgerEntry) error {
	outcome, decisionID := outcomeOf(e.State), id
	switch e.State {
	case StateFailed:
		decisionID = derivedID(id, "failed", ev.ID())
	case StateDeferred:
		decisionID = derivedID(id, "deferred", ev.ID())
	case StateUnneeded:
		decisionID = derivedID(id, "unneeded", ev.ID())
	}
	if err := n.publish(ctx, ev, decisionID, n.decision(m, ev, outcome, e.Reason)); err != nil {
		return err
	}
	n.count(m.Rule, outcome)
	n.log.InfoContext(ctx, "notification decided", "rule", m.Rule, "channel", m.Channel, "outcome", outcome,
		"reason", e.Reason, "decision_id", id, "event_id", ev.ID())
	return nil
}

func outcomeOf(s State) contracts.Outcome {
	switch s {
	case StateSent:
		return contracts.OutcomeSent
	case StateFailed:
		return contracts.OutcomeFailed
	case StateSkipped:
		return contracts.OutcomeSkipped
	default:
		return contracts.OutcomeSuppressed
	}
}

func (n *notifier) decision(m Match, ev event.Event, o contracts.Outcome, reason string) contracts.Notification {
	return contracts.Notification{Rule: m.Rule, Channel: m.Channel, Outcome: o, Reason: reason,
		DedupeKey: m.DedupeKey, Target: redactTarget(m.Target), EventID: ev.ID()}
}

func (n *notifier) count(rule string, o contracts.Outcome) {
	n.outcomes.WithLabelValues(rule, string(o)).Inc()
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
	v, err := contracts.Decode(ev.Type(), ev.Data())
	if errors.Is(err, contracts.ErrUnknownType) {
		err = json.Unmarshal(ev.Data(), &v)
	}
	if err != nil {
		return nil, fmt.Errorf("decode %s data: %w", ev.Type(), err)
	}
	data, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("decode %s data: not a JSON object", ev.Type())
	}
	return data, nil
}

func isTrue(ev event.Event, ext string) bool {
	v, ok := ev.Extensions()[ext]
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
	return service.Registered(reg, c)
}
