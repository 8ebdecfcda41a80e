package events

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headers added to a dead letter. The original headers and body are kept
// unchanged beside them.
const (
	DLQHeaderService      = "Gtmhub-Dlq-Service"
	DLQHeaderConsumer     = "Gtmhub-Dlq-Consumer"
	DLQHeaderStream       = "Gtmhub-Dlq-Stream"
	DLQHeaderSequence     = "Gtmhub-Dlq-Sequence"
	DLQHeaderSubject      = "Gtmhub-Dlq-Subject"
	DLQHeaderAttempts     = "Gtmhub-Dlq-Attempts"
	DLQHeaderReason       = "Gtmhub-Dlq-Reason" // "permanent" or "max_deliver"
	DLQHeaderError        = "Gtmhub-Dlq-Error"  // last error, secrets redacted
	DLQHeaderFirstFailure = "Gtmhub-Dlq-First-Failure"
	DLQHeaderLastFailure  = "Gtmhub-Dlq-Last-Failure"
	DLQHeaderTraceID      = "Gtmhub-Dlq-Trace-Id"
	DLQHeaderEventID      = "Gtmhub-Dlq-Event-Id"
	DLQHeaderRedrive      = "Gtmhub-Dlq-Redrive" // the command that redrives it
)

// Dead-letter reasons.
const (
	ReasonPermanent  = "permanent"
	ReasonMaxDeliver = "max_deliver"
)

const maxErrorHeader = 1024

// DeadLetter builds the dead-letter copy of a message: original headers and
// body, plus the Gtmhub-Dlq-* metadata. Its Nats-Msg-Id is derived from the
// consumer and stream sequence, so dead-lettering the same delivery twice
// stores it once.
func DeadLetter(d Delivery, header nats.Header, data []byte, ev event.Event, reason string, herr error, first, last time.Time) *nats.Msg {
	h := make(nats.Header, len(header)+12)
	for k, v := range header {
		h[k] = append([]string(nil), v...)
	}
	msgID := fmt.Sprintf("dlq-%s-%s-%d", d.Consumer, d.Stream, d.Sequence)
	h.Set(HeaderMsgID, msgID)
	h.Set(DLQHeaderService, d.Service)
	h.Set(DLQHeaderConsumer, d.Consumer)
	h.Set(DLQHeaderStream, d.Stream)
	h.Set(DLQHeaderSequence, strconv.FormatUint(d.Sequence, 10))
	h.Set(DLQHeaderSubject, d.Subject)
	h.Set(DLQHeaderAttempts, strconv.Itoa(d.Attempt))
	h.Set(DLQHeaderReason, reason)
	h.Set(DLQHeaderError, headerSafe(Redact(errString(herr)), maxErrorHeader))
	h.Set(DLQHeaderFirstFailure, first.UTC().Format(time.RFC3339Nano))
	h.Set(DLQHeaderLastFailure, last.UTC().Format(time.RFC3339Nano))
	if ev.ID() != "" {
		h.Set(DLQHeaderEventID, ev.ID())
	}
	if id := TraceID(ev); id != "" {
		h.Set(DLQHeaderTraceID, id)
	}
	h.Set(DLQHeaderRedrive, "gtmhub dlq redrive --msg-id "+msgID)
	return &nats.Msg{Subject: DLQSubject(d.Service, d.Subject), Header: h, Data: data}
}

// headerSafe keeps a header value on one line and within n bytes.
func headerSafe(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7F {
			return ' '
		}
		return r
	}, s)
	if len(s) > n {
		cut := n
		for cut > 0 && !utf8Start(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// deadLetter copies m to the DLQ, waits for the PubAck, then terminates m.
// If the copy fails the message is redelivered later rather than lost.
func (c *Consumer) deadLetter(ctx context.Context, m jetstream.Msg, d Delivery, ev event.Event, herr error) {
	reason := ReasonMaxDeliver
	if IsPermanent(herr) {
		reason = ReasonPermanent
	}
	now := time.Now()
	first := c.deliveries.firstFailure(d, now)
	dl := DeadLetter(d, m.Headers(), m.Data(), ev, reason, herr, first, now)
	if _, err := c.pub.PublishMsg(ctx, dl); err != nil {
		c.o.logger.Error("dead-letter publish failed; message will be redelivered",
			"consumer", d.Consumer, "seq", d.Sequence, "err", err)
		c.deliveries.failed(d, now)
		_ = m.NakWithDelay(c.o.backoff(d.Attempt))
		c.o.metrics.outcome(d.Consumer, outcomeRetried)
		return
	}
	c.deliveries.forget(d)
	if err := m.TermWithReason("dead-lettered: " + reason); err != nil {
		c.o.logger.Warn("term after dead-letter", "consumer", d.Consumer, "seq", d.Sequence, "err", err)
	}
	c.o.logger.Warn("dead-lettered", "consumer", d.Consumer, "stream", d.Stream, "seq", d.Sequence,
		"subject", d.Subject, "event_id", ev.ID(), "attempts", d.Attempt, "reason", reason,
		"err", Redact(errString(herr)))
	c.o.metrics.outcome(d.Consumer, outcomeDeadLettered)
}
