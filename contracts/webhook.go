package contracts

import (
	"encoding/json"
	"net/http"
)

// WebhookReceived is the data of a [TypeWebhookReceived] event: a verified
// webhook that is not a lead, kept verbatim. At most one of Body and
// BodyBase64 is set; neither is set for an empty body.
type WebhookReceived struct {
	// Source is the ingest source name; it is a subject token.
	Source string `json:"source"`
	// Type is the sender's event type reduced to a subject token.
	Type string `json:"type"`
	// Headers are the request headers with secrets already redacted.
	Headers http.Header `json:"headers,omitempty"`
	// Body is the request body when it is JSON.
	Body json.RawMessage `json:"body,omitempty"`
	// BodyBase64 is the request body when it is not JSON. It is base64
	// encoded in JSON.
	BodyBase64 []byte `json:"body_base64,omitempty"`
}
