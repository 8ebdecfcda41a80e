package service_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/gtmhub/gtmhub/events/service"
)

// TestLoggerMasksEmails: at info level and above no email address reaches
// the log, wherever the record carries it; at debug it is written as is.
func TestLoggerMasksEmails(t *testing.T) {
	const email = "ada.lovelace@example.com"
	refusal := errors.New("smtp: 550 5.1.1 <" + email + ">: Recipient address rejected")
	tests := []struct {
		name  string
		log   func(l *slog.Logger)
		level slog.Level
		want  string // a fragment of the line
	}{
		{"message", func(l *slog.Logger) { l.Info("lead " + email + " stored") }, slog.LevelInfo, `"msg":"lead [EMAIL] stored"`},
		{"string attribute", func(l *slog.Logger) { l.Warn("refused", "reason", refusal.Error()) }, slog.LevelInfo, `"reason":"smtp: 550 5.1.1 <[EMAIL]>`},
		{"error attribute", func(l *slog.Logger) { l.Error("send failed", "err", refusal) }, slog.LevelInfo, `"err":"smtp: 550 5.1.1 <[EMAIL]>`},
		{"group", func(l *slog.Logger) { l.Info("decided", slog.Group("to", "address", email)) }, slog.LevelInfo, `"to":{"address":"[EMAIL]"}`},
		{"logger attribute", func(l *slog.Logger) { l.With("contact", email).Info("merged", "n", 2) }, slog.LevelInfo, `"contact":"[EMAIL]"`},
		{"nothing to mask", func(l *slog.Logger) { l.Info("stored", "n", 3, "at", "@here") }, slog.LevelInfo, `"n":3,"at":"@here"`},
		{"debug keeps it", func(l *slog.Logger) { l.Debug("lead", "email", email) }, slog.LevelDebug, `"email":"` + email + `"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(service.NewLogger(&buf, tt.level, "test"))
			line := buf.String()
			if !strings.Contains(line, tt.want) {
				t.Errorf("log line %s\nwant it to hold %s", line, tt.want)
			}
			if tt.level >= slog.LevelInfo && strings.Contains(line, email) {
				t.Errorf("log line %s shows the email", line)
			}
		})
	}
}
