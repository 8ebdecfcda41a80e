package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

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
// that names none.
const DefaultEventsSource = "events"

// cloudEvent serves POST /events: one CloudEvent in binary or structured
// HTTP mode, of a type in the contracts catalog, published on the type's
// subject as it was received.
func (h *handler) cloudEvent(w http.ResponseWriter, r *http.Request) (accepted, error) {
	body, err := readBody(w, r, h.maxEventBody)
	if err != nil {
		return accepted{}, err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	msg := cehttp.NewMessageFromHttpRequest(r)
	switch msg.ReadEncoding() {
	case binding.EncodingUnknown:
		return accepted{}, badRequest("not a CloudEvent: send ce-* headers (binary mode) or Content-Type: application/cloudevents+json (structured mode)", nil)
	case binding.EncodingBatch:
		return accepted{}, badRequest("batches are not accepted: send one event per request", nil)
	}
	ev, err := binding.ToEvent(r.Context(), msg)
	if err != nil {
		return accepted{}, badRequest("invalid CloudEvent", err)
	}
	if err := ev.Validate(); err != nil {
		return accepted{}, badRequest("invalid CloudEvent", err)
	}
	entry, ok := contracts.Lookup(ev.Type())
	if !ok {
		return accepted{}, &apiError{Status: http.StatusUnprocessableEntity,
			Message: fmt.Sprintf("unknown event type %q: see the contracts catalog (gtmhub contracts)", ev.Type())}
	}
	if ct := ev.DataContentType(); ct != "" && !isJSON(ct) {
		return accepted{}, &apiError{Status: http.StatusUnsupportedMediaType,
			Message: fmt.Sprintf("datacontenttype %q: event data must be JSON", ct)}
	}
	err = contracts.Validate(ev.Type(), ev.Data())
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
	subject, err := eventSubject(entry, ev)
	if err != nil {
		return accepted{}, &apiError{Status: http.StatusUnprocessableEntity, Message: "no subject for the event", Detail: err.Error()}
	}
	if ev.DataContentType() == "" {
		ev.SetDataContentType(event.ApplicationJSON)
	}
	return h.publish(r.Context(), subject, *ev)
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

// eventSubject fills the {token}s of the catalog entry's subject pattern
// from the data's top-level fields of the same name. {source} may also come
// from the gtmhubsource extension and defaults to "events".
func eventSubject(entry contracts.Entry, ev *event.Event) (string, error) {
	var data map[string]any
	_ = json.Unmarshal(ev.Data(), &data) // validated above; a non-object has no fields
	parts := strings.Split(entry.Subject, ".")
	for i, p := range parts {
		name, ok := strings.CutPrefix(p, "{")
		if !ok {
			continue
		}
		name = strings.TrimSuffix(name, "}")
		v, _ := data[name].(string)
		if v == "" && name == "source" {
			v, _ = ev.Extensions()[SourceExtension].(string)
			if v == "" {
				v = DefaultEventsSource
			}
		}
		if !events.ValidToken(v) {
			return "", fmt.Errorf("the subject %s needs data field %q to be a subject token of [a-z0-9_-], got %q", entry.Subject, name, v)
		}
		parts[i] = v
	}
	return strings.Join(parts, "."), nil
}
