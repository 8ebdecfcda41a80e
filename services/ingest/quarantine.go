package ingest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/gtmhub/gtmhub/events"
)

// A quarantined request is one NATS message on gtm.quarantine.{source}: the
// body exactly as received, every HTTP request header as a NATS header
// prefixed Http- (values and their order kept, secrets included, so that a
// signature can be checked again later), the Host as Http-Host, and
// Gtmhub-Quarantine-* headers saying what happened. The stream is for
// forensics and redrive; its contents are never logged.
const (
	// QuarantineHTTPPrefix starts the NATS header carrying each HTTP header.
	QuarantineHTTPPrefix = "Http-"
	// HeaderQuarantineReason says why verification failed.
	HeaderQuarantineReason = "Gtmhub-Quarantine-Reason"
	// HeaderQuarantineSource is the source the request was sent to.
	HeaderQuarantineSource = "Gtmhub-Quarantine-Source"
	// HeaderQuarantineMethod is the HTTP method.
	HeaderQuarantineMethod = "Gtmhub-Quarantine-Method"
	// HeaderQuarantineURI is the request URI, path and query.
	HeaderQuarantineURI = "Gtmhub-Quarantine-Uri"
	// HeaderQuarantineRemoteAddr is the peer address of the connection.
	HeaderQuarantineRemoteAddr = "Gtmhub-Quarantine-Remote-Addr"
	// HeaderQuarantineTime is when the request arrived, RFC 3339 in UTC.
	HeaderQuarantineTime = "Gtmhub-Quarantine-Time"
	// HeaderQuarantineSecretHeaders lists, comma-separated, the HTTP headers
	// that carry the source's secret (a shared-secret scheme's header, say),
	// so that they are redacted whatever they are called.
	HeaderQuarantineSecretHeaders = "Gtmhub-Quarantine-Secret-Headers"
)

// quarantine stores a request that failed verification and returns the 401
// to answer. When the event store cannot take it (NATS is unavailable) the
// answer is the 503 with Retry-After that any request gets then, so that
// the sender tries again instead of giving up on a 401 that kept nothing;
// any other failure to store it is logged, and the caller still gets 401.
// Beyond the source's quarantine rate limit the request is only counted
// (gtmhub_ingest_quarantine_dropped_total and the request's log line), so
// that a flood of forged requests cannot fill the disk.
func (h *handler) quarantine(r *http.Request, src *source, body []byte, reason error, received time.Time) error {
	e := &apiError{Status: http.StatusUnauthorized, Message: "verification failed: " + reason.Error()}
	if !src.quarantineLimiter.Allow() {
		h.quarantineDropped.WithLabelValues(src.Name).Inc()
		e.QuarantineDropped = true
		return e
	}
	msg := QuarantineMsg(src.Name, r, body, reason.Error(), received, slices.Sorted(maps.Keys(src.secretHeaders))...)
	e.QuarantineID = msg.Header.Get(events.HeaderMsgID)
	if err := h.publishMsg(context.WithoutCancel(r.Context()), msg); err != nil {
		var unavailable *apiError
		if errors.As(err, &unavailable) && unavailable.Status == http.StatusServiceUnavailable {
			return &apiError{Status: http.StatusServiceUnavailable, RetryAfter: unavailable.RetryAfter,
				Message: e.Message + "; the request could not be kept for review, retry later",
				Err:     fmt.Errorf("quarantine: %w", err)}
		}
		e.Err, e.Alert = fmt.Errorf("quarantine: %w", err), true
	}
	return e
}

// QuarantineMsg returns the quarantine message of a request to source that
// failed verification for reason; secretHeaders names the headers that
// carry the source's secret. Its Nats-Msg-Id is a fresh UUID: every failed
// attempt is kept.
func QuarantineMsg(source string, r *http.Request, body []byte, reason string, received time.Time, secretHeaders ...string) *nats.Msg {
	h := make(nats.Header, len(r.Header)+8)
	for k, vs := range r.Header {
		for _, v := range vs {
			h.Add(QuarantineHTTPPrefix+k, v)
		}
	}
	if r.Host != "" {
		h.Set(QuarantineHTTPPrefix+"Host", r.Host)
	}
	id, err := uuid.NewV7()
	if err != nil {
		id = uuid.New()
	}
	h.Set(events.HeaderMsgID, id.String())
	h.Set(HeaderQuarantineReason, headerSafe(reason))
	h.Set(HeaderQuarantineSource, source)
	h.Set(HeaderQuarantineMethod, r.Method)
	h.Set(HeaderQuarantineURI, r.URL.RequestURI())
	h.Set(HeaderQuarantineRemoteAddr, r.RemoteAddr)
	h.Set(HeaderQuarantineTime, received.UTC().Format(time.RFC3339Nano))
	if len(secretHeaders) > 0 {
		h.Set(HeaderQuarantineSecretHeaders, strings.Join(secretHeaders, ","))
	}
	return &nats.Msg{Subject: events.SubjectQuarantine + "." + source, Header: h, Data: body}
}

// Quarantined is a quarantined request read back from its message.
type Quarantined struct {
	ID         string      `json:"id"`
	Source     string      `json:"source"`
	Reason     string      `json:"reason"`
	Method     string      `json:"method"`
	RequestURI string      `json:"request_uri"`
	RemoteAddr string      `json:"remote_addr"`
	Received   time.Time   `json:"received"`
	Host       string      `json:"host"`
	Header     http.Header `json:"header"`
	Body       []byte      `json:"body"`
	// SecretHeaders names the headers that carried the source's secret
	// when the request was quarantined.
	SecretHeaders []string `json:"secret_headers,omitempty"`
}

// ParseQuarantined reads a message written by [QuarantineMsg].
func ParseQuarantined(header nats.Header, body []byte) (Quarantined, error) {
	q := Quarantined{
		ID:         header.Get(events.HeaderMsgID),
		Source:     header.Get(HeaderQuarantineSource),
		Reason:     header.Get(HeaderQuarantineReason),
		Method:     header.Get(HeaderQuarantineMethod),
		RequestURI: header.Get(HeaderQuarantineURI),
		RemoteAddr: header.Get(HeaderQuarantineRemoteAddr),
		Header:     http.Header{},
		Body:       body,
	}
	for name := range strings.SplitSeq(header.Get(HeaderQuarantineSecretHeaders), ",") {
		if name = strings.TrimSpace(name); name != "" {
			q.SecretHeaders = append(q.SecretHeaders, http.CanonicalHeaderKey(name))
		}
	}
	if q.Source == "" {
		return Quarantined{}, fmt.Errorf("not a quarantined request: no %s header", HeaderQuarantineSource)
	}
	if ts := header.Get(HeaderQuarantineTime); ts != "" {
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return Quarantined{}, fmt.Errorf("%s: %w", HeaderQuarantineTime, err)
		}
		q.Received = t
	}
	for k, vs := range header {
		name, ok := cutPrefixFold(k, QuarantineHTTPPrefix)
		if !ok {
			continue
		}
		if strings.EqualFold(name, "Host") {
			q.Host = vs[0]
			continue
		}
		for _, v := range vs {
			q.Header.Add(name, v)
		}
	}
	return q, nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) > len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return "", false
}

// headerSafe keeps a value on one header line.
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}

// Redacted returns q for showing to people, with [REDACTED] for the values
// of the headers that carried the source's secret, of headers that usually
// carry credentials (names with secret, token, signature, auth, ...) and of
// query parameters named so; replay needs the original.
func (q Quarantined) Redacted() Quarantined {
	secret := make(map[string]bool, len(q.SecretHeaders))
	for _, name := range q.SecretHeaders {
		secret[name] = true
	}
	q.Header = redactHeaders(q.Header, secret)
	q.RequestURI = events.Redact(q.RequestURI)
	return q
}
