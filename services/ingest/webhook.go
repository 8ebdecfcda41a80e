package ingest

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"

	"github.com/gtmhub/gtmhub/contracts"
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
