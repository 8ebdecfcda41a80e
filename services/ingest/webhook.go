package ingest

import (
	"crypto/sha256"
	"encoding/hex"
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
	if err := src.allowFrom.check(r, name); err != nil {
		return accepted{}, err
	}
	if src.disabled != "" {
		return h.disabledSource(w, r, src)
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
	res, err := h.deliver(r, src, body, received)
	var verr *verificationError
	if errors.As(err, &verr) {
		return accepted{}, h.quarantine(r, src, body, verr.err, received)
	}
	return res, err
}

// verificationError is a request that failed its source's verification.
type verificationError struct{ err error }

func (e *verificationError) Error() string { return "verification failed: " + e.err.Error() }
func (e *verificationError) Unwrap() error { return e.err }

// deliver verifies a request to src received at received, answers a
// sender's handshake, and publishes the request's event. A failed
// verification is a *verificationError, for the caller to quarantine (a
// live request) or leave in quarantine (a replay).
func (h *handler) deliver(r *http.Request, src *source, body []byte, received time.Time) (accepted, error) {
	if err := src.verifier.Verify(&signature.Request{Method: r.Method, URL: r.URL, Header: r.Header,
		Body: body, Received: received}); err != nil {
		return accepted{}, &verificationError{err: err}
	}
	if src.sender.handshake != nil {
		if hs, ok := src.sender.handshake(r.Header, body); ok {
			return accepted{status: http.StatusOK, body: hs}, nil
		}
	}
	id := eventID(src, r.Header, body)
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

// eventID is the CloudEvent id of a webhook, so that a retried delivery
// gets the same id and JetStream stores it once. It is derived from the
// first delivery id found: the one the scheme's sender gives each delivery
// (see [sender]), then the source's delivery id headers, then its
// delivery_id_field in the body; else from a hash of the source and body.
func eventID(src *source, header http.Header, body []byte) string {
	if key := src.deliveryID(header, body); key != "" {
		return DeliveryEventID(src.Name, key)
	}
	return ContentEventID(src.Name, body)
}

// deliveryID returns the request's delivery id, or "" when it has none.
func (s *source) deliveryID(header http.Header, body []byte) string {
	if s.sender.namesDeliveries() {
		if key := headerValue(header, s.sender.deliveryIDHeader); key != "" {
			return key
		}
		if key := payload.IDAt(body, s.DeliveryIDField); key != "" {
			return key
		}
	}
	for _, name := range s.DeliveryIDHeaders {
		if key := headerValue(header, name); key != "" {
			return key
		}
	}
	if s.sender.namesDeliveries() {
		return "" // the field was read above
	}
	return payload.IDAt(body, s.DeliveryIDField)
}

// headerValue is the trimmed value of header name; "" for no name.
func headerValue(header http.Header, name string) string {
	if name == "" {
		return ""
	}
	return strings.TrimSpace(header.Get(name))
}

// DeliveryEventID is the CloudEvent id ingest gives a webhook of source
// carrying the delivery id key: a UUID v5 over a URL naming the delivery.
func DeliveryEventID(source, key string) string {
	name := "https://gtmhub.dev/ingest/" + url.PathEscape(source) + "/deliveries/" + url.PathEscape(key)
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte(name)).String()
}

// ContentEventID is the CloudEvent id ingest gives a webhook of source that
// carries no delivery id: a UUID v5 over the SHA-256 of the source and body,
// so that the same body sent again is the same event.
func ContentEventID(source string, body []byte) string {
	sum := sha256.New()
	sum.Write([]byte(source))
	sum.Write([]byte{0})
	sum.Write(body)
	name := "https://gtmhub.dev/ingest/" + url.PathEscape(source) + "/content/" + hex.EncodeToString(sum.Sum(nil))
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
