package enrich

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/contracts/jsonalike"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/service"
)

// Source is the CloudEvent source of every event enrich publishes.
const Source = "/gtmhub/" + Name

// OutputID returns the CloudEvent id of the enriched or rejected event
// published for the captured event with id inputID: a UUID v5 over
// "enrich:"+inputID. One capture has one outcome, so both share it.
func OutputID(inputID string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte(Name+":"+inputID)).String()
}

// EmailSubject returns the CloudEvent subject for a lead with the normalized
// email: "sha256:" and the address's SHA-256 in hex. It identifies the person
// across events without putting the address in headers and logs.
func EmailSubject(email string) string {
	sum := sha256.Sum256([]byte(email))
	return "sha256:" + hex.EncodeToString(sum[:])
}

type handler struct {
	pub      *events.Publisher
	classify *Classifier
	enricher *enricher
	scorer   *scorer
	log      *slog.Logger
	metrics  *metrics
}

// handle processes one captured lead. Undecodable data is permanent; a lead
// that fails normalization is published as rejected and acknowledged.
func (h *handler) handle(ctx context.Context, ev event.Event) error {
	if ev.Type() != contracts.TypeLeadCaptured {
		return events.Permanent(fmt.Errorf("event type %q: want %s", ev.Type(), contracts.TypeLeadCaptured))
	}
	var in contracts.LeadCaptured
	if err := jsonalike.Unmarshal(ev.Data(), &in); err != nil {
		return events.Permanent(fmt.Errorf("decode %s data: %w", ev.Type(), err))
	}

	if in.Lead.Source == "" {
		// The {source} of the subject it arrived on, which ingest judged
		// (from the gtmhubsource extension, say), else what the CloudEvent
		// source names.
		in.Lead.Source = cmp.Or(arrivedFrom(ctx), contracts.SourceToken(ev.Source()))
	}
	lead, reasons := Normalize(in.Lead, captureTime(ctx, ev), h.classify)
	if len(reasons) > 0 {
		return h.reject(ctx, ev, in.Lead, reasons)
	}
	out, err := h.enrich(ctx, ev, lead, in.Attributes)
	if err != nil {
		return err
	}
	data, err := json.Marshal(out)
	if err != nil {
		return events.Permanent(fmt.Errorf("encode enriched lead: %w", err))
	}
	reasons, err = contractReasons(contracts.TypeLeadEnriched, data)
	if err != nil {
		return err
	}
	if len(reasons) > 0 {
		return h.reject(ctx, ev, in.Lead, reasons)
	}

	next, err := newEvent(ev, contracts.TypeLeadEnriched, EmailSubject(lead.Email), data)
	if err != nil {
		return err
	}
	if err := h.pub.Publish(ctx, events.SubjectLeadsEnriched, next); err != nil {
		return fmt.Errorf("publish enriched lead: %w", err)
	}
	h.recordProviders(ctx, ev, out.Enrichment)
	h.metrics.leads.WithLabelValues("enriched").Inc()
	return nil
}

// enrich asks the providers about the normalized lead and scores it. Its
// error asks for the capture to be redelivered later.
func (h *handler) enrich(ctx context.Context, ev event.Event, lead contracts.Lead, attrs map[string]any) (contracts.LeadEnriched, error) {
	notes := h.classify.Classify(lead.Email)
	enr, err := h.enricher.enrich(ctx, Query{Email: lead.Email, Domain: lead.Domain, Lead: lead, Notes: notes})
	if err != nil {
		return contracts.LeadEnriched{}, err
	}
	if notes.Disposable && enr.EmailVerification == nil {
		enr.EmailVerification = &contracts.EmailVerification{Status: "disposable"}
	}
	h.score(ctx, ev, &lead, attrs, enr, notes)
	return contracts.LeadEnriched{Lead: lead, Enrichment: enr}, nil
}

// recordProviders counts what each provider did for a published lead and
// logs the ones skipped.
func (h *handler) recordProviders(ctx context.Context, ev event.Event, enr contracts.Enrichment) {
	for name, st := range enr.Status {
		h.metrics.providers.WithLabelValues(name, string(st.State)).Inc()
		if st.State == contracts.ProviderSkipped {
			h.log.InfoContext(ctx, "provider skipped", "event_id", ev.ID(), "provider", name, "reason", st.Reason)
		}
	}
}

// score sets the lead's fit, intent and signal scores, keeping those a
// trusted source sent. A rule that fails on this lead counts as not matched
// and is logged.
func (h *handler) score(ctx context.Context, ev event.Event, lead *contracts.Lead, attrs map[string]any,
	enr contracts.Enrichment, notes Notes) {
	sc, failed := h.scorer.score(facts(*lead, attrs, enr, notes))
	for _, err := range failed {
		h.log.WarnContext(ctx, "scoring rule failed", "event_id", ev.ID(), "err", err)
	}
	sc = h.scorer.keepSent(sc, *lead, arrivedFrom(ctx))
	lead.FitScore, lead.IntentScore, lead.SignalScore = &sc.Fit, &sc.Intent, &sc.Signal
}

// reject publishes the lead as it arrived with the reasons it was refused.
// Its subject is the hash of the trimmed, lowercased email when there is one,
// else the capture's subject.
func (h *handler) reject(ctx context.Context, ev event.Event, lead contracts.Lead, reasons []contracts.Reason) error {
	data, err := json.Marshal(contracts.LeadRejected{Lead: lead, Reasons: reasons})
	if err != nil {
		return events.Permanent(fmt.Errorf("encode rejected lead: %w", err))
	}
	subject := ev.Subject()
	if email := strings.ToLower(strings.TrimSpace(lead.Email)); email != "" {
		subject = EmailSubject(email)
	}
	next, err := newEvent(ev, contracts.TypeLeadRejected, subject, data)
	if err != nil {
		return err
	}
	if err := h.pub.Publish(ctx, events.SubjectLeadsRejected, next); err != nil {
		return fmt.Errorf("publish rejected lead: %w", err)
	}
	codes := make([]string, len(reasons))
	for i, r := range reasons {
		codes[i] = r.Field + ":" + r.Code
	}
	h.log.InfoContext(ctx, "lead rejected", "event_id", ev.ID(), "output_id", next.ID(), "reasons", codes)
	h.metrics.leads.WithLabelValues("rejected").Inc()
	return nil
}

// newEvent builds the outcome of the captured event in: deterministic id,
// the capture's time, and subject (left out when empty).
func newEvent(in event.Event, typ, subject string, data []byte) (event.Event, error) {
	out := event.New()
	out.SetID(OutputID(in.ID()))
	out.SetSource(Source)
	out.SetType(typ)
	if subject != "" {
		out.SetSubject(subject)
	}
	if !in.Time().IsZero() {
		out.SetTime(in.Time())
	}
	if e, ok := contracts.Lookup(typ); ok {
		out.SetDataSchema(e.DataSchema)
	}
	if err := out.SetData(event.ApplicationJSON, data); err != nil {
		return event.Event{}, fmt.Errorf("set %s data: %w", typ, err)
	}
	return out, nil
}

// arrivedFrom is the {source} token of the subject the capture arrived on
// (gtm.leads.captured.{source}, which ingest gives only a source that
// verified it), or "" when there is no delivery.
func arrivedFrom(ctx context.Context) string {
	d, ok := events.DeliveryFrom(ctx)
	if !ok {
		return ""
	}
	return d.Subject[strings.LastIndexByte(d.Subject, '.')+1:]
}

// captureTime is when the lead was captured: the event's time, or when the
// stream stored it, which is the same on every redelivery.
func captureTime(ctx context.Context, ev event.Event) time.Time {
	if t := ev.Time(); !t.IsZero() {
		return t
	}
	d, _ := events.DeliveryFrom(ctx)
	return d.Published
}

// contractReasons validates data against typ's schema and turns each
// violation of a lead field into a reason. A violation elsewhere, or a
// failure to validate at all, is a bug here and dead-letters the capture.
func contractReasons(typ string, data []byte) ([]contracts.Reason, error) {
	err := contracts.Validate(typ, data)
	var verr *contracts.ValidationError
	switch {
	case err == nil:
		return nil, nil
	case !errors.As(err, &verr):
		return nil, fmt.Errorf("validate %s: %w", typ, err)
	}
	reasons := make([]contracts.Reason, 0, len(verr.Fields))
	for _, f := range verr.Fields {
		field, rest, _ := strings.Cut(strings.TrimPrefix(f.Pointer, "/"), "/")
		if rest != "" || !isLeadField(field) {
			return nil, events.Permanent(fmt.Errorf("enriched lead breaks its contract: %w", err))
		}
		reasons = append(reasons, contracts.Reason{Field: field, Code: CodeInvalidValue,
			Message: field + " " + f.Message})
	}
	return reasons, nil
}

// isLeadField reports whether name is a top-level field of [contracts.Lead].
func isLeadField(name string) bool {
	switch name {
	case "email", "first_name", "last_name", "company", "status", "created_at", "domain",
		"title", "phone", "source", "signal_score", "intent_score", "fit_score":
		return true
	}
	return false
}

// metrics are enrich's own counters.
type metrics struct {
	leads     *prometheus.CounterVec // by outcome
	providers *prometheus.CounterVec // by provider and state
}

// newMetrics registers gtmhub_enrich_leads_total and
// gtmhub_enrich_provider_results_total, or reuses them when a previous Run
// registered them with the same registry.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	leads, err := counterVec(reg, prometheus.CounterOpts{
		Namespace: "gtmhub", Subsystem: Name, Name: "leads_total",
		Help: "Captured leads handled by enrich, by outcome (enriched, rejected).",
	}, "outcome")
	if err != nil {
		return nil, err
	}
	providers, err := counterVec(reg, prometheus.CounterOpts{
		Namespace: "gtmhub", Subsystem: Name, Name: "provider_results_total",
		Help: "Enriched leads by provider and what it did (done, cached, skipped).",
	}, "provider", "state")
	if err != nil {
		return nil, err
	}
	return &metrics{leads: leads, providers: providers}, nil
}

func counterVec(reg prometheus.Registerer, opts prometheus.CounterOpts, labels ...string) (*prometheus.CounterVec, error) {
	return service.Registered(reg, prometheus.NewCounterVec(opts, labels))
}
