package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/gtmhub/gtmhub/events"
)

// Notion's webhook subscriptions start with a verification request: an
// unsigned POST whose body is {"verification_token":"secret_..."}, the
// token that then signs every event and that the operator pastes back into
// Notion. A notion source cannot verify it, and one without a secret yet is
// disabled, so that a request the token would be read from could not be
// received at all. A disabled notion source therefore still keeps a body
// that is only a verification token in QUARANTINE, within its quarantine
// rate limit, where `gtmhub quarantine show` reveals it, and answers 200 as
// Notion expects; anything else it answers 503 like any disabled source.
// A notion source that has a secret quarantines a verification request it
// cannot verify like any other request, answering 401. The token is never
// logged: the request's log line has the quarantine id only.

// reasonNotionVerification is the quarantine reason of a Notion
// verification request kept by a disabled notion source.
const reasonNotionVerification = "Notion verification request: configure its verification_token as the source's secret"

// notionVerification is the answer to a kept Notion verification request.
type notionVerification struct {
	Handshake    string `json:"handshake"`
	QuarantineID string `json:"quarantine_id"`
}

// disabledSource answers a request to a source that is disabled: 503,
// except for a Notion verification request to a notion source.
func (h *handler) disabledSource(w http.ResponseWriter, r *http.Request, src *source) (accepted, error) {
	unavailable := &apiError{Status: http.StatusServiceUnavailable, RetryAfter: retryDisabled,
		Message: fmt.Sprintf("source %q is not ready: %s", src.Name, src.disabled)}
	if src.Scheme != "notion" {
		return accepted{}, unavailable
	}
	body, err := readBody(w, r, src.MaxBody)
	if err != nil {
		return accepted{}, err
	}
	if !isNotionVerification(body) || !src.quarantineLimiter.Allow() {
		return accepted{}, unavailable
	}
	return h.keepNotionVerification(r, src, body, time.Now())
}

// keepNotionVerification stores a Notion verification request in
// QUARANTINE and answers 200 with its quarantine id.
func (h *handler) keepNotionVerification(r *http.Request, src *source, body []byte, received time.Time) (accepted, error) {
	msg := QuarantineMsg(src.Name, r, body, reasonNotionVerification, received, slices.Sorted(maps.Keys(src.secretHeaders))...)
	id := msg.Header.Get(events.HeaderMsgID)
	if err := h.publishMsg(context.WithoutCancel(r.Context()), msg); err != nil {
		return accepted{}, fmt.Errorf("quarantine the Notion verification request: %w", err)
	}
	return accepted{status: http.StatusOK, quarantineID: id,
		body: notionVerification{Handshake: "verification_token", QuarantineID: id}}, nil
}

// isNotionVerification reports whether body is a JSON object whose only
// field is a non-empty string verification_token.
func isNotionVerification(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	var v map[string]json.RawMessage
	if dec.Decode(&v) != nil || dec.More() || len(v) != 1 {
		return false
	}
	var token string
	return json.Unmarshal(v["verification_token"], &token) == nil && token != ""
}
