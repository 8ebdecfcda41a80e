// Package ingest receives webhooks and CloudEvents over HTTP and turns them
// into events on NATS JetStream.
//
// Each configured source is served at POST /webhooks/{source}. A request is
// verified with the source's signature scheme (none, shared-secret,
// hmac-sha256, standard-webhooks, github, slack, hubspot-v3, airtable, notion
// or stripe, each to its sender's published spec); one that fails is stored
// verbatim in the QUARANTINE stream, within a per-source rate limit, and
// answered 401. Sender handshakes (Slack's url_verification, GitHub's ping,
// Standard Webhooks test events) are answered 200 after verification and
// publish nothing. A verified lead source
// maps the body (JSON in UTF-8, or a website form in the charset its
// Content-Type declares, UTF-8 by default) onto the standard lead fields,
// validates it against the com.gtmhub.lead.captured contract (422 with a JSON
// pointer per problem when it does not hold) and publishes it on
// gtm.leads.captured.{source}; a raw source publishes com.gtmhub.webhook.received
// on gtm.raw.{source}.{type}.
//
// POST /events takes CloudEvents in binary, structured or batch HTTP mode;
// binary-mode ce- header values are percent-decoded once, as the HTTP binding
// says, so an event sent in either mode is stored with the same attributes.
// It is for trusted producers and bypasses verification, so it is guarded
// (see [EventsConfig]): with events.tokens set, a request needs
// "Authorization: Bearer <token>" (401 and WWW-Authenticate: Bearer
// without); with none, it is open only while ingest listens on a loopback
// address, and answered 403 otherwise. Of the contracts catalog it takes the
// types events.types lists, by default com.gtmhub.lead.captured and
// com.gtmhub.webhook.received (403 for the others); types of other
// producers are stored as raw events on gtm.raw.events.{type}. An event
// whose source names a configured source that guards its requests (a
// signature scheme, or allow_from) is answered 403: such events come through /webhooks/{source}. Each event of
// a batch is judged alone.
//
// A request is answered 202 only once JetStream has acknowledged the event,
// so a 202 means the event is stored; while NATS is unreachable requests are
// answered 503 with Retry-After at once. The event id is derived from the
// sender's delivery id or else from a hash of the source and body, so a
// retried delivery is stored once and answered with "duplicate": true. The
// id a scheme's sender gives each delivery (webhook-id, X-GitHub-Delivery,
// Slack's event_id, HubSpot's eventId, Stripe's and Notion's id) wins over
// generic headers such as Idempotency-Key, which are read only without it.
// Ingest serves HTTPS when given a certificate and key (reloaded when they
// change), and a source with allow_from takes requests only from those
// networks.
// Every error is answered with a JSON body {"error": "...", "details": [...]},
// except for a request Go's HTTP server cannot read as one (a malformed
// request line or header field, headers over 1 MB, an unknown transfer
// coding): net/http answers those itself, in plain text, before any handler
// runs.
package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/services/ingest/internal/signature"
)

// Kind says what a source's webhooks are.
type Kind string

// Source kinds.
const (
	// KindLead sources send leads: the body is mapped onto the standard lead
	// fields and published as com.gtmhub.lead.captured.
	KindLead Kind = "lead"
	// KindRaw sources send anything else: the request is published verbatim
	// (secret headers redacted) as com.gtmhub.webhook.received.
	KindRaw Kind = "raw"
)

// Defaults.
const (
	DefaultHTTPAddr    = "127.0.0.1:8080"
	DefaultMaxBody     = 1 << 20 // 1 MiB
	DefaultMaxInFlight = 1024
	// DefaultPublishTimeout keeps a sender's wait under 2 s even when NATS
	// is unreachable without the connection noticing (a partition): a
	// timed-out publish is answered 503, and the sender's retry is
	// deduplicated by its event id should the first publish land after all.
	DefaultPublishTimeout  = 1500 * time.Millisecond
	DefaultShutdownTimeout = 30 * time.Second
	DefaultTypeField       = "type"
	// DefaultQuarantineRateLimit and DefaultQuarantineBurst bound the
	// requests per second each source stores in QUARANTINE.
	DefaultQuarantineRateLimit = 5
	DefaultQuarantineBurst     = 20
	// DefaultRawType is the type of a raw webhook whose type cannot be read.
	DefaultRawType = "event"
)

// DefaultDeliveryIDHeaders are the request headers that carry a sender's
// delivery id, in the order they are looked for: the IETF Idempotency-Key,
// Standard Webhooks' webhook-id, and the ids of common senders. They are
// read only when the scheme's own sender names no delivery (see
// [Source.DeliveryIDHeaders]). X-Request-Id is not among them: proxies set
// it afresh for every attempt, which would make each retry a new event.
func DefaultDeliveryIDHeaders() []string {
	return []string{"Idempotency-Key", "Webhook-Id", "X-Idempotency-Key", "X-Delivery-Id",
		"X-Webhook-Id", "X-GitHub-Delivery"}
}

// Config is ingest's part of gtmhub.yaml.
type Config struct {
	// HTTPAddr is the address webhooks and CloudEvents are received on.
	// On any but a loopback address, POST /events needs Events.Tokens.
	HTTPAddr string `yaml:"http_addr"`
	// Sources are the webhook senders, each served at POST /webhooks/{name}.
	Sources []Source `yaml:"sources"`
	// MaxInFlight bounds the publishes awaiting a PubAck; a request beyond
	// it is answered 503 with Retry-After instead of queueing.
	MaxInFlight int `yaml:"max_in_flight"`
	// PublishTimeout bounds the wait for one PubAck; a request that times
	// out is answered 503.
	PublishTimeout time.Duration `yaml:"publish_timeout"`
	// ShutdownTimeout bounds how long shutdown waits for requests in flight.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// TLSCertFile and TLSKeyFile, both set, make ingest serve HTTPS (TLS
	// 1.2 or later, HTTP/2 offered) with this PEM certificate chain and
	// key. Either file changing is picked up at the next handshake, so a
	// renewed certificate needs no restart. Unset: plain HTTP, for a
	// TLS-terminating proxy in front.
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// MaxEventBody is the body limit of POST /events, in bytes.
	MaxEventBody int64 `yaml:"max_event_body"`
	// Events says who may post to POST /events (bearer tokens, required
	// unless HTTPAddr is a loopback address) and which catalog types.
	Events EventsConfig `yaml:"events"`
	// NATSURL is set from --nats-url, not from the file.
	NATSURL string `yaml:"-"`
}

// Source is one webhook sender.
type Source struct {
	// Name is the path element after /webhooks/ and a subject token
	// ([a-z0-9_-]).
	Name string `yaml:"name"`
	// Scheme is how requests are verified: none, shared-secret,
	// hmac-sha256, standard-webhooks, github, slack, hubspot-v3, airtable,
	// notion or stripe.
	Scheme string `yaml:"scheme"`
	// Header is the header the scheme reads, for shared-secret (default
	// X-Webhook-Secret) and hmac-sha256 (default X-Signature); the other
	// schemes read their sender's header.
	Header string `yaml:"header"`
	// Prefix comes before the signature in the header, such as "sha256=";
	// hmac-sha256 only.
	Prefix string `yaml:"prefix"`
	// Encoding is how the signature is written, hex (default) or base64;
	// hmac-sha256 only.
	Encoding string `yaml:"encoding"`
	// Tolerance is how far the signed timestamp of standard-webhooks,
	// slack, hubspot-v3 and stripe requests may be from the time they
	// arrive; default 5m.
	Tolerance time.Duration `yaml:"tolerance"`
	// PublicURL is the scheme and host the sender posts to, such as
	// https://hooks.example.com, for schemes that sign the URL (hubspot-v3);
	// the request's path and query are appended to it.
	PublicURL string `yaml:"public_url"`
	// Secrets are the accepted secrets; any of them matches, so a new
	// secret can be added before the old one is removed. For
	// standard-webhooks they are whsec_ secrets (v1 signatures), whpk_
	// Ed25519 public keys (v1a), or both.
	Secrets []Secret `yaml:"secrets"`
	// Optional turns a source whose scheme needs a secret but has none
	// (its secret_env variables are unset) into a disabled source that
	// answers 503, instead of a configuration error. The built-in clay
	// source is optional so that gtmhub runs with no configuration. A
	// disabled notion source still keeps Notion's verification request in
	// QUARANTINE and answers it 200, so that its token can be read there.
	Optional bool `yaml:"optional"`
	// Kind is lead (default) or raw.
	Kind Kind `yaml:"kind"`
	// Mapping maps the sender's field names to standard lead fields
	// (email, first_name, ...). A name the body has no field of is read as
	// a dotted path into nested objects, such as row_data.email. Several
	// fields may map to one lead field; the first in the order of their
	// names that holds a value fills it. Fields named like a standard field
	// need no mapping; fields neither mapped nor standard go to attributes,
	// an object whose field was mapped by its path without that field.
	Mapping map[string]string `yaml:"mapping"`
	// FieldsAt is the dotted path of a JSON object holding the lead's
	// fields, such as row_data in a Clay row event; kind lead only. When a
	// body has an object there, its fields are mapped as a body's would be,
	// the mapping's names are read within it, and the body's other fields
	// go to attributes; a body without it is read as a whole.
	FieldsAt string `yaml:"fields_at"`
	// MaxBody is the body limit in bytes; default 1 MiB, lowered at start
	// to fit the NATS server's max_payload (720 KiB for a stock 1 MiB). A
	// limit given here that cannot fit is a configuration error: a body
	// may need 4/3 of its size plus 64 KiB as a message.
	MaxBody int64 `yaml:"max_body"`
	// DeliveryIDHeaders are the headers read for the sender's delivery id,
	// which makes a retried delivery idempotent. Unset means
	// [DefaultDeliveryIDHeaders]; an empty list turns it off.
	//
	// The delivery id is the first found of, in order: the id the scheme's
	// sender gives each delivery (standard-webhooks: webhook-id, which is
	// signed; github: X-GitHub-Delivery; slack, hubspot-v3, notion and
	// stripe: DeliveryIDField in the body); these headers, in their order;
	// DeliveryIDField, for the other schemes. So for a scheme whose sender
	// names its deliveries, these headers, default or configured, count
	// only for a request without the sender's id, and a header added on the
	// way (a proxy's, or an attacker's replaying a captured request) cannot
	// make a retry a new event.
	DeliveryIDHeaders []string `yaml:"delivery_id_headers"`
	// DeliveryIDField is the dotted path of the sender's delivery id in a
	// JSON body; for a JSON array body, the ids of all elements together.
	// The scheme gives the default: event_id for slack, eventId for
	// hubspot-v3, id for stripe and notion. For those schemes it is read
	// before DeliveryIDHeaders, for the others after them. A request without
	// a delivery id gets a hash of its source and body as its id, so a retry
	// of the same body is stored once.
	DeliveryIDField string `yaml:"delivery_id_field"`
	// TypeHeader names a header holding a raw webhook's event type, such as
	// X-GitHub-Event (the default of the github scheme). It is read before
	// TypeField.
	TypeHeader string `yaml:"type_header"`
	// TypeField is the dotted path of a raw webhook's event type in a JSON
	// body, such as event.type (the default of the slack scheme); default
	// "type". For a JSON array body (HubSpot's batches) it is the type all
	// elements share. A webhook whose type cannot be read, or a batch of
	// events of different types, has type "event".
	TypeField string `yaml:"type_field"`
	// RateLimit is the requests per second accepted from this source; 0
	// means unlimited. Beyond it requests are answered 429.
	RateLimit float64 `yaml:"rate_limit"`
	// Burst is how many requests may exceed RateLimit at once; default
	// RateLimit rounded up.
	Burst int `yaml:"burst"`
	// QuarantineRateLimit is how many failed requests per second are
	// stored in QUARANTINE (default 5, burst QuarantineBurst, default 20);
	// beyond it they are still answered 401 but only counted, so a flood of
	// forged requests cannot fill the disk.
	QuarantineRateLimit float64 `yaml:"quarantine_rate_limit"`
	// QuarantineBurst is how many failed requests may be stored at once
	// beyond QuarantineRateLimit.
	QuarantineBurst int `yaml:"quarantine_burst"`
	// AllowFrom lists the addresses and networks (CIDR) requests may come
	// from, such as the sender's published egress ranges; a request from
	// anywhere else is answered 403 before it is read. The address is the
	// connection's peer, so behind a proxy filter at the proxy. Empty: any.
	AllowFrom []string `yaml:"allow_from"`
}

// Secret is one accepted secret, given inline (for local use) or as the name
// of the environment variable holding it.
type Secret struct {
	Value string `yaml:"value"`
	Env   string `yaml:"secret_env"`
}

// String describes the secret without revealing it.
func (s Secret) String() string {
	if s.Env != "" {
		return "secret_env " + s.Env
	}
	return "inline secret"
}

// GoString describes the secret without revealing it, for %#v.
func (s Secret) GoString() string { return "ingest.Secret{" + s.String() + "}" }

// LogValue keeps the secret out of logs.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON writes the description, never the value, so that a source
// printed as JSON (or logged by a JSON handler) does not reveal it.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// DefaultConfig returns a configuration that runs with no file: a form
// source without a signature and a Clay source with a shared secret read
// from CLAY_WEBHOOK_SECRET (disabled until it is set). The Clay source takes
// a table's columns as the body's fields, or a row event such as
// {"event":"row_updated","row_data":{"email":...,"company_name":...}},
// whose row_data holds them.
func DefaultConfig() Config {
	return Config{
		HTTPAddr: DefaultHTTPAddr,
		Sources: []Source{
			{Name: "form", Scheme: "none", Kind: KindLead},
			{
				Name:     "clay",
				Scheme:   "shared-secret",
				Header:   signature.DefaultSharedSecretHeader,
				Secrets:  []Secret{{Env: "CLAY_WEBHOOK_SECRET"}},
				Optional: true,
				Kind:     KindLead,
				FieldsAt: "row_data",
				Mapping: map[string]string{
					"Work Email":   "email",
					"First Name":   "first_name",
					"Last Name":    "last_name",
					"Company Name": "company",
					"company_name": "company",
					"Job Title":    "title",
				},
			},
		},
		MaxInFlight:     DefaultMaxInFlight,
		PublishTimeout:  DefaultPublishTimeout,
		ShutdownTimeout: DefaultShutdownTimeout,
		MaxEventBody:    DefaultMaxBody,
	}
}

// Validate reports every problem with the configuration at once. Secrets
// named by secret_env are read from the environment.
func (c Config) Validate() error {
	_, problems := c.build(os.LookupEnv)
	return problems.Err()
}

// built is what a valid configuration prepares.
type built struct {
	sources []*source
	// access decides who may post to POST /events, and what.
	access *eventsAccess
	// cert is the certificate to serve HTTPS with, loaded while checking
	// the configuration; nil without TLS.
	cert *certificate
}

// prepare builds the configuration with the environment's secrets,
// failing with every problem at once.
func (c Config) prepare() (built, error) {
	b, problems := c.build(os.LookupEnv)
	if err := problems.Err(); err != nil {
		return built{}, fmt.Errorf("ingest: %w", err)
	}
	return b, nil
}

// build checks the configuration and prepares every source, the access
// rules of POST /events and the TLS certificate.
func (c Config) build(lookupEnv func(string) (string, bool)) (built, service.Problems) {
	var b built
	var p service.Problems
	if c.HTTPAddr == "" {
		p.Addf("http_addr is required")
	} else if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		p.Addf("http_addr %q: %v", c.HTTPAddr, err)
	}
	if c.MaxInFlight < 1 {
		p.Addf("max_in_flight %d must be at least 1", c.MaxInFlight)
	}
	if c.PublishTimeout <= 0 {
		p.Addf("publish_timeout %s must be positive", c.PublishTimeout)
	}
	if c.ShutdownTimeout <= 0 {
		p.Addf("shutdown_timeout %s must be positive", c.ShutdownTimeout)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		p.Addf("tls_cert_file and tls_key_file go together: set both or neither")
	} else if c.TLSCertFile != "" {
		cert, err := newCertificate(c.TLSCertFile, c.TLSKeyFile)
		if err != nil {
			p.Addf("%v", err)
		}
		b.cert = cert
	}
	if c.MaxEventBody < 1 {
		p.Addf("max_event_body %d must be at least 1", c.MaxEventBody)
	}
	schemes := signature.Builtin()
	seen := map[string]bool{}
	for i, s := range c.Sources {
		label := fmt.Sprintf("sources[%d]", i)
		if s.Name != "" {
			label = fmt.Sprintf("source %q", s.Name)
		}
		switch {
		case len(s.Name) > events.MaxTokenLen:
			p.Addf("%s: name is longer than %d characters", label, events.MaxTokenLen)
		case !events.ValidToken(s.Name):
			p.Addf("%s: name %q must be a subject token of lowercase letters, digits, '_' and '-'", label, s.Name)
		case seen[s.Name]:
			p.Addf("%s: declared more than once", label)
		case s.Name == RawEventsSource:
			p.Addf("%s: name %q is reserved for the events of POST /events", label, s.Name)
		}
		seen[s.Name] = true
		src, errs := newSource(s, schemes, lookupEnv)
		for _, err := range errs {
			p.Addf("%s: %v", label, err)
		}
		if src != nil {
			b.sources = append(b.sources, src)
		}
	}
	access, errs := newEventsAccess(c.Events, c.HTTPAddr, c.Sources, lookupEnv)
	for _, err := range errs {
		p.Addf("%v", err)
	}
	b.access = access
	return b, p
}

// sourceNames lists the names of the sources, for logs.
func (c Config) sourceNames() string {
	names := make([]string, 0, len(c.Sources))
	for _, s := range c.Sources {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}

// Run serves ingest on cfg.HTTPAddr until ctx is cancelled; see [Serve].
func Run(ctx context.Context, cfg Config, deps service.Deps) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("ingest: listen: %w", err)
	}
	return Serve(ctx, ln, cfg, deps)
}
