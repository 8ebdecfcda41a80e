package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/net/publicsuffix"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/contracts/jsonalike"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/service"
)

// recordStore is the database as the writer and the relay use it.
type recordStore interface {
	// Update runs fn in one transaction, committed when fn returns nil.
	Update(ctx context.Context, fn func(tx recordTx) error) error
	// PendingFor returns the outbox entries of one input event.
	PendingFor(ctx context.Context, inputID string) ([]outboxEntry, error)
	// PendingBefore returns up to limit outbox entries created no later
	// than before, oldest first.
	PendingBefore(ctx context.Context, before time.Time, limit int) ([]outboxEntry, error)
	// Done removes published outbox entries.
	Done(ctx context.Context, seqs ...int64) error
}

// recordTx is one transaction of a recordStore.
type recordTx interface {
	// MarkProcessed records that the write of the event eventID is in this
	// transaction, and returns false, changing nothing, if a write of it
	// committed before or is already in this transaction.
	MarkProcessed(ctx context.Context, eventID, subject string, at time.Time) (bool, error)
	// Load reads the record with the given key and its provenance.
	Load(ctx context.Context, s *recordSchema, key string) (record, bool, error)
	// Save inserts or replaces the record with its provenance.
	Save(ctx context.Context, s *recordSchema, r record) error
	// Enqueue adds a change event to the outbox and returns its sequence.
	Enqueue(ctx context.Context, e outboxEntry) (int64, error)
	// Remove removes published outbox entries; removing one twice is not
	// an error.
	Remove(ctx context.Context, seqs ...int64) error
	// AddActivity records that an event touched a contact; recording the
	// same event for the same contact again changes nothing.
	AddActivity(ctx context.Context, email string, a Activity) error
	// ForgetProcessed forgets up to limit of the events processed before
	// before, oldest first, and returns how many it forgot.
	ForgetProcessed(ctx context.Context, before time.Time, limit int) (int64, error)
}

// writer applies enriched leads to the store.
type writer struct {
	store recordStore
	relay *relay
	prop  propagation.TextMapPropagator
	now   func() time.Time
	// tracer, when set, records each database transaction as a span of
	// the lead's trace, on dbSystem ("sqlite" or "postgresql").
	tracer   trace.Tracer
	dbSystem string
	log      *slog.Logger
	// stale counts, by record kind and field, the values that arrived
	// older than the one stored and were not applied; nil counts nothing.
	stale *prometheus.CounterVec
}

// handle stores one lead.enriched event and publishes the change events its
// write produced. Data that can never be stored is permanent; database and
// publish failures are returned for a retry, which does not write twice but
// publishes what is still in the outbox. While the database cannot be
// reached, the write waits in the store (the batcher holds it) rather than
// fail.
func (w *writer) handle(ctx context.Context, ev event.Event) error {
	in, err := decodeLead(ctx, ev)
	if err != nil {
		return err
	}
	var rec *enqueued
	err = w.transaction(ctx, func(tx recordTx) error {
		rec = &enqueued{recordTx: tx} // afresh each run: a failed batch runs fn again
		return w.apply(ctx, rec, in)
	})
	if err != nil {
		return fmt.Errorf("store event %s: %w", in.id, err)
	}
	w.conflicts(ctx, in.id, rec.stale)
	if len(rec.entries) > 0 {
		return w.relay.publish(ctx, rec.entries)
	}
	// Nothing enqueued now: the event may have been written before, its
	// change events left in the outbox by a failed publish.
	return w.relay.publishFor(ctx, in.id)
}

// enqueued is a transaction that keeps what it adds to the outbox, so that
// its handler publishes the change events without reading them back, and
// the values last-writer-wins did not apply, which its handler reports once
// the transaction has committed.
type enqueued struct {
	recordTx
	entries []outboxEntry
	stale   []staleValues
}

// staleValues are the fields of one record where a write lost to a newer
// stored value, with the events that hold them.
type staleValues struct {
	record string // "contact" or "company"
	fields []string
	kept   []string // the event id holding each field
	at     time.Time
}

func (e *enqueued) Enqueue(ctx context.Context, entry outboxEntry) (int64, error) {
	seq, err := e.recordTx.Enqueue(ctx, entry)
	if err == nil {
		entry.seq = seq
		e.entries = append(e.entries, entry)
	}
	return seq, err
}

// transaction runs fn in one database transaction, traced as a client span.
func (w *writer) transaction(ctx context.Context, fn func(tx recordTx) error) error {
	if w.tracer == nil {
		return w.store.Update(ctx, fn)
	}
	ctx, span := w.tracer.Start(ctx, "upsert lead", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(semconv.DBSystemNameKey.String(w.dbSystem), semconv.DBOperationName("upsert")))
	defer span.End()
	err := w.store.Update(ctx, fn)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "transaction failed")
	}
	return err
}

// apply writes in within tx unless its write committed before: the event
// id, the contact, the company when the lead names a domain, and a change
// event in the outbox for each record that changed.
func (w *writer) apply(ctx context.Context, tx *enqueued, in leadEvent) error {
	now := w.now().UTC()
	fresh, err := tx.MarkProcessed(ctx, in.id, in.subject, now)
	if err != nil || !fresh {
		return err
	}
	cw := in.contactWrite()
	if err := w.upsert(ctx, tx, contactSchema, cw, in.id, now); err != nil {
		return err
	}
	if err := tx.AddActivity(ctx, cw.key, in.activity()); err != nil {
		return err
	}
	if cw, ok := in.companyWrite(); ok {
		if err := w.upsert(ctx, tx, companySchema, cw, in.id, now); err != nil {
			return err
		}
	}
	return nil
}

// upsert merges one write into its record and enqueues the change event.
func (w *writer) upsert(ctx context.Context, tx *enqueued, s *recordSchema, wr write, inputID string, now time.Time) error {
	cur, found, err := tx.Load(ctx, s, wr.key)
	if err != nil {
		return err
	}
	m := s.merge(cur, found, wr)
	if len(m.stale) > 0 {
		st := staleValues{record: s.name, fields: m.stale, at: wr.at}
		for _, f := range m.stale {
			st.kept = append(st.kept, m.rec.prov[f].EventID)
		}
		tx.stale = append(tx.stale, st)
	}
	if !m.dirty() {
		return nil
	}
	if err := tx.Save(ctx, s, m.rec); err != nil {
		return err
	}
	if len(m.changes) == 0 {
		return nil
	}
	ev, subject, err := changeEvent(s, m, inputID, now)
	if err != nil {
		return err
	}
	events.InjectTrace(ctx, w.prop, &ev)
	_, err = tx.Enqueue(ctx, outboxEntry{inputID: inputID, subject: subject, event: ev, createdAt: now})
	return err
}

// conflicts reports the values event id's committed write did not apply,
// a newer one being held: a count per record and field, and a line naming
// the fields and both events (no values, which may be personal data).
func (w *writer) conflicts(ctx context.Context, id string, stale []staleValues) {
	for _, st := range stale {
		for _, f := range st.fields {
			if w.stale != nil {
				w.stale.WithLabelValues(st.record, f).Inc()
			}
		}
		if w.log != nil {
			w.log.InfoContext(ctx, "older values not applied", "record", st.record, "fields", st.fields,
				"event_id", id, "event_time", st.at, "kept_event_ids", st.kept)
		}
	}
}

// newStaleCounter registers gtmhub_store_stale_values_total.
func newStaleCounter(reg prometheus.Registerer) (*prometheus.CounterVec, error) {
	return service.Registered(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gtmhub", Subsystem: Name, Name: "stale_values_total",
		Help: "Values not applied because the record holds a newer one (last-writer-wins), by record and field.",
	}, []string{"record", "field"}))
}

// ChangeEventID returns the CloudEvent id of the change event that the input
// event inputID caused on a record of the given kind ("contact" or
// "company"): a UUID v5 over "store:"+kind+":"+inputID.
func ChangeEventID(kind, inputID string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte(Name+":"+kind+":"+inputID)).String()
}

// EmailSubject returns the CloudEvent subject of a contact's change events:
// "sha256:" and the SHA-256 of the email in hex, which identifies the
// contact without putting the address in headers and logs.
func EmailSubject(email string) string {
	sum := sha256.Sum256([]byte(email))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// changeEvent builds the created or updated event of a merged record and
// returns it with the subject to publish it on.
func changeEvent(s *recordSchema, m merged, inputID string, now time.Time) (event.Event, string, error) {
	var (
		typ, subject, ceSubject string
		data                    any
	)
	switch s {
	case contactSchema:
		c := contactFromRecord(m.rec)
		data = contracts.ContactChanged{Contact: c.Record(), Changes: m.changes, Provenance: m.rec.prov}
		typ, subject = contracts.TypeContactUpdated, events.SubjectContactUpdated
		if m.created {
			typ, subject = contracts.TypeContactCreated, events.SubjectContactCreated
		}
		ceSubject = EmailSubject(c.Email)
	case companySchema:
		c := companyFromRecord(m.rec)
		data = contracts.CompanyChanged{Company: c.Record(), Changes: m.changes, Provenance: m.rec.prov}
		typ, subject = contracts.TypeCompanyUpdated, events.SubjectCompanyUpdated
		if m.created {
			typ, subject = contracts.TypeCompanyCreated, events.SubjectCompanyCreated
		}
		ceSubject = c.Domain
	default:
		return event.Event{}, "", fmt.Errorf("no change events for %s", s.name)
	}
	ev := event.New()
	ev.SetID(ChangeEventID(s.name, inputID))
	ev.SetSource(Source)
	ev.SetType(typ)
	ev.SetSubject(ceSubject)
	ev.SetTime(now)
	if e, ok := contracts.Lookup(typ); ok {
		ev.SetDataSchema(e.DataSchema)
	}
	if err := ev.SetData(event.ApplicationJSON, data); err != nil {
		return event.Event{}, "", fmt.Errorf("encode %s: %w", typ, err)
	}
	return ev, subject, nil
}

// leadEvent is a lead.enriched event, decoded and checked.
type leadEvent struct {
	id      string
	typ     string
	subject string    // the NATS subject it arrived on
	at      time.Time // event time: the write's place in last-writer-wins
	// producer names the service that published it, the last element of
	// its CloudEvent source: the provenance of the values it computed.
	producer string
	lead     contracts.LeadEnriched
}

// errNoEmail is the reason a lead without an email cannot be stored.
var errNoEmail = errors.New("lead has no email: contacts are keyed by email")

// decodeLead checks and decodes a lead.enriched event. Anything that could
// never be stored is permanent.
func decodeLead(ctx context.Context, ev event.Event) (leadEvent, error) {
	if ev.Type() != contracts.TypeLeadEnriched {
		return leadEvent{}, events.Permanent(fmt.Errorf("event type %q: want %s", ev.Type(), contracts.TypeLeadEnriched))
	}
	if err := contracts.Validate(contracts.TypeLeadEnriched, ev.Data()); err != nil {
		var verr *contracts.ValidationError
		if errors.As(err, &verr) || errors.Is(err, contracts.ErrInvalidJSON) {
			return leadEvent{}, events.Permanent(err)
		}
		return leadEvent{}, fmt.Errorf("validate %s: %w", ev.Type(), err)
	}
	in := leadEvent{id: ev.ID(), typ: ev.Type(), subject: events.SubjectLeadsEnriched, at: ev.Time(), producer: producer(ev.Source())}
	if err := jsonalike.Unmarshal(ev.Data(), &in.lead); err != nil {
		return leadEvent{}, events.Permanent(fmt.Errorf("decode %s data: %w", ev.Type(), err))
	}
	if normalizeEmail(in.lead.Email) == "" {
		return leadEvent{}, events.Permanent(errNoEmail)
	}
	if d, ok := events.DeliveryFrom(ctx); ok {
		in.subject = d.Subject
		if in.at.IsZero() {
			in.at = d.Published // the same on every redelivery
		}
	}
	if in.at.IsZero() {
		return leadEvent{}, events.Permanent(errors.New("event has no time: last-writer-wins needs one"))
	}
	in.at = in.at.UTC()
	return in, nil
}

// contactWrite is what the event says about its contact.
func (in leadEvent) contactWrite() write {
	l := in.lead.Lead
	source := cmp.Or(l.Source, in.producer)
	w := in.newWrite(normalizeEmail(l.Email), source)
	w.createdAt = in.at
	if l.CreatedAt != nil && l.CreatedAt.Before(in.at) {
		w.createdAt = l.CreatedAt.UTC()
	}
	w.text("first_name", l.FirstName, source)
	w.text("last_name", l.LastName, source)
	w.text("company", l.Company, source)
	w.text("domain", cmp.Or(registrableDomain(l.Domain), normalizeDomain(l.Domain)), source)
	w.text("title", l.Title, source)
	w.text("phone", l.Phone, source)
	w.text("status", l.Status, source)
	w.text("source", l.Source, source)
	w.number("signal_score", l.SignalScore, in.producer)
	w.number("intent_score", l.IntentScore, in.producer)
	w.number("fit_score", l.FitScore, in.producer)
	return w
}

// activity is the event as an activity of its contact.
func (in leadEvent) activity() Activity {
	return Activity{EventID: in.id, Type: in.typ, Source: cmp.Or(in.lead.Source, in.producer), Time: in.at}
}

// companyWrite is what the event says about the lead's company: the name
// the lead gave and the profile enrichment found. The company is keyed by
// the registrable domain, so www.acme.com and eu.acme.com are one company;
// there is none without a domain, or for a domain that is a public suffix.
// A profile found for another domain is left out.
func (in leadEvent) companyWrite() (write, bool) {
	l, prof := in.lead.Lead, in.lead.Enrichment.Company
	domain := registrableDomain(l.Domain)
	if domain == "" && prof != nil {
		domain = registrableDomain(prof.Domain)
	}
	if domain == "" {
		return write{}, false
	}
	source := cmp.Or(l.Source, in.producer)
	w := in.newWrite(domain, source)
	w.createdAt = in.at
	if prof != nil && (prof.Domain == "" || registrableDomain(prof.Domain) == domain) {
		w.text("name", prof.Name, in.producer)
		w.text("industry", prof.Industry, in.producer)
		if prof.Employees != nil {
			w.values["employees"], w.sources["employees"] = int64(*prof.Employees), in.producer
		}
		w.text("country", prof.Country, in.producer)
		w.text("city", prof.City, in.producer)
		w.text("website", prof.Website, in.producer)
		w.text("description", prof.Description, in.producer)
	}
	if _, named := w.values["name"]; !named {
		w.text("name", l.Company, source)
	}
	return w, true
}

func (in leadEvent) newWrite(key, keySource string) write {
	return write{key: key, keySource: keySource, eventID: in.id, at: in.at,
		values: map[string]any{}, sources: map[string]string{}}
}

// text sets a text value unless it is blank.
func (w *write) text(field, v, source string) {
	if v = strings.TrimSpace(v); v != "" {
		w.values[field], w.sources[field] = v, source
	}
}

// number sets a number value unless it is nil.
func (w *write) number(field string, v *float64, source string) {
	if v != nil {
		w.values[field], w.sources[field] = *v, source
	}
}

func normalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func normalizeDomain(s string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
}

// registrableDomain returns the domain that owns s, one label under its
// public suffix (acme.co.uk for www.acme.co.uk), or "" when s has none.
func registrableDomain(s string) string {
	d := normalizeDomain(s)
	if d == "" {
		return ""
	}
	r, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return ""
	}
	return r
}

// producer returns the last element of a CloudEvent source such as
// /gtmhub/enrich, or the whole source when it has no path.
func producer(source string) string {
	p := path.Base(strings.TrimRight(source, "/"))
	if p == "." || p == "/" || p == "" {
		p = source
	}
	if len(p) > 128 {
		p = p[:128]
	}
	return cmp.Or(p, "unknown")
}
