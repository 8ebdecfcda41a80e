package ingest

import (
	"fmt"

	"github.com/gtmhub/gtmhub/events/service"
)

// A request becomes one NATS message, which the server refuses beyond its
// max_payload (1 MiB unless configured; gtmhub up's embedded server takes
// 8 MiB): headers and data together. A body can grow on the way: a raw
// source's body that is not JSON is stored base64-encoded, a third larger,
// inside a JSON envelope that also carries the request's headers, and the
// CloudEvent attributes travel as NATS headers. So at start every body
// limit is checked against the connection's max_payload, taking a body's
// message to be at most 4/3 of it plus envelopeAllowance:
//
//   - a limit the operator set (a source's max_body, or max_event_body other
//     than the default) that does not fit is a configuration error naming
//     the source and both figures: a limit that is accepted, then answered
//     413 by the event store, makes senders give up on requests within it;
//   - a default limit that does not fit is lowered to the largest that
//     does, and the change is logged: the defaults are meant to run against
//     a stock server (1 MiB max_payload gives bodies up to 720 KiB).
//
// A body whose re-encoding grows it further (a JSON body full of characters
// that JSON escapes, a form of percent-encoded control characters) can
// still exceed max_payload within the limit, and is answered 413.

// envelopeAllowance is what a message may carry beyond its encoded body:
// the webhook envelope with the request's headers, and the CloudEvent and
// JetStream headers.
const envelopeAllowance = 64 << 10

// messageBound is the largest message a body of n bytes is taken to
// become: base64 of it plus envelopeAllowance.
func messageBound(n int64) int64 { return (n+2)/3*4 + envelopeAllowance }

// bodyLimitFor is the largest body whose messageBound is within
// maxPayload, or 0 when none is.
func bodyLimitFor(maxPayload int64) int64 {
	if maxPayload < envelopeAllowance+4 {
		return 0
	}
	return (maxPayload - envelopeAllowance) / 4 * 3
}

// loweredLimit is a default body limit lowered to fit max_payload.
type loweredLimit struct {
	What     string // "source \"form\": max_body" or "max_event_body"
	From, To int64
}

// fitBodyLimits checks the body limits of sources and POST /events against
// the server's maxPayload, as described above: it lowers the defaults that
// do not fit, in place, and reports the operator's limits that do not. A
// maxPayload of 0 (not known yet) checks nothing.
func fitBodyLimits(sources []*source, maxEventBody *int64, eventBodyDefault bool, maxPayload int64) ([]loweredLimit, service.Problems) {
	var lowered []loweredLimit
	var p service.Problems
	if maxPayload <= 0 {
		return nil, nil
	}
	fit := bodyLimitFor(maxPayload)
	check := func(what string, limit *int64, isDefault bool) {
		switch {
		case messageBound(*limit) <= maxPayload:
		case isDefault && fit > 0:
			lowered = append(lowered, loweredLimit{What: what, From: *limit, To: fit})
			*limit = fit
		default:
			p.Addf("%s %d bytes can make a message of %d bytes (base64 plus %d for the envelope), "+
				"more than the NATS server's max_payload of %d bytes: %s", what, *limit, messageBound(*limit),
				envelopeAllowance, maxPayload, remedy(fit))
		}
	}
	for _, src := range sources {
		check(fmt.Sprintf("source %q: max_body", src.Name), &src.MaxBody, src.defaultMaxBody)
	}
	check("max_event_body", maxEventBody, eventBodyDefault)
	return lowered, p
}

// remedy says how to make a limit fit, given the largest that would.
func remedy(fit int64) string {
	if fit == 0 {
		return fmt.Sprintf("raise the server's max_payload above %d bytes", envelopeAllowance)
	}
	return fmt.Sprintf("lower it to at most %d, or raise the server's max_payload", fit)
}
