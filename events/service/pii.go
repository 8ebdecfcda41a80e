package service

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/gtmhub/gtmhub/events"
)

// maskingHandler keeps email addresses out of records at info level and
// above: a message, a string attribute, an error's or a Stringer's text
// that holds one has it replaced by [EMAIL] (events.MaskEmails). Other
// values (structs, maps, slices) are written as they are: log records name
// what they carry, they do not dump leads. Debug records are written as
// they are, for troubleshooting. Most records hold no '@' at all and pass
// through without a copy.
type maskingHandler struct{ slog.Handler }

func (h maskingHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelInfo || !recordHasAt(r) {
		return h.Handler.Handle(ctx, r)
	}
	masked := slog.NewRecord(r.Time, r.Level, events.MaskEmails(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		masked.AddAttrs(maskAttr(a))
		return true
	})
	return h.Handler.Handle(ctx, masked)
}

func (h maskingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	masked := make([]slog.Attr, len(as))
	for i, a := range as {
		masked[i] = maskAttr(a)
	}
	return maskingHandler{h.Handler.WithAttrs(masked)}
}

func (h maskingHandler) WithGroup(name string) slog.Handler {
	return maskingHandler{h.Handler.WithGroup(name)}
}

// recordHasAt reports whether r's message or any attribute's text holds an
// '@', the mark of an email address.
func recordHasAt(r slog.Record) bool {
	found := strings.Contains(r.Message, "@")
	r.Attrs(func(a slog.Attr) bool {
		found = found || attrHasAt(a)
		return !found
	})
	return found
}

func attrHasAt(a slog.Attr) bool {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return strings.Contains(v.String(), "@")
	case slog.KindGroup:
		for _, g := range v.Group() {
			if attrHasAt(g) {
				return true
			}
		}
	case slog.KindAny:
		if s, ok := textOf(v.Any()); ok {
			return strings.Contains(s, "@")
		}
	}
	return false
}

// maskAttr returns a with the email addresses in its text masked.
func maskAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, events.MaskEmails(v.String()))
	case slog.KindGroup:
		group := v.Group()
		masked := make([]any, len(group))
		for i, g := range group {
			masked[i] = maskAttr(g)
		}
		return slog.Group(a.Key, masked...)
	case slog.KindAny:
		if s, ok := textOf(v.Any()); ok && strings.Contains(s, "@") {
			return slog.String(a.Key, events.MaskEmails(s))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// textOf returns the text a handler writes for an error or a Stringer.
func textOf(v any) (string, bool) {
	switch v := v.(type) {
	case error:
		return v.Error(), true
	case fmt.Stringer:
		return v.String(), true
	}
	return "", false
}
