package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/wneessen/go-mail"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/gtmhub/gtmhub/events"
)

// SMTP security modes.
const (
	SecuritySTARTTLS = "starttls" // plain connection upgraded with STARTTLS, required (port 587)
	SecurityTLS      = "tls"      // implicit TLS (port 465)
	SecurityPlain    = "plain"    // no encryption (port 25): local relays and tests only
)

// DefaultDailyQuota is the default number of emails a day (seed: 500).
const DefaultDailyQuota = 500

// defaultAlertLevels are the quota usage percentages that raise an alert:
// the usage bands of gtmhub status (70, 85, 95) and the seed's 80.
var defaultAlertLevels = []int{70, 80, 85, 95}

// SMTP is the smtp: section of gtmhub.yaml.
type SMTP struct {
	// Host is the mail server, host or host:port. Empty: email is not
	// configured.
	Host string `yaml:"host"`
	// Security is starttls (default), tls or plain.
	Security string `yaml:"security"`
	// Username and Password authenticate with AUTH PLAIN (or Auth) when
	// Username is set. The password is a secret: never logged.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// PasswordEnv names an environment variable holding Password, to keep
	// the secret out of gtmhub.yaml.
	PasswordEnv string `yaml:"password_env"`
	// Auth is the SASL mechanism: plain (default), login or cram-md5.
	Auth string `yaml:"auth"`
	// From is the sender address, such as "gtmhub <growth@example.com>".
	From string `yaml:"from"`
	// Unsubscribe is the List-Unsubscribe value: one or more <mailto:> or
	// <https:> URIs, as a template over the notification (e.g.
	// <https://example.com/unsubscribe?email={{.target}}>). With an https
	// URI the email also says List-Unsubscribe-Post:
	// List-Unsubscribe=One-Click (RFC 8058), the one-click unsubscribe Gmail
	// and Yahoo require of bulk senders: the URL must unsubscribe on a POST
	// with that body, without asking anything more, and the relay must
	// DKIM-sign both headers. Without it notify warns at start.
	Unsubscribe string `yaml:"unsubscribe"`
	// DailyQuota is the most emails a local day. Default 500.
	DailyQuota int `yaml:"daily_quota"`
	// TimeZone is the IANA zone the quota day (and its midnight) is counted
	// in. Default: the machine's local zone.
	TimeZone string `yaml:"time_zone"`
	// AlertLevels are the quota usage percentages that raise an alert.
	// Default 70, 80, 85, 95.
	AlertLevels []int `yaml:"alert_levels"`
	// Templates are the emails by rule name; a rule without one uses
	// [DefaultEmailTemplate].
	Templates map[string]EmailTemplate `yaml:"templates"`
	// Timeout bounds one SMTP session. Default 30s.
	Timeout time.Duration `yaml:"timeout"`
	// TLSConfig overrides the TLS settings (tests use it to trust a local
	// certificate).
	TLSConfig *tls.Config `yaml:"-"`
}

// EmailTemplate is an email as templates over the notification: subject and
// text are text/template, html is html/template. They see rule, target,
// event_id, data (the event data) and lead (data.contact, or data for
// lead events).
type EmailTemplate struct {
	Subject string `yaml:"subject"`
	Text    string `yaml:"text"`
	HTML    string `yaml:"html"`
}

// DefaultEmailTemplate is the nurture email of the default rule.
var DefaultEmailTemplate = EmailTemplate{
	Subject: `Thanks for your interest{{with .lead.first_name}}, {{.}}{{end}}`,
	Text: `Hi {{or .lead.first_name "there"}},

thanks for getting in touch{{with .lead.company}} on behalf of {{.}}{{end}}. We will be in touch shortly.
`,
	HTML: `<p>Hi {{or .lead.first_name "there"}},</p>
<p>thanks for getting in touch{{with .lead.company}} on behalf of {{.}}{{end}}. We will be in touch shortly.</p>
`,
}

func (s SMTP) configured() bool { return s.Host != "" }

// resolveEnv fills Password from PasswordEnv.
func (s SMTP) resolveEnv(getenv func(string) string) SMTP {
	if s.Password == "" && s.PasswordEnv != "" {
		s.Password = getenv(s.PasswordEnv)
	}
	return s
}

func (s SMTP) quotaLimit() int {
	if s.DailyQuota == 0 {
		return DefaultDailyQuota
	}
	return s.DailyQuota
}

func (s SMTP) alertLevels() []int {
	if len(s.AlertLevels) == 0 {
		return defaultAlertLevels
	}
	return s.AlertLevels
}

func (s SMTP) location() (*time.Location, error) {
	if s.TimeZone == "" {
		return time.Local, nil
	}
	return time.LoadLocation(s.TimeZone)
}

// hostPort splits Host and applies the security mode's default port.
func (s SMTP) hostPort() (string, int, error) {
	host, portText, err := net.SplitHostPort(s.Host)
	if err != nil {
		host, portText = s.Host, ""
	}
	if portText == "" {
		switch s.Security {
		case SecurityTLS:
			return host, 465, nil
		case SecurityPlain:
			return host, 25, nil
		default:
			return host, 587, nil
		}
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("smtp.host: bad port %q", portText)
	}
	return host, port, nil
}

func (s SMTP) validate(p interface{ Addf(string, ...any) }) {
	if !s.configured() {
		return
	}
	if _, _, err := s.hostPort(); err != nil {
		p.Addf("%v", err)
	}
	switch s.Security {
	case "", SecuritySTARTTLS, SecurityTLS, SecurityPlain:
	default:
		p.Addf("smtp.security %q: want starttls, tls or plain", s.Security)
	}
	switch strings.ToLower(s.Auth) {
	case "", "plain", "login", "cram-md5":
	default:
		p.Addf("smtp.auth %q: want plain, login or cram-md5", s.Auth)
	}
	if s.From == "" {
		p.Addf("smtp.from is required when smtp.host is set")
	} else if err := mail.NewMsg().From(s.From); err != nil {
		p.Addf("smtp.from: %v", err)
	}
	if s.PasswordEnv != "" && s.Password == "" {
		p.Addf("smtp.password_env: %s is not set", s.PasswordEnv)
	}
	if s.DailyQuota < 0 {
		p.Addf("smtp.daily_quota must not be negative")
	}
	if _, err := s.location(); err != nil {
		p.Addf("smtp.time_zone: %v", err)
	}
	for _, l := range s.AlertLevels {
		if l <= 0 || l > 100 {
			p.Addf("smtp.alert_levels: %d is not a percentage", l)
		}
	}
	if _, err := texttemplate.New("unsubscribe").Parse(s.Unsubscribe); err != nil {
		p.Addf("smtp.unsubscribe: %v", err)
	}
	for rule, t := range s.Templates {
		if _, err := compileEmail(t); err != nil {
			p.Addf("smtp.templates[%q]: %v", rule, err)
		}
	}
}

type compiledEmail struct {
	subject, text *texttemplate.Template
	html          *htmltemplate.Template
}

func compileEmail(t EmailTemplate) (compiledEmail, error) {
	var c compiledEmail
	var errs []error
	var err error
	if c.subject, err = texttemplate.New("subject").Parse(t.Subject); err != nil {
		errs = append(errs, err)
	}
	if c.text, err = texttemplate.New("text").Parse(t.Text); err != nil {
		errs = append(errs, err)
	}
	if t.HTML != "" {
		if c.html, err = htmltemplate.New("html").Parse(t.HTML); err != nil {
			errs = append(errs, err)
		}
	}
	if t.Subject == "" || t.Text == "" {
		errs = append(errs, errors.New("subject and text are required"))
	}
	return c, errors.Join(errs...)
}

// Mailer sends email over SMTP with one configuration.
type Mailer struct {
	cfg    SMTP
	opts   []mail.Option
	host   string
	port   int
	tracer trace.Tracer
	// domain is the sender's domain, the right side of the Message-IDs
	// [Mailer.MessageID] makes.
	domain string
}

// MailerOption configures a [Mailer].
type MailerOption func(*Mailer)

// WithMailerTracerProvider records each SMTP session as a client span from
// tp. Without it, sends are not traced.
func WithMailerTracerProvider(tp trace.TracerProvider) MailerOption {
	return func(m *Mailer) { m.tracer = tp.Tracer("github.com/gtmhub/gtmhub/services/notify") }
}

// NewMailer returns a mailer for cfg, which must be valid.
func NewMailer(cfg SMTP, options ...MailerOption) (*Mailer, error) {
	host, port, err := cfg.hostPort()
	if err != nil {
		return nil, err
	}
	ml := &Mailer{cfg: cfg, host: host, port: port, tracer: noop.NewTracerProvider().Tracer(""), domain: senderDomain(cfg.From)}
	for _, o := range options {
		o(ml)
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	opts := []mail.Option{mail.WithPort(port), mail.WithTimeout(timeout)}
	switch cfg.Security {
	case SecurityTLS:
		opts = append(opts, mail.WithSSL())
	case SecurityPlain:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if cfg.TLSConfig != nil {
		opts = append(opts, mail.WithTLSConfig(cfg.TLSConfig))
	}
	if cfg.Username != "" {
		auth := mail.SMTPAuthPlain
		switch strings.ToLower(cfg.Auth) {
		case "login":
			auth = mail.SMTPAuthLogin
		case "cram-md5":
			auth = mail.SMTPAuthCramMD5
		}
		if cfg.Security == SecurityPlain && auth == mail.SMTPAuthPlain {
			auth = mail.SMTPAuthPlainNoEnc // the operator chose plain on purpose
		}
		opts = append(opts, mail.WithSMTPAuth(auth), mail.WithUsername(cfg.Username), mail.WithPassword(cfg.Password))
	}
	ml.opts = opts
	return ml, nil
}

// senderDomain is the domain of from ("gtmhub <growth@example.com>":
// example.com), or "gtmhub" when from has none.
func senderDomain(from string) string {
	a, err := netmail.ParseAddress(from)
	if err != nil {
		return "gtmhub"
	}
	if i := strings.LastIndexByte(a.Address, '@'); i >= 0 && i < len(a.Address)-1 {
		return a.Address[i+1:]
	}
	return "gtmhub"
}

// MessageID returns the Message-ID (without angle brackets) of the email
// whose id is id, a UUID such as a [DecisionID]: id at the sender's domain.
// Every attempt at one email carries the same Message-ID, so a receiver
// that got an attempt whose reply was lost can recognize the retry, and the
// Message-ID names the notification's ledger entry.
func (ml *Mailer) MessageID(id string) string {
	return id + "@" + ml.domain
}

// Email is one email to send.
type Email struct {
	To, Subject, Text, HTML string
	// Unsubscribe is the List-Unsubscribe header value, if any.
	Unsubscribe string
	// MessageID, when set, is the Message-ID (without angle brackets).
	MessageID string
}

// Send delivers e. Permanent SMTP answers (5xx) come back as
// [events.Permanent] errors; temporary ones (4xx) and connection failures
// as plain errors to retry. Errors name the server, never the credentials.
func (ml *Mailer) Send(ctx context.Context, e Email) error {
	msg := mail.NewMsg()
	if err := msg.From(ml.cfg.From); err != nil {
		return events.Permanent(fmt.Errorf("from: %w", err))
	}
	if err := msg.To(e.To); err != nil {
		return events.Permanent(fmt.Errorf("to: %w", err))
	}
	msg.Subject(e.Subject)
	msg.SetDate()
	if e.MessageID != "" {
		msg.SetMessageIDWithValue(e.MessageID)
	} else {
		msg.SetMessageID()
	}
	if e.Unsubscribe != "" {
		msg.SetGenHeader(mail.HeaderListUnsubscribe, e.Unsubscribe)
		if oneClick(e.Unsubscribe) {
			msg.SetGenHeader(mail.HeaderListUnsubscribePost, "List-Unsubscribe=One-Click")
		}
	}
	msg.SetBodyString(mail.TypeTextPlain, e.Text)
	if e.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, e.HTML)
	}
	return ml.send(ctx, msg)
}

// oneClick reports whether the List-Unsubscribe value offers an https URI,
// which RFC 8058 requires for one-click unsubscribe: the receiver POSTs
// "List-Unsubscribe=One-Click" to it. A mailto URI alone offers none.
func oneClick(listUnsubscribe string) bool {
	for f := range strings.SplitSeq(listUnsubscribe, ",") {
		f = strings.TrimSpace(f)
		if !strings.HasPrefix(f, "<") || !strings.HasSuffix(f, ">") {
			continue
		}
		if u, err := url.Parse(f[1 : len(f)-1]); err == nil && u.Scheme == "https" && u.Host != "" {
			return true
		}
	}
	return false
}

// send runs one SMTP session for msg, traced as a client span that names
// the server but never the recipient or the credentials.
func (ml *Mailer) send(ctx context.Context, msg *mail.Msg) error {
	ctx, span := ml.tracer.Start(ctx, "smtp send", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(semconv.ServerAddress(ml.host), semconv.ServerPort(ml.port)))
	defer span.End()
	client, err := mail.NewClient(ml.host, ml.opts...)
	if err != nil {
		err = events.Permanent(fmt.Errorf("smtp client: %w", err))
	} else if err = client.DialAndSendWithContext(ctx, msg); err != nil && msg.IsDelivered() {
		// The server took the message (250 to its data) and only the
		// session's end failed: it was sent, and sending it again would
		// send it twice.
		span.AddEvent("session end failed after delivery", trace.WithAttributes(
			attribute.String("error", events.Redact(err.Error()))))
		err = nil
	} else if err != nil {
		err = classifySMTP(err)
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "smtp send failed")
	}
	return err
}

// classifySMTP maps a send error to the error contract: 5xx permanent,
// anything else retried.
func classifySMTP(err error) error {
	code := smtpCode(err.Error())
	var se *mail.SendError
	if errors.As(err, &se) && se.ErrorCode() != 0 {
		code = se.ErrorCode()
	}
	redacted := fmt.Errorf("smtp: %s", events.Redact(err.Error()))
	if code >= 500 && code < 600 {
		return events.Permanent(redacted)
	}
	return redacted
}

// smtpCode finds the first three-digit reply code in s, or 0.
func smtpCode(s string) int {
	for f := range strings.FieldsSeq(s) {
		f = strings.Trim(f, ":,;()")
		if len(f) == 3 {
			if n, err := strconv.Atoi(f); err == nil && n >= 200 && n < 600 {
				return n
			}
		}
	}
	return 0
}

// EmailSender is the [Sender] for the email channel.
type EmailSender struct {
	mailer      *Mailer
	templates   map[string]compiledEmail
	fallback    compiledEmail
	unsubscribe *texttemplate.Template
}

// NewEmailSender returns the email sender for cfg.
func NewEmailSender(cfg SMTP, mailer *Mailer) (*EmailSender, error) {
	s := &EmailSender{mailer: mailer, templates: map[string]compiledEmail{}}
	var err error
	if s.fallback, err = compileEmail(DefaultEmailTemplate); err != nil {
		return nil, err
	}
	for rule, t := range cfg.Templates {
		if s.templates[rule], err = compileEmail(t); err != nil {
			return nil, fmt.Errorf("template %s: %w", rule, err)
		}
	}
	if s.unsubscribe, err = texttemplate.New("unsubscribe").Parse(cfg.Unsubscribe); err != nil {
		return nil, err
	}
	return s, nil
}

// Send renders the rule's email for m and sends it to m.Target.
func (s *EmailSender) Send(ctx context.Context, m Message) error {
	t, ok := s.templates[m.Rule]
	if !ok {
		t = s.fallback
	}
	env := map[string]any{"rule": m.Rule, "target": m.Target, "event_id": m.Event.ID(),
		"data": m.Data, "lead": map[string]any(leadFields(m.Data))}
	e := Email{To: m.Target}
	if m.ID != "" {
		e.MessageID = s.mailer.MessageID(m.ID)
	}
	var b strings.Builder
	for _, part := range []struct {
		exec func() error
		dst  *string
	}{
		{func() error { return t.subject.Execute(&b, env) }, &e.Subject},
		{func() error { return t.text.Execute(&b, env) }, &e.Text},
		{func() error { return s.unsubscribe.Execute(&b, env) }, &e.Unsubscribe},
		{func() error {
			if t.html == nil {
				return nil
			}
			return t.html.Execute(&b, env)
		}, &e.HTML},
	} {
		b.Reset()
		if err := part.exec(); err != nil {
			return events.Permanent(fmt.Errorf("email template for %s: %w", m.Rule, err))
		}
		*part.dst = b.String()
	}
	e.Subject = strings.TrimSpace(e.Subject)
	e.Unsubscribe = strings.TrimSpace(e.Unsubscribe)
	return s.mailer.Send(ctx, e)
}
