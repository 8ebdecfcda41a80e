package events_test

import (
	"strings"
	"testing"

	"github.com/gtmhub/gtmhub/events"
)

func TestRedact(t *testing.T) {
	tests := []struct{ in, secret string }{
		{"GET https://api.hunter.io/v2/email-verifier?email=a@b.c&api_key=abc123def: 429", "abc123def"},
		{"Authorization: Bearer sk_live_9f8e7d", "sk_live_9f8e7d"},
		{`post https://hooks.slack.com/services/T000/B000/XXXXSECRET: 404 no_service`, "XXXXSECRET"},
		{"dial postgres://gtm:hunter2@db:5432/gtm failed", "hunter2"},
		{"no NATS server at nats://t0ken-abc@nats:4222", "t0ken-abc"},
		{`parse "nats://gtm:pa@ssw0rd-x@bad host:4222": invalid character`, "ssw0rd-x"},
		{"dial postgres://gtm:pa@ssw0rd-y@db:5432/gtm?sslmode=disable failed", "ssw0rd-y"},
		{"bad signature with whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
		{`{"token": "xoxb-1234-abcd"}`, "1234-abcd"},
		{"password=s3cr3t;", "s3cr3t"},
	}
	for _, tt := range tests {
		got := events.Redact(tt.in)
		if strings.Contains(got, tt.secret) || !strings.Contains(got, "[REDACTED]") {
			t.Errorf("Redact(%q) = %q", tt.in, got)
		}
	}
	if got := events.Redact("lead ada@example.com rejected: no domain"); got != "lead ada@example.com rejected: no domain" {
		t.Errorf("harmless text changed: %q", got)
	}
}

func TestMaskEmails(t *testing.T) {
	tests := []struct{ in, want string }{
		{"smtp: 550 5.1.1 <smtp.reject1@example.com>: Recipient address rejected",
			"smtp: 550 5.1.1 <[EMAIL]>: Recipient address rejected"},
		{`duplicate key (email)=(Ada.Lovelace+crm@Example.co.uk) and o'brien@mail.example.org`,
			`duplicate key (email)=([EMAIL]) and [EMAIL]`},
		{"björk@exämple.is", "[EMAIL]"},
		{"open postgres://gtmhub:xxxxx@127.0.0.1:55432/gtmhub for ada@example.com",
			"open postgres://gtmhub:xxxxx@127.0.0.1:55432/gtmhub for [EMAIL]"},
		{"nats://alice@nats.example.com:4222", "nats://alice@nats.example.com:4222"},
		{"https://example.com/u/ada@example.com", "https://example.com/u/[EMAIL]"},
		{`{"url":"https://a.example","email":"ada@example.com"}`, `{"url":"https://a.example","email":"[EMAIL]"}`},
		{"https://h.example?email=ada@example.com", "https://h.example?email=[EMAIL]"},
		{"https://h.example#ada@example.com", "https://h.example#[EMAIL]"},
		{"smtp://host,ada@example.com", "smtp://host,[EMAIL]"},
		{"no address here: user@localhost, @handle, a@b", "no address here: user@localhost, @handle, a@b"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := events.MaskEmails(tt.in); got != tt.want {
			t.Errorf("MaskEmails(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestExponentialBackoff(t *testing.T) {
	b := events.ExponentialBackoff(100, 1000)
	for attempt, bounds := range map[int][2]int64{1: {50, 100}, 2: {100, 200}, 3: {200, 400}, 4: {400, 800}, 10: {500, 1000}} {
		for range 50 {
			if d := int64(b(attempt)); d < bounds[0] || d > bounds[1] {
				t.Fatalf("attempt %d: %d outside %v", attempt, d, bounds)
			}
		}
	}
}
