package events

import (
	"errors"
	"fmt"
	"time"
)

// PermanentError marks a failure that retrying cannot fix: bad data, a
// contract violation, a 4xx answer from a destination. The consumer copies
// the message to the dead-letter stream and terminates it.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return "permanent: " + errString(e.Err) }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err so that the consumer dead-letters the message at once.
// Permanent(nil) returns nil, and an error that is permanent already is
// returned as it is, so its text says "permanent" once.
func Permanent(err error) error {
	if err == nil || IsPermanent(err) {
		return err
	}
	return &PermanentError{Err: err}
}

// IsPermanent reports whether err, or any error it wraps, is permanent.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// RetryAfterError asks for the message to be redelivered no sooner than
// Delay: a 429 or 503 with Retry-After, an open circuit breaker.
type RetryAfterError struct {
	Delay time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("retry after %s: %s", e.Delay, errString(e.Err))
}
func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter wraps err so that the consumer redelivers the message no sooner
// than d. A negative d counts as zero. RetryAfter(d, nil) returns nil.
func RetryAfter(d time.Duration, err error) error {
	if err == nil {
		return nil
	}
	return &RetryAfterError{Delay: max(d, 0), Err: err}
}

// RetryDelay returns the delay requested by a [RetryAfter] error in err's chain.
func RetryDelay(err error) (time.Duration, bool) {
	var r *RetryAfterError
	if errors.As(err, &r) {
		return r.Delay, true
	}
	return 0, false
}

// PublishError is returned by [Publisher.Publish]. Retryable says whether the
// same event may be published again: the duplicate window makes a retry of a
// publish whose ack was lost safe.
type PublishError struct {
	Subject   string
	Retryable bool
	Err       error
}

func (e *PublishError) Error() string {
	return fmt.Sprintf("publish %s: %s", e.Subject, errString(e.Err))
}
func (e *PublishError) Unwrap() error { return e.Err }

// IsRetryable reports whether err is a [PublishError] that may be retried.
func IsRetryable(err error) bool {
	var p *PublishError
	return errors.As(err, &p) && p.Retryable
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// JoinRetries combines the errors of several things to try again, such as
// the providers or the rules of one event, into one that asks for the
// longest delay any of them named ([RetryAfter]), or for none when none
// named one, so that the consumer backs off. (errors.Join alone would let
// [RetryDelay] find the first delay, maybe the shortest.)
func JoinRetries(errs ...error) error {
	joined := errors.Join(errs...)
	var (
		longest time.Duration
		named   bool
	)
	for _, err := range errs {
		if d, ok := RetryDelay(err); ok {
			longest, named = max(longest, d), true
		}
	}
	if !named {
		return joined
	}
	return RetryAfter(longest, joined)
}
