package notify_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/services/notify"
)

// TestEmailQuotaCountsEmailsSent: the daily quota is charged for every
// email the SMTP server accepted, not for every attempt. A temporary
// refusal (421) gives its reservation back before the retry; so does a
// permanent one (550), since nothing was sent.
func TestEmailQuotaCountsEmailsSent(t *testing.T) {
	tryLater := &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	noSuchUser := &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	tests := []struct {
		name     string
		server   mailOptions
		answers  []error
		outcome  contracts.Outcome
		accepted int
	}{
		{"accepted after three temporary refusals", mailOptions{}, []error{tryLater, tryLater, tryLater}, contracts.OutcomeSent, 1},
		{"refused for good", mailOptions{}, []error{noSuchUser}, contracts.OutcomeFailed, 0},
		// The server took the message and the session's end was lost: it
		// was sent, once, and is charged.
		{"accepted, the session's end lost", mailOptions{dropQuit: true}, nil, contracts.OutcomeSent, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := eventstest.RunServer(t)
			ms := startMailServer(t, tt.server)
			ms.failNext(tt.answers...)
			day := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
			cfg := notify.DefaultConfig()
			cfg.SMTP = smtpConfig(ms, notify.SecurityPlain)
			cfg.SMTP.DailyQuota = 10
			cfg.SMTP.TimeZone = "UTC"
			cfg.Now = (&clock{t: day}).Now
			startNotify(t, srv, cfg)

			publish(t, srv, contactEvent(t, contracts.TypeContactCreated, "lead@example.com", 10))
			var final contracts.Notification
			for _, d := range decisions(t, srv, 1) {
				final = d
			}
			awaitSettled(t, srv)
			if final.Outcome != tt.outcome {
				t.Fatalf("decision %+v, want %s", final, tt.outcome)
			}
			if got := len(ms.messages()); got != tt.accepted {
				t.Fatalf("%d emails accepted, want %d", got, tt.accepted)
			}
			if got := len(ms.offered()); got != len(tt.answers)+tt.accepted {
				t.Errorf("%d attempts, want %d", got, len(tt.answers)+tt.accepted)
			}
			// Every attempt is the same email: one Message-ID, from the
			// decision id at the sender's domain.
			want := "<" + notify.DecisionID("new-lead-nurture", "lead@example.com") + "@example.com>"
			for i, r := range ms.offered() {
				if id := r.Message.Header.Get("Message-ID"); id != want {
					t.Errorf("attempt %d: Message-ID %q, want %q", i+1, id, want)
				}
			}
			e, err := mustKV(t, srv, notify.QuotaBucket).Get(context.Background(), "email.2026-11-23")
			if err != nil {
				t.Fatal(err)
			}
			if used, _ := strconv.Atoi(string(e.Value())); used != tt.accepted {
				t.Errorf("quota counter %d, want %d (the emails accepted)", used, tt.accepted)
			}
			usage, err := service.ListUsage(context.Background(), srv.JS)
			if err != nil || len(usage) != 1 || usage[0].Used != float64(tt.accepted) || usage[0].Period != "2026-11-23" {
				t.Errorf("usage %+v, %v; want %d used on 2026-11-23", usage, err, tt.accepted)
			}
		})
	}
}
