package events

import (
	"context"
	"log/slog"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Logging logs every handler failure once, at warn, with the event id and
// type, the delivery and the decision it leads to. Successful events are
// logged at debug. Event data is never logged: it may hold personal data.
func Logging(l *slog.Logger) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, ev event.Event) error {
			start := time.Now()
			err := next(ctx, ev)
			if err == nil && !l.Enabled(ctx, slog.LevelDebug) {
				return nil // nothing to log: the attributes are not built
			}
			d, _ := DeliveryFrom(ctx)
			attrs := []any{"consumer", d.Consumer, "subject", d.Subject, "seq", d.Sequence,
				"attempt", d.Attempt, "event_id", ev.ID(), "event_type", ev.Type(),
				"duration", time.Since(start)}
			if err != nil {
				l.WarnContext(ctx, "handler failed", append(attrs, "decision", decision(err), "err", Redact(err.Error()))...)
				return err
			}
			l.DebugContext(ctx, "handled", attrs...)
			return nil
		}
	}
}
