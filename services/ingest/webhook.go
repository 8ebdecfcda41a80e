package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/services/ingest/internal/payload"
	"github.com/gtmhub/gtmhub/services/ingest/internal/signature"
)

// webhook serves POST /webhooks/{source}.
func (h *handler) webhook(w http.ResponseWriter, r *http.Request) (accepted, error) {
	name := r.PathValue("source")
	src, ok := h.sources[name]
	if !ok {
		return accepted{}, &apiError{Status: http.StatusNotFound, Message: fmt.Sprintf("unknown source %q", name)}
	}
	if src.disabled != "" {
		return accepted{}, &apiError{Status: http.StatusServiceUnavailable, RetryAfter: retryDisabled,
			Message: fmt.Sprintf("source %q is not ready: %s", name, src.disabled)}
	}
	if src.limiter != nil {
		if err := allow(src); err != nil {
			return accepted{}, err
		}
	}
	body, err := readBody(w, r, src.MaxBody)
	if err != nil {
		return accepted{}, err
	}
	received := time.Now()
	if err := src.verifier.Verify(&signature.Request{Method: r.Method, URL: r.URL, Header: r.Header,
		Body: body, Received: received}); err != nil {
		return accepted{}, h.quarantine(r, src, body, err, received)
	}
	id := eventID(src, r.Header)
	if src.Kind == KindRaw {
		return h.acceptRaw(r, src, body, id)
	}
	return h.acceptLead(r, src, body, id)
}

// allow applies the source's rate limit.
func allow(src *source) error {
	res := src.limiter.Reserve()
	if res.OK() && res.Delay() == 0 {
		return nil
	}
	wait := time.Second
	if res.OK() {
		wait = res.Delay()
		res.Cancel()
	}
	return &apiError{Status: http.StatusTooManyRequests, RetryAfter: wait,
		Message: fmt.Sprintf("source %q accepts at most %g requests per second; retry later", src.Name, src.RateLimit)}
}

// readBody reads at most limit bytes of the request body.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	tooBig := &apiError{Status: http.StatusRequestEntityTooLarge,
		Message: fmt.Sprintf("the body exceeds the limit of %d bytes", limit)}
	if r.ContentLength > limit {
		return nil, tooBig
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		return nil, tooBig
	case err != nil:
		return nil, &apiError{Status: http.StatusBadRequest, Message: "the body could not be read", Err: err}
	}
	return body, nil
}

// eventID is the CloudEvent id of a webhook: derived from the sender's
// delivery id when the request carries one, so that a retried delivery gets
// the same id and JetStream stores it once, and random otherwise.
func eventID(src *source, header http.Header) string {
	for _, name := range src.DeliveryIDHeaders {
		if key := strings.TrimSpace(header.Get(name)); key != "" {
			return DeliveryEventID(src.Name, key)
		}
	}
	if id, err := uuid.NewV7(); err == nil {
		return id.String()
	}
	return uuid.NewString()
}

// DeliveryEventID is the CloudEvent id ingest gives a webhook of source
// carrying the delivery id key: a UUID v5 over a URL naming the delivery.
func DeliveryEventID(source, key string) string {
	name := "https://gtmhub.dev/ingest/" + url.PathEscape(source) + "/deliveries/" + url.PathEscape(key)
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte(name)).String()
}

// newEvent returns the CloudEvent of a webhook accepted from src.
func newEvent(id, typ string, src *source, data []byte) event.Event {
	ev := event.New()
	ev.SetID(id)
	ev.SetType(typ)
	ev.SetSource(src.ceSource)
	ev.SetTime(time.Now().UTC())
	if e, ok := contracts.Lookup(typ); ok {
		ev.SetDataSchema(e.DataSchema)
	}
	ev.DataEncoded = data
	ev.SetDataContentType(event.ApplicationJSON)
	return ev
}

// acceptLead maps a lead source's body onto a lead and publishes it.
func (h *handler) acceptLead(r *http.Request, src *source, body []byte, id string) (accepted, error) {
	fields, err := payload.Decode(r.Header.Get("Content-Type"), body)
	switch {
	case errors.Is(err, payload.ErrUnsupportedMediaType):
		return accepted{}, &apiError{Status: http.StatusUnsupportedMediaType, Message: err.Error()}
	case err != nil:
		return accepted{}, &apiError{Status: http.StatusBadRequest, Message: err.Error()}
	}
	data, err := buildLead(src, fields)
	if err != nil {
		return accepted{}, err
	}
	return h.publish(r.Context(), src.leadSubject(), newEvent(id, contracts.TypeLeadCaptured, src, data))
}

// buildLead maps fields onto a lead and validates it against its contract,
// returning the event data or a 422 listing every problem.
func buildLead(src *source, fields payload.Fields) ([]byte, error) {
	lead, problems := src.mapper.Map(fields, src.Name)
	data, err := json.Marshal(lead)
	if err != nil {
		return nil, fmt.Errorf("marshal lead: %w", err)
	}
	err = contracts.Validate(contracts.TypeLeadCaptured, data)
	var verr *contracts.ValidationError
	switch {
	case errors.As(err, &verr):
		problems = mergeFields(problems, verr.Fields, src.mapper)
	case err != nil:
		return nil, fmt.Errorf("validate lead: %w", err)
	}
	if len(problems) > 0 {
		return nil, &apiError{Status: http.StatusUnprocessableEntity, Fields: problems,
			Message: fmt.Sprintf("the lead does not satisfy the %s contract", contracts.TypeLeadCaptured)}
	}
	return data, nil
}

// mergeFields adds the schema's findings to the mapper's, keeping the
// mapper's where both speak of the same field (a value that could not be
// converted is also missing), and names the sender's field where a mapping
// renamed it.
func mergeFields(mapped, schema []contracts.FieldError, m *payload.LeadMapper) []contracts.FieldError {
	out := slices.Clone(mapped)
	for _, f := range schema {
		if slices.ContainsFunc(mapped, func(g contracts.FieldError) bool { return g.Pointer == f.Pointer }) {
			continue
		}
		field, _, _ := strings.Cut(strings.TrimPrefix(f.Pointer, "/"), "/")
		if from, ok := m.SourceField(field); ok {
			f.Message += fmt.Sprintf(" (from field %q)", from)
		}
		out = append(out, f)
	}
	slices.SortStableFunc(out, func(a, b contracts.FieldError) int { return strings.Compare(a.Pointer, b.Pointer) })
	return out
}

// acceptRaw publishes a raw source's request as a webhook.received event.
func (h *handler) acceptRaw(r *http.Request, src *source, body []byte, id string) (accepted, error) {
	typ := rawType(src, r.Header, body)
	rec := contracts.WebhookReceived{Source: src.Name, Type: typ, Headers: redactHeaders(r.Header, src.secretHeaders)}
	switch {
	case len(body) == 0:
	case json.Valid(body):
		rec.Body = body
	default:
		rec.BodyBase64 = body
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return accepted{}, fmt.Errorf("marshal webhook: %w", err)
	}
	err = contracts.Validate(contracts.TypeWebhookReceived, data)
	var verr *contracts.ValidationError
	switch {
	case errors.As(err, &verr):
		return accepted{}, &apiError{Status: http.StatusUnprocessableEntity, Fields: verr.Fields,
			Message: fmt.Sprintf("the webhook does not satisfy the %s contract", contracts.TypeWebhookReceived)}
	case err != nil:
		return accepted{}, fmt.Errorf("validate webhook: %w", err)
	}
	subject, err := events.Subject(events.SubjectRaw, src.Name, typ)
	if err != nil {
		return accepted{}, err
	}
	ev := newEvent(id, contracts.TypeWebhookReceived, src, data)
	ev.SetSubject(typ)
	return h.publish(r.Context(), subject, ev)
}

// rawType reads a raw webhook's event type from the configured header, then
// the configured JSON field, reduced to a subject token.
func rawType(src *source, header http.Header, body []byte) string {
	if src.TypeHeader != "" {
		if t := payload.Token(header.Get(src.TypeHeader)); t != "" {
			return t
		}
	}
	if t := payload.Token(payload.StringAt(body, src.TypeField)); t != "" {
		return t
	}
	return DefaultRawType
}

// redactHeaders copies header, replacing the values of headers that carry
// credentials with [REDACTED].
func redactHeaders(header http.Header, secret map[string]bool) http.Header {
	out := make(http.Header, len(header))
	for k, vs := range header {
		if secret[k] || credentialHeader(k) {
			redacted := make([]string, len(vs))
			for i := range redacted {
				redacted[i] = "[REDACTED]"
			}
			out[k] = redacted
			continue
		}
		out[k] = slices.Clone(vs)
	}
	return out
}

// credentialHeader reports whether a header named so usually carries a
// credential, whatever the scheme.
func credentialHeader(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "authorization", "proxy-authorization", "cookie", "set-cookie":
		return true
	}
	for _, s := range []string{"secret", "token", "signature", "password", "api-key", "apikey", "auth"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// quarantine stores a request that failed verification and returns the 401
// to answer. A failure to store it is logged; the caller still gets 401.
func (h *handler) quarantine(r *http.Request, src *source, body []byte, reason error, received time.Time) error {
	msg := QuarantineMsg(src.Name, r, body, reason.Error(), received)
	e := &apiError{Status: http.StatusUnauthorized, EventID: msg.Header.Get(events.HeaderMsgID),
		Message: "verification failed: " + reason.Error()}
	if err := h.publishMsg(context.WithoutCancel(r.Context()), msg); err != nil {
		e.Err, e.Alert = fmt.Errorf("quarantine: %w", err), true
	}
	return e
}
