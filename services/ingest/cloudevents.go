package ingest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
)

// SourceExtension is the CloudEvent extension that picks the {source}
// subject token of an event sent to POST /events whose data has no source
// field.
const SourceExtension = "gtmhubsource"

// DefaultEventsSource is the {source} token of an event sent to POST /events
// whose data, extension and CloudEvent source name none.
const DefaultEventsSource = "events"

// Media types of the CloudEvents HTTP binding's structured and batch modes.
const (
	MediaCloudEvents      = "application/cloudevents+json"
	MediaCloudEventsBatch = "application/cloudevents-batch+json"
)

// RawEventsSource is the {source} token of events of types outside the
// contracts catalog sent to POST /events: they are published on
// gtm.raw.events.{type as a token}.
const RawEventsSource = "events"

// gtmhubTypePrefix starts the types of the contracts catalog; a type with it
// that the catalog lacks is refused rather than treated as raw.
const gtmhubTypePrefix = "com.gtmhub."

// requiredAttributes are the attributes every CloudEvent must have.
var requiredAttributes = []string{"id", "source", "specversion", "type"}

// cloudEvent serves POST /events: one CloudEvent in binary or structured
// HTTP mode, or a batch, each published on the subject of its type as it
// was received.
func (h *handler) cloudEvent(w http.ResponseWriter, r *http.Request) (accepted, error) {
	if err := h.events.authorize(r.Header); err != nil {
		return accepted{}, err
	}
	body, err := readBody(w, r, h.maxEventBody)
	if err != nil {
		return accepted{}, err
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case mt == MediaCloudEventsBatch:
		return h.cloudEventBatch(r.Context(), body)
	case mt == MediaCloudEvents:
		ev, err := structuredEvent(body)
		if err != nil {
			return accepted{}, err
		}
		return h.publishCloudEvent(r.Context(), ev)
	case strings.HasPrefix(mt, "application/cloudevents"):
		return accepted{}, &apiError{Status: http.StatusUnsupportedMediaType,
			Message: fmt.Sprintf("content type %q: send %s, %s or a binary-mode event", mt, MediaCloudEvents, MediaCloudEventsBatch)}
	}
	ev, err := binaryEvent(r, body)
	if err != nil {
		return accepted{}, err
	}
	return h.publishCloudEvent(r.Context(), ev)
}

// binaryEvent reads a binary-mode event: attributes in ce- headers, the
// body as its data.
func binaryEvent(r *http.Request, body []byte) (*event.Event, error) {
	if !hasCEHeaders(r.Header) {
		return nil, badRequest("not a CloudEvent: send ce-* headers (binary mode) or Content-Type: "+MediaCloudEvents+
			" (structured mode) or "+MediaCloudEventsBatch+" (batch mode)", nil)
	}
	var missing []string
	for _, a := range requiredAttributes {
		if strings.TrimSpace(r.Header.Get("Ce-"+a)) == "" {
			missing = append(missing, a)
		}
	}
	if len(missing) > 0 {
		return nil, missingAttributes(missing, "ce-")
	}
	header, err := decodeCEHeaders(r.Header)
	if err != nil {
		return nil, err
	}
	ev, err := binding.ToEvent(r.Context(), cehttp.NewMessage(header, io.NopCloser(bytes.NewReader(body))))
	if err != nil {
		return nil, badRequest("invalid CloudEvent", err)
	}
	return ev, nil
}

// decodeCEHeaders returns a copy of h whose ce- header values are
// percent-decoded once, as the HTTP binding (1.0.2, 3.1.3.2) requires of a
// receiver; sdk-go's HTTP message reader takes them verbatim. A value that
// is not valid percent-encoded UTF-8 is a 400 naming its attribute.
func decodeCEHeaders(h http.Header) (http.Header, error) {
	out := h.Clone()
	for k, vs := range out {
		if len(k) <= 3 || !strings.EqualFold(k[:3], "ce-") {
			continue
		}
		for i, v := range vs {
			d, err := url.PathUnescape(v)
			if err == nil && !utf8.ValidString(d) {
				err = errors.New("the percent-decoded value is not UTF-8")
			}
			if err != nil {
				name := strings.ToLower(k[3:])
				e := badRequest("invalid CloudEvent: header "+k+" is not percent-encoded UTF-8", err)
				e.Details = []Detail{{Attribute: name, Message: "is not percent-encoded UTF-8"}}
				return nil, e
			}
			vs[i] = d
		}
	}
	return out, nil
}

func hasCEHeaders(h http.Header) bool {
	for k := range h {
		if len(k) > 3 && strings.EqualFold(k[:3], "ce-") {
			return true
		}
	}
	return false
}

// structuredEvent reads one event in the JSON event format.
func structuredEvent(body []byte) (*event.Event, error) {
	var attrs map[string]json.RawMessage
	if err := json.Unmarshal(body, &attrs); err != nil {
		return nil, badRequest("invalid CloudEvent: a structured event is one JSON object", err)
	}
	var missing []string
	for _, a := range requiredAttributes {
		v, ok := attrs[a]
		if s := strings.TrimSpace(string(v)); !ok || s == "null" || s == `""` {
			missing = append(missing, a)
		}
	}
	if len(missing) > 0 {
		return nil, missingAttributes(missing, "")
	}
	ev := event.New()
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, badRequest("invalid CloudEvent", err)
	}
	return &ev, nil
}

// missingAttributes is the 400 naming every missing required attribute.
func missingAttributes(names []string, prefix string) *apiError {
	e := &apiError{Status: http.StatusBadRequest,
		Message: "invalid CloudEvent: missing required attributes " + prefix + strings.Join(names, ", "+prefix)}
	for _, n := range names {
		e.Details = append(e.Details, Detail{Attribute: n, Message: "is required"})
	}
	return e
}

// publishCloudEvent validates ev and publishes it on the subject of its
// type: the catalog's subject for com.gtmhub types that events.types lists,
// unless it names a verified source, validated against their contract;
// gtm.raw.events.{type} for the types of other producers.
func (h *handler) publishCloudEvent(ctx context.Context, ev *event.Event) (accepted, error) {
	if err := ev.Validate(); err != nil {
		return accepted{}, badRequest("invalid CloudEvent", err)
	}
	entry, known := contracts.Lookup(ev.Type())
	if !known {
		if strings.HasPrefix(ev.Type(), gtmhubTypePrefix) {
			return accepted{}, &apiError{Status: http.StatusUnprocessableEntity,
				Message: fmt.Sprintf("unknown event type %q: see the contracts catalog (gtmhub contracts)", ev.Type())}
		}
		subject, err := events.Subject(events.SubjectRaw, RawEventsSource, contracts.Token(ev.Type()))
		if err != nil {
			return accepted{}, badRequest(fmt.Sprintf("type %q has no letter or digit", ev.Type()), nil)
		}
		return h.publish(ctx, subject, *ev)
	}
	data := dataFields(ev)
	if err := h.events.allowEvent(entry, ev, data); err != nil {
		return accepted{}, err
	}
	if ct := ev.DataContentType(); ct != "" && !isJSON(ct) {
		return accepted{}, &apiError{Status: http.StatusUnsupportedMediaType,
			Message: fmt.Sprintf("datacontenttype %q: event data must be JSON", ct)}
	}
	err := contracts.Validate(ev.Type(), ev.Data())
	var verr *contracts.ValidationError
	switch {
	case errors.As(err, &verr):
		return accepted{}, &apiError{Status: http.StatusUnprocessableEntity, Fields: verr.Fields,
			Message: fmt.Sprintf("the data does not satisfy the %s contract", ev.Type())}
	case errors.Is(err, contracts.ErrInvalidJSON):
		return accepted{}, badRequest("the event data is not JSON", nil)
	case err != nil:
		return accepted{}, fmt.Errorf("validate %s: %w", ev.Type(), err)
	}
	subject, err := eventSubject(entry, ev, data)
	if err != nil {
		return accepted{}, &apiError{Status: http.StatusUnprocessableEntity, Message: "no subject for the event", Detail: err.Error()}
	}
	if ev.DataContentType() == "" {
		ev.SetDataContentType(event.ApplicationJSON)
	}
	return h.publish(ctx, subject, *ev)
}

// BatchResult is the outcome of one event of a batch.
type BatchResult struct {
	Index     int      `json:"index"`
	Status    int      `json:"status"`
	ID        string   `json:"id,omitempty"`
	Subject   string   `json:"subject,omitempty"`
	Duplicate bool     `json:"duplicate"`
	Error     string   `json:"error,omitempty"`
	Details   []Detail `json:"details,omitempty"`
}

// batchReply is the answer to a batch: every event's result, and when some
// failed, the error and a detail per failed event.
type batchReply struct {
	Error   string        `json:"error,omitempty"`
	Details []Detail      `json:"details,omitempty"`
	Results []BatchResult `json:"results"`
}

// cloudEventBatch publishes each event of a batch on its own, as if it had
// been posted alone, and reports each result: 202 when all are stored (an
// empty batch, which the binding allows, stores nothing and is 202); 503
// with Retry-After when any could not be stored (the sender retries the
// whole batch; events already stored are deduplicated by id); otherwise 207
// with the results, or the events' common 4xx when none was accepted.
func (h *handler) cloudEventBatch(ctx context.Context, body []byte) (accepted, error) {
	var raw []json.RawMessage
	err := json.Unmarshal(body, &raw)
	if err == nil && raw == nil {
		err = errors.New("null is not an array") // an empty array decodes to an empty, non-nil slice
	}
	if err != nil {
		return accepted{}, badRequest("invalid batch: a batch is a JSON array of structured events", err)
	}
	reply := batchReply{Results: make([]BatchResult, len(raw))}
	var failed, unavailable int
	var retryAfter time.Duration
	statuses := map[int]bool{}
	for i, elem := range raw {
		res := BatchResult{Index: i, Status: http.StatusAccepted}
		ev, err := structuredEvent(elem)
		var a accepted
		if err == nil {
			a, err = h.publishCloudEvent(ctx, ev)
		}
		if err != nil {
			e := asAPIError(err)
			res.Status, res.Error, res.Details = e.Status, e.Message, e.Details
			if e.Detail != "" {
				res.Error += ": " + e.Detail
			}
			for _, f := range e.Fields {
				res.Details = append(res.Details, Detail{Pointer: f.Pointer, Message: f.Message})
			}
			failed++
			statuses[e.Status] = true
			if e.Status == http.StatusServiceUnavailable {
				unavailable++
				retryAfter = max(retryAfter, e.RetryAfter)
			}
			idx := i
			reply.Details = append(reply.Details, Detail{Index: &idx, Message: res.Error})
		} else {
			res.ID, res.Subject, res.Duplicate = a.ID, a.Subject, a.Duplicate
		}
		reply.Results[i] = res
	}
	if failed == 0 {
		return accepted{status: http.StatusAccepted, body: reply}, nil
	}
	reply.Error = fmt.Sprintf("%d of %d events were not accepted", failed, len(raw))
	switch {
	case unavailable > 0:
		return accepted{}, &apiError{Status: http.StatusServiceUnavailable, RetryAfter: retryAfter,
			Message: reply.Error + "; retry the batch later", Details: reply.Details}
	case failed == len(raw) && len(statuses) == 1:
		for status := range statuses {
			return accepted{}, &apiError{Status: status, Message: reply.Error, Details: reply.Details}
		}
	}
	return accepted{status: http.StatusMultiStatus, body: reply}, nil
}

// badRequest is a 400 whose cause, which may quote the body, is told to the
// caller but not logged.
func badRequest(msg string, err error) *apiError {
	e := &apiError{Status: http.StatusBadRequest, Message: msg}
	if err != nil {
		e.Detail = err.Error()
	}
	return e
}

func isJSON(contentType string) bool {
	mt, _, _ := strings.Cut(strings.ToLower(contentType), ";")
	mt = strings.TrimSpace(mt)
	return mt == event.ApplicationJSON || mt == "text/json" || strings.HasSuffix(mt, "+json")
}

// dataFields are the top-level fields of the event's JSON data; none when
// it is not a JSON object.
func dataFields(ev *event.Event) map[string]any {
	var data map[string]any
	_ = json.Unmarshal(ev.Data(), &data)
	return data
}

// eventSubject fills the {token}s of the catalog entry's subject pattern
// from the data's top-level fields of the same name; see [subjectToken].
func eventSubject(entry contracts.Entry, ev *event.Event, data map[string]any) (string, error) {
	parts := strings.Split(entry.Subject, ".")
	for i, p := range parts {
		name, ok := strings.CutPrefix(p, "{")
		if !ok {
			continue
		}
		name = strings.TrimSuffix(name, "}")
		v := subjectToken(name, ev, data)
		if !events.ValidToken(v) {
			return "", fmt.Errorf("the subject %s needs data field %q to be a subject token of [a-z0-9_-], got %q", entry.Subject, name, v)
		}
		parts[i] = v
	}
	return strings.Join(parts, "."), nil
}

// subjectToken is the value of the subject token name: the data field of
// that name. {source} may also come from the gtmhubsource extension, else
// the last element of the CloudEvent's source (as enrich reads a lead's
// source, so that the source judged here is the lead's), else "events".
func subjectToken(name string, ev *event.Event, data map[string]any) string {
	v, _ := data[name].(string)
	if v == "" && name == "source" {
		// The extension, else what enrich takes as the lead's source (so
		// the two agree), else the default.
		ext, _ := ev.Extensions()[SourceExtension].(string)
		v = cmp.Or(ext, contracts.SourceToken(ev.Source()), DefaultEventsSource)
	}
	return v
}
