package events

import (
	"errors"

	"github.com/nats-io/nats.go/jetstream"
)

// KVConflict reports whether err says that a compare-and-set write to a
// key-value bucket lost to another writer: a Create of a key that exists,
// an Update, or a Delete or Purge with jetstream.LastRevision, at a
// revision that is no longer the key's last. The caller reads the key again
// and decides anew.
//
// The client reports the same loss in several forms:
// jetstream.ErrKeyExists from Create, jetstream.ErrKeyRevisionMismatch from
// Update, Delete and Purge, and the stream's own "wrong last sequence"
// error, unmapped, when a Create over a deleted key loses its race. The
// client also documents code 10164 in place of 10071 for replicated
// streams, which jetstream.ErrKeyExists does not match. One check for all
// of them keeps every compare-and-set loop reading again instead of
// failing, whatever form the loss takes.
func KVConflict(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}
