package events

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Stream names of the gtmhub topology.
const (
	StreamLeads      = "LEADS"
	StreamRecords    = "RECORDS"
	StreamRaw        = "RAW"
	StreamNotify     = "NOTIFY"
	StreamKnowledge  = "KNOWLEDGE"
	StreamDLQ        = "DLQ"
	StreamQuarantine = "QUARANTINE"
	StreamReplay     = "REPLAY"
)

// Subjects and subject prefixes of the gtmhub topology.
const (
	SubjectLeadsCaptured     = "gtm.leads.captured"
	SubjectLeadsEnriched     = "gtm.leads.enriched"
	SubjectLeadsRejected     = "gtm.leads.rejected"
	SubjectContactCreated    = "gtm.records.contact.created"
	SubjectContactUpdated    = "gtm.records.contact.updated"
	SubjectCompanyCreated    = "gtm.records.company.created"
	SubjectCompanyUpdated    = "gtm.records.company.updated"
	SubjectNotifySent        = "gtm.notify.sent"
	SubjectNotifySuppressed  = "gtm.notify.suppressed"
	SubjectKnowledgeSynced   = "gtm.knowledge.page.synced"
	SubjectKnowledgeConflict = "gtm.knowledge.page.conflict"
	SubjectRaw               = "gtm.raw"
	SubjectDLQ               = "gtm.dlq"
	SubjectQuarantine        = "gtm.quarantine"
	SubjectReplay            = "gtm.replay"
)

// ReadOnceInactive is the InactiveThreshold of an ordered consumer that
// reads a stream once, for a listing, a count or a report: the server
// removes it this long after its last read, so that it does not linger in
// gtmhub status for the five minutes nats.go gives by default.
const ReadOnceInactive = 10 * time.Second

// MaxTokenLen is the longest subject token, as the contracts catalog's
// token schema bounds source names, types and provider names.
const MaxTokenLen = 64

var tokenRE = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

// ValidToken reports whether s may be used as one subject token: 1 to
// [MaxTokenLen] lowercase letters, digits, '_' and '-'.
func ValidToken(s string) bool { return tokenRE.MatchString(s) }

// Subject joins a prefix and tokens into a subject, rejecting any token that
// is not a [ValidToken].
func Subject(prefix string, tokens ...string) (string, error) {
	for _, t := range tokens {
		if !ValidToken(t) {
			return "", fmt.Errorf("invalid subject token %q: want [a-z0-9_-]+", t)
		}
	}
	return strings.Join(append([]string{prefix}, tokens...), "."), nil
}

// DLQSubject is the dead-letter subject for a message of service that was
// published on subject.
func DLQSubject(service, subject string) string {
	return SubjectDLQ + "." + service + "." + subject
}

// StreamSpec declares one stream.
//
// Its JSON form names fields as the JetStream API does, durations in
// nanoseconds.
type StreamSpec struct {
	Name        string        `json:"name"`
	Subjects    []string      `json:"subjects"`
	MaxAge      time.Duration `json:"max_age"`
	Description string        `json:"description"`
}

// ConsumerSpec declares one durable pull consumer and how its runner treats
// failures.
// Its JSON form names fields as the JetStream API does, durations in
// nanoseconds.
type ConsumerSpec struct {
	Service       string        `json:"service"`         // owning service, the DLQ subject's second token
	Stream        string        `json:"stream"`          // stream the consumer reads
	Durable       string        `json:"durable_name"`    // "{service}" or "{service}-{purpose}"
	Filters       []string      `json:"filter_subjects"` // filter subjects
	Description   string        `json:"description"`     // shown by gtmhub status
	MaxDeliver    int           `json:"max_deliver"`     // attempts before dead-lettering; default 8
	AckWait       time.Duration `json:"ack_wait"`        // default 30s; the runner extends it while a handler runs
	MaxAckPending int           `json:"max_ack_pending"` // default 256
	// RetryFor keeps a message that fails for a reason that may pass (a
	// destination down, rate limited, its breaker open) delivered again
	// past MaxDeliver, with backoff, until this long after its first
	// delivery; 0 leaves MaxDeliver alone to decide. For a consumer whose
	// destination can be down for longer than MaxDeliver's backoff spans.
	RetryFor time.Duration `json:"retry_for"`
}

func (s ConsumerSpec) withDefaults() ConsumerSpec {
	if s.MaxDeliver <= 0 {
		s.MaxDeliver = 8
	}
	if s.AckWait <= 0 {
		s.AckWait = 30 * time.Second
	}
	if s.MaxAckPending <= 0 {
		s.MaxAckPending = 256
	}
	return s
}

// Validate reports every problem with the spec at once.
func (s ConsumerSpec) Validate() error {
	var errs []error
	if !ValidToken(s.Service) {
		errs = append(errs, fmt.Errorf("service %q is not a subject token", s.Service))
	}
	if s.Stream == "" {
		errs = append(errs, errors.New("stream is required"))
	}
	if s.Durable == "" || strings.ContainsAny(s.Durable, ". *>") {
		errs = append(errs, fmt.Errorf("durable %q must be a non-empty name without '.', '*', '>' or spaces", s.Durable))
	}
	if len(s.Filters) == 0 {
		errs = append(errs, errors.New("at least one filter subject is required"))
	}
	return errors.Join(errs...)
}

// jetstreamConfig is the server-side configuration. MaxDeliver is left
// unlimited on the server: the runner dead-letters at spec.MaxDeliver itself,
// so a message whose dead-lettering failed is redelivered rather than
// silently dropped by the server.
func (s ConsumerSpec) jetstreamConfig() jetstream.ConsumerConfig {
	s = s.withDefaults()
	return jetstream.ConsumerConfig{
		Durable:        s.Durable,
		Description:    s.Description,
		FilterSubjects: s.Filters,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        s.AckWait,
		MaxDeliver:     -1,
		MaxAckPending:  s.MaxAckPending,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		Metadata: map[string]string{
			"gtmhub.service":     s.Service,
			"gtmhub.max_deliver": fmt.Sprint(s.MaxDeliver),
			"gtmhub.retry_for":   s.RetryFor.String(),
		},
	}
}

// replaySpec is the consumer's companion on the REPLAY stream: the same
// handler, fed only by replays addressed to this consumer.
func (s ConsumerSpec) replaySpec() ConsumerSpec {
	r := s.withDefaults()
	r.Stream = StreamReplay
	r.Durable = s.Durable + "-replay"
	r.Filters = []string{ReplaySubject(s.Durable, ">")}
	r.Description = "replays for " + s.Durable
	return r
}

// ReplaySubject is where a replay addressed to the consumer durable puts a
// message originally published on subject.
func ReplaySubject(durable, subject string) string {
	return SubjectReplay + "." + durable + "." + subject
}

// Topology is the single declaration of gtmhub's streams and consumers.
type Topology struct {
	Streams   []StreamSpec
	Consumers []ConsumerSpec
}

// DefaultTopology returns the streams of the design and the consumer of every
// service.
func DefaultTopology() Topology {
	const day = 24 * time.Hour
	return Topology{
		Streams: []StreamSpec{
			{StreamLeads, []string{"gtm.leads.>"}, 30 * day, "leads captured, enriched and rejected"},
			{StreamRecords, []string{"gtm.records.>"}, 30 * day, "store change feed with field diffs"},
			{StreamRaw, []string{"gtm.raw.>"}, 7 * day, "webhooks that are not leads, verbatim"},
			{StreamNotify, []string{"gtm.notify.>"}, 30 * day, "notification decisions: sent, suppressed"},
			{StreamKnowledge, []string{"gtm.knowledge.>"}, 30 * day, "knowledge pages synced and in conflict"},
			{StreamDLQ, []string{"gtm.dlq.>"}, 30 * day, "dead letters with failure metadata"},
			{StreamQuarantine, []string{"gtm.quarantine.>"}, 14 * day, "webhooks that failed verification"},
			{StreamReplay, []string{"gtm.replay.>"}, 7 * day, "events replayed to one consumer: gtm.replay.{consumer}.{subject}"},
		},
		Consumers: []ConsumerSpec{
			{Service: "enrich", Stream: StreamLeads, Durable: "enrich", Filters: []string{SubjectLeadsCaptured + ".>"},
				// 20 deliveries with backoff span well over enrich's max_wait (10m), so
				// a lead waiting on a failing provider goes on without it rather
				// than into the DLQ.
				Description: "normalize, enrich and score captured leads", AckWait: time.Minute, MaxDeliver: 20},
			{Service: "store", Stream: StreamLeads, Durable: "store", Filters: []string{SubjectLeadsEnriched},
				Description: "upsert enriched leads into contacts and companies"},
			// A notification waits out a Slack or SMTP outage of up to a day
			// rather than going to the DLQ after MaxDeliver's few minutes.
			{Service: "notify", Stream: StreamRecords, Durable: "notify", Filters: []string{"gtm.records.>"},
				Description: "evaluate notification rules on record changes", RetryFor: 24 * time.Hour},
			{Service: "knowledge-sync", Stream: StreamKnowledge, Durable: "knowledge-sync", Filters: []string{"gtm.knowledge.command.>"},
				Description: "run a knowledge sync on demand", AckWait: 5 * time.Minute, MaxDeliver: 3},
		},
	}
}

// Consumer returns the declared consumer with the given durable name.
func (t Topology) Consumer(durable string) (ConsumerSpec, bool) {
	for _, c := range t.Consumers {
		if c.Durable == durable {
			return c.withDefaults(), true
		}
	}
	return ConsumerSpec{}, false
}

// TopologyOption adjusts how streams are created.
type TopologyOption func(*topologyOptions)

type topologyOptions struct {
	replicas        int
	duplicateWindow time.Duration
	storage         jetstream.StorageType
}

// WithReplicas sets the stream replica count (3 on a cluster). Default 1.
func WithReplicas(n int) TopologyOption { return func(o *topologyOptions) { o.replicas = n } }

// WithDuplicateWindow sets the Nats-Msg-Id de-duplication window. Default 2m.
func WithDuplicateWindow(d time.Duration) TopologyOption {
	return func(o *topologyOptions) { o.duplicateWindow = d }
}

// WithMemoryStorage keeps streams in memory instead of files.
func WithMemoryStorage() TopologyOption {
	return func(o *topologyOptions) { o.storage = jetstream.MemoryStorage }
}

// StreamConfigs returns the JetStream configuration of every stream.
func (t Topology) StreamConfigs(opts ...TopologyOption) []jetstream.StreamConfig {
	o := topologyOptions{replicas: 1, duplicateWindow: 2 * time.Minute, storage: jetstream.FileStorage}
	for _, opt := range opts {
		opt(&o)
	}
	cfgs := make([]jetstream.StreamConfig, 0, len(t.Streams))
	for _, s := range t.Streams {
		cfgs = append(cfgs, jetstream.StreamConfig{
			Name:        s.Name,
			Description: s.Description,
			Subjects:    s.Subjects,
			Retention:   jetstream.LimitsPolicy,
			Discard:     jetstream.DiscardOld,
			MaxAge:      s.MaxAge,
			Storage:     o.storage,
			Replicas:    o.replicas,
			Duplicates:  o.duplicateWindow,
		})
	}
	return cfgs
}

// Ensure creates or updates every stream and consumer of the topology. It is
// idempotent and safe to call from every service at start.
func (t Topology) Ensure(ctx context.Context, js jetstream.JetStream, opts ...TopologyOption) error {
	for _, cfg := range t.StreamConfigs(opts...) {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("ensure stream %s: %w", cfg.Name, err)
		}
	}
	for _, c := range t.Consumers {
		if _, err := js.CreateOrUpdateConsumer(ctx, c.Stream, c.jetstreamConfig()); err != nil {
			return fmt.Errorf("ensure consumer %s/%s: %w", c.Stream, c.Durable, err)
		}
	}
	return nil
}
