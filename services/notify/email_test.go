package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/services/notify"
	"github.com/gtmhub/gtmhub/services/notify/internal/fakeslack"
)

func smtpConfig(ms *mailServer, security string) notify.SMTP {
	return notify.SMTP{Host: ms.addr, Security: security, From: "gtmhub <growth@example.com>",
		Username: ms.user, Password: ms.password, TLSConfig: ms.clientTLS(), Timeout: 5 * time.Second,
		Unsubscribe: "<https://example.com/unsubscribe?to={{.target}}>, <mailto:unsubscribe@example.com>"}
}

// parts returns the text and HTML parts of a multipart/alternative message.
func parts(t *testing.T, r received) (text, html string) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(r.Message.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		t.Fatalf("content type %q: %v", r.Message.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(r.Message.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return text, html
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		switch ct := p.Header.Get("Content-Type"); {
		case strings.HasPrefix(ct, "text/plain"):
			text = string(b)
		case strings.HasPrefix(ct, "text/html"):
			html = string(b)
		}
	}
}

func TestMailerSecurityModes(t *testing.T) {
	tests := []struct {
		security string
		implicit bool
	}{
		{notify.SecuritySTARTTLS, false},
		{notify.SecurityTLS, true},
		{notify.SecurityPlain, false},
	}
	for _, tt := range tests {
		t.Run(tt.security, func(t *testing.T) {
			ms := startMailServer(t, mailOptions{implicitTLS: tt.implicit, user: "relay", password: "s3cret-pw"})
			mailer, err := notify.NewMailer(smtpConfig(ms, tt.security))
			if err != nil {
				t.Fatal(err)
			}
			err = mailer.Send(context.Background(), notify.Email{To: "ada@example.com", Subject: "Hello Ada",
				Text: "plain body", HTML: "<p>html body</p>", Unsubscribe: "<mailto:unsubscribe@example.com>"})
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := ms.wait(1, wait)
			if len(got) != 1 {
				t.Fatalf("%d messages received", len(got))
			}
			r := got[0]
			h := r.Message.Header
			if r.Authed != "relay" || r.From != "growth@example.com" || len(r.To) != 1 || r.To[0] != "ada@example.com" ||
				h.Get("Subject") != "Hello Ada" || h.Get("List-Unsubscribe") != "<mailto:unsubscribe@example.com>" {
				t.Errorf("received from %s to %v as %q, subject %q, unsubscribe %q", r.From, r.To, r.Authed,
					h.Get("Subject"), h.Get("List-Unsubscribe"))
			}
			if text, html := parts(t, r); !strings.Contains(text, "plain body") || !strings.Contains(html, "<p>html body</p>") {
				t.Errorf("parts text %q html %q", text, html)
			}
		})
	}
}

func TestMailerErrors(t *testing.T) {
	ms := startMailServer(t, mailOptions{})
	mailer, err := notify.NewMailer(smtpConfig(ms, notify.SecurityPlain))
	if err != nil {
		t.Fatal(err)
	}
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := closed.Addr().String()
	closed.Close()
	down, err := notify.NewMailer(notify.SMTP{Host: addr, Security: notify.SecurityPlain, From: "a@example.com",
		Username: "u", Password: "hunter2-secret", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		mailer    *notify.Mailer
		fail      error
		permanent bool
	}{
		{"550 mailbox unavailable", mailer, &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "mailbox unavailable"}, true},
		{"452 insufficient storage", mailer, &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "insufficient storage"}, false},
		{"connection refused", down, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fail != nil {
				ms.failNext(tt.fail)
			}
			err := tt.mailer.Send(context.Background(), notify.Email{To: "ada@example.com", Subject: "s", Text: "t"})
			if err == nil || events.IsPermanent(err) != tt.permanent {
				t.Fatalf("Send = %v, want permanent=%v", err, tt.permanent)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error repeats the password: %v", err)
			}
		})
	}
}

// clock is a settable clock for the quota's day.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func TestEmailNurtureTemplatesAndUnsubscribe(t *testing.T) {
	srv := eventstest.RunServer(t)
	ms := startMailServer(t, mailOptions{})
	cfg := notify.DefaultConfig()
	cfg.SMTP = smtpConfig(ms, notify.SecurityPlain)
	cfg.SMTP.Templates = map[string]notify.EmailTemplate{"new-lead-nurture": {
		Subject: "Welcome {{.lead.first_name}}", Text: "Hello {{.lead.first_name}} from {{.lead.company}}",
		HTML: "<p>Hello {{.lead.first_name}} &amp; {{.lead.company}}</p>"}}
	startNotify(t, srv, cfg)

	ev := leadEvent(t, "ada@example.com", 10)
	publish(t, srv, ev)
	got := ms.wait(1, wait)
	if len(got) != 1 {
		t.Fatalf("%d emails", len(got))
	}
	h := got[0].Message.Header
	if h.Get("Subject") != "Welcome Ada" || h.Get("List-Unsubscribe") !=
		"<https://example.com/unsubscribe?to=ada@example.com>, <mailto:unsubscribe@example.com>" ||
		h.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Errorf("subject %q, List-Unsubscribe %q, List-Unsubscribe-Post %q", h.Get("Subject"),
			h.Get("List-Unsubscribe"), h.Get("List-Unsubscribe-Post"))
	}
	text, html := parts(t, got[0])
	if !strings.Contains(text, "Hello Ada from Analytical Engines") || !strings.Contains(html, "Hello Ada &amp; Analytical Engines") {
		t.Errorf("text %q html %q", text, html)
	}
	if d := decisions(t, srv, 1)[0]; d.Outcome != contracts.OutcomeSent || d.Target != "a***@example.com" {
		t.Errorf("decision %+v, want sent to a redacted address", d)
	}
}

func TestEmailQuotaDefersToTheNextDay(t *testing.T) {
	srv := eventstest.RunServer(t)
	ms := startMailServer(t, mailOptions{})
	fake := fakeslack.New(t)
	day := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	clk := &clock{t: day}
	cfg := notify.DefaultConfig()
	cfg.SMTP = smtpConfig(ms, notify.SecurityPlain)
	cfg.SMTP.DailyQuota = 5
	cfg.SMTP.TimeZone = "UTC"
	cfg.Alerts = notify.Alerts{WebhookURL: fake.Webhook("alerts")}
	cfg.Slack.HTTPClient = fake.Client() // Slack itself stays unconfigured
	cfg.Now = clk.Now
	cfg.DeferredInterval = 100 * time.Millisecond
	stop := eventstest.Go(t, func(ctx context.Context) error { return notify.Run(ctx, cfg, service.Deps{Conn: srv.Conn}) })

	for i := range 8 {
		publish(t, srv, contactEvent(t, contracts.TypeContactCreated, fmt.Sprintf("lead%d@example.com", i), 10))
	}
	awaitSettled(t, srv)
	if got := ms.wait(5, wait); len(got) != 5 {
		t.Fatalf("%d emails today, want 5", len(got))
	}
	// The other three wait in the deferred bucket, on record as suppressed.
	kv, err := srv.JS.KeyValue(context.Background(), notify.DeferredBucket)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.Keys(context.Background())
	if err != nil || len(keys) != 3 {
		t.Fatalf("deferred keys %v (%v), want 3", keys, err)
	}
	var deferred int
	for _, d := range decisions(t, srv, 8) {
		if d.Outcome == contracts.OutcomeSuppressed && d.Reason == "daily email quota of 5 reached: deferred to 2026-11-24" {
			deferred++
		}
	}
	if deferred != 3 {
		t.Errorf("%d deferred decisions, want 3", deferred)
	}
	// Crossing 70, 80, 85 and 95 % posts alerts.
	alerts := fake.Wait(4, wait)
	for _, level := range []int{70, 80, 85, 95} {
		title := fmt.Sprintf("Email quota %d%% used on 2026-11-23", level)
		if !slices.ContainsFunc(alerts, func(m fakeslack.Message) bool { return strings.Contains(m.Text, title) }) {
			t.Errorf("no alert %q in %+v", title, alerts)
		}
	}
	if len(ms.messages()) != 5 {
		t.Fatalf("%d emails before the day changed, want 5", len(ms.messages()))
	}
	// gtmhub status sees the quota used up.
	usage, err := service.ListUsage(context.Background(), srv.JS)
	if err != nil || len(usage) != 1 || usage[0].Resource != "notify.email.daily" || usage[0].Used != 5 ||
		usage[0].Limit != 5 || usage[0].Period != "2026-11-23" || usage[0].Level() != service.LevelCritical {
		t.Errorf("usage %+v, %v", usage, err)
	}

	// notify stops; the next day a new notify sends the deferred emails,
	// once each.
	stop()
	clk.Set(day.Add(12 * time.Hour))
	startNotify(t, srv, cfg)
	got := ms.wait(8, wait)
	if len(got) != 8 {
		t.Fatalf("%d emails after the day changed, want 8", len(got))
	}
	seen := map[string]int{}
	for _, r := range got {
		seen[r.To[0]]++
	}
	for i := range 8 {
		if to := fmt.Sprintf("lead%d@example.com", i); seen[to] != 1 {
			t.Errorf("%s got %d emails, want 1", to, seen[to])
		}
	}
	deadline := time.Now().Add(wait)
	for {
		keys, _ := kv.Keys(context.Background())
		if len(keys) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deferred keys left: %v", keys)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := srv.Count(t, events.StreamNotify, events.SubjectNotifySent); n != 8 {
		t.Errorf("%d sent decisions, want 8", n)
	}
	var le notify.LedgerEntry
	e, err := mustKV(t, srv, notify.LedgerBucket).Get(context.Background(), notify.DecisionID("new-lead-nurture", "lead7@example.com"))
	if err != nil || json.Unmarshal(e.Value(), &le) != nil || le.State != notify.StateSent {
		t.Errorf("ledger entry %+v (%v), want sent", le, err)
	}
}

func mustKV(t *testing.T, srv *eventstest.Server, bucket string) jetstream.KeyValue {
	t.Helper()
	kv, err := srv.JS.KeyValue(context.Background(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// TestMailerTraces checks that every SMTP session is a client span naming
// the server, never the recipient, with the failure recorded on it.
func TestMailerTraces(t *testing.T) {
	ms := startMailServer(t, mailOptions{})
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	mailer, err := notify.NewMailer(smtpConfig(ms, notify.SecurityPlain), notify.WithMailerTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		fail   error
		status codes.Code
	}{
		{"sent", nil, codes.Unset},
		{"rejected", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "mailbox unavailable"}, codes.Error},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fail != nil {
				ms.failNext(tt.fail)
			}
			err := mailer.Send(context.Background(), notify.Email{To: "ada@example.com", Subject: "s", Text: "t"})
			if (err != nil) != (tt.fail != nil) {
				t.Fatalf("Send = %v, want failure %v", err, tt.fail)
			}
			spans := rec.Ended()
			if len(spans) != i+1 {
				t.Fatalf("%d spans ended, want %d", len(spans), i+1)
			}
			s := spans[i]
			if s.Name() != "smtp send" || s.SpanKind() != trace.SpanKindClient || s.Status().Code != tt.status {
				t.Errorf("span %q kind %v status %v, want smtp send, client, %v", s.Name(), s.SpanKind(), s.Status().Code, tt.status)
			}
			host, _, _ := net.SplitHostPort(ms.addr)
			var server bool
			for _, a := range s.Attributes() {
				server = server || (a.Key == "server.address" && a.Value.AsString() == host)
				if strings.Contains(a.Value.Emit(), "ada@") || (ms.password != "" && strings.Contains(a.Value.Emit(), ms.password)) {
					t.Errorf("attribute %s holds the recipient or the password", a.Key)
				}
			}
			if !server {
				t.Errorf("span does not name the server %s: %v", host, s.Attributes())
			}
		})
	}
}

// TestEmailMessageIDFollowsTheNotification: the Message-ID of a rule's email
// is derived from the notification's id, so every attempt at one
// notification carries the same one and different notifications differ.
func TestEmailMessageIDFollowsTheNotification(t *testing.T) {
	ms := startMailServer(t, mailOptions{})
	cfg := smtpConfig(ms, notify.SecurityPlain)
	mailer, err := notify.NewMailer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := notify.NewEmailSender(cfg, mailer)
	if err != nil {
		t.Fatal(err)
	}
	first, second := notify.DecisionID("new-lead-nurture", "ada@example.com"), notify.DecisionID("new-lead-nurture", "bob@example.com")
	sends := []struct {
		id   string
		want string // "": any, but unlike every other
	}{
		{first, "<" + first + "@example.com>"},
		{first, "<" + first + "@example.com>"},
		{second, "<" + second + "@example.com>"},
		{"", ""},
		{"", ""},
	}
	ev := leadEvent(t, "ada@example.com", 10)
	for _, send := range sends {
		m := notify.Message{Rule: "new-lead-nurture", Channel: contracts.ChannelEmail, Target: "ada@example.com", Event: ev, ID: send.id}
		if err := s.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	got := ms.wait(len(sends), wait)
	if len(got) != len(sends) {
		t.Fatalf("%d emails, want %d", len(got), len(sends))
	}
	seen := map[string]int{}
	for i, r := range got {
		id := r.Message.Header.Get("Message-ID")
		seen[id]++
		if send := sends[i]; send.want != "" && id != send.want {
			t.Errorf("send %d: Message-ID %q, want %q", i, id, send.want)
		}
	}
	if len(seen) != 4 {
		t.Errorf("Message-IDs %v: want the two attempts at one notification alike and the rest unique", seen)
	}
}

// TestMailerOneClickUnsubscribe: an email whose List-Unsubscribe offers an
// https URI says List-Unsubscribe-Post: List-Unsubscribe=One-Click (RFC
// 8058); one without (mailto only, plain http) does not.
func TestMailerOneClickUnsubscribe(t *testing.T) {
	tests := []struct {
		unsubscribe string
		post        string
	}{
		{"", ""},
		{"<mailto:unsubscribe@example.com>", ""},
		{"<http://example.com/unsubscribe>", ""},
		{"<https://example.com/unsubscribe?to=ada%40example.com>", "List-Unsubscribe=One-Click"},
		{"<mailto:unsubscribe@example.com>, <https://example.com/unsubscribe>", "List-Unsubscribe=One-Click"},
		{"<HTTPS://example.com/unsubscribe>", "List-Unsubscribe=One-Click"},
	}
	ms := startMailServer(t, mailOptions{})
	mailer, err := notify.NewMailer(smtpConfig(ms, notify.SecurityPlain))
	if err != nil {
		t.Fatal(err)
	}
	for i, tt := range tests {
		t.Run(tt.unsubscribe, func(t *testing.T) {
			if err := mailer.Send(context.Background(), notify.Email{To: "ada@example.com", Subject: "s", Text: "t",
				Unsubscribe: tt.unsubscribe}); err != nil {
				t.Fatal(err)
			}
			got := ms.wait(i+1, wait)
			if len(got) != i+1 {
				t.Fatalf("%d emails, want %d", len(got), i+1)
			}
			h := got[i].Message.Header
			if h.Get("List-Unsubscribe") != tt.unsubscribe || h.Get("List-Unsubscribe-Post") != tt.post {
				t.Errorf("List-Unsubscribe %q, List-Unsubscribe-Post %q; want %q and %q",
					h.Get("List-Unsubscribe"), h.Get("List-Unsubscribe-Post"), tt.unsubscribe, tt.post)
			}
		})
	}
}
