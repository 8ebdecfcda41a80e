package events

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
)

// Headers a redriven message carries.
const (
	// HeaderRedriveCount counts how often the message was redriven.
	HeaderRedriveCount = "Gtmhub-Redrive-Count"
	// HeaderDLQHistory has one value per earlier dead-lettering, so a
	// message that fails again arrives in the DLQ with its history.
	HeaderDLQHistory = "Gtmhub-Dlq-History"
)

// ErrNotDeadLetter is returned by [RedriveMsg] for a message without
// dead-letter metadata.
var ErrNotDeadLetter = errors.New("not a dead letter: no " + DLQHeaderSubject + " header")

// RedriveMsg turns a dead letter back into the message that failed: the same
// body and CloudEvent headers (so the same CloudEvent id and trace context)
// on the original subject, the Gtmhub-Dlq-* metadata folded into one history
// entry, the redrive count incremented, and a fresh Nats-Msg-Id so the
// stream's duplicate window does not swallow it.
func RedriveMsg(header nats.Header, data []byte) (*nats.Msg, error) {
	subject := header.Get(DLQHeaderSubject)
	if subject == "" {
		return nil, ErrNotDeadLetter
	}
	h := make(nats.Header, len(header))
	for k, v := range header {
		if strings.HasPrefix(k, "Gtmhub-Dlq-") && k != HeaderDLQHistory {
			continue
		}
		h[k] = append([]string(nil), v...)
	}
	h.Add(HeaderDLQHistory, fmt.Sprintf("%s %s/%s attempts=%s reason=%s error=%s",
		header.Get(DLQHeaderLastFailure), header.Get(DLQHeaderService), header.Get(DLQHeaderConsumer),
		header.Get(DLQHeaderAttempts), header.Get(DLQHeaderReason), header.Get(DLQHeaderError)))
	n, _ := strconv.Atoi(header.Get(HeaderRedriveCount))
	h.Set(HeaderRedriveCount, strconv.Itoa(n+1))
	h.Set(HeaderMsgID, "redrive-"+uuid.NewString())
	return &nats.Msg{Subject: subject, Header: h, Data: data}, nil
}
