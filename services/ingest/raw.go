package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/services/ingest/internal/payload"
)

// acceptRaw publishes a raw source's request as a webhook.received event.
func (h *handler) acceptRaw(r *http.Request, src *source, body []byte, id string) (accepted, error) {
	if _, err := payload.MediaType(r.Header.Get("Content-Type")); err != nil {
		return accepted{}, &apiError{Status: http.StatusUnsupportedMediaType, Message: err.Error()}
	}
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
		if t := contracts.Token(header.Get(src.TypeHeader)); t != "" {
			return t
		}
	}
	if t := contracts.Token(payload.StringAt(body, src.TypeField)); t != "" {
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
