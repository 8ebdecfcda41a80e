package events

import (
	"fmt"
	"maps"
	"strings"

	"github.com/nats-io/nats.go"
)

// CloudEvent extensions and headers that mark replays.
const (
	// ExtensionReplay marks an event re-delivered by a replay ("true").
	// Services with side effects (notify) stay silent on replays.
	ExtensionReplay = "gtmreplay"
	// ExtensionSideEffects ("true") asks a replay's side effects to happen.
	ExtensionSideEffects = "gtmsideeffects"
	// ExtensionReplayID names the replay that re-delivered the event.
	ExtensionReplayID = "gtmreplayid"
	// HeaderReplaySubject keeps the original subject of a message replayed
	// onto gtm.replay.{consumer}.{subject}.
	HeaderReplaySubject = "Gtmhub-Replay-Subject"
)

// ReplayMsg copies a stored message for replay id onto target, marked as a
// replay (and as asking for side effects when sideEffects is set), with the
// same CloudEvent id and trace context. Its Nats-Msg-Id is derived from the
// replay and the original sequence, so resuming a replay does not store a
// message twice.
func ReplayMsg(id string, seq uint64, subject string, header nats.Header, data []byte, target string, sideEffects bool) (*nats.Msg, error) {
	// The values are shared, not copied: Set and Del below replace a key's
	// slice, they never write into one.
	h := make(nats.Header, len(header)+4)
	maps.Copy(h, header)
	if h.Get(headerSpecVersion) == "" {
		ev, err := Decode(header, data)
		if err != nil {
			return nil, fmt.Errorf("replay seq %d: %w", seq, err)
		}
		msg, err := Encode(subject, ev)
		if err != nil {
			return nil, err
		}
		h, data = msg.Header, msg.Data
	}
	h.Set(HeaderPrefix+ExtensionReplay, "true")
	h.Set(HeaderPrefix+ExtensionReplayID, percentEncode(id))
	if sideEffects {
		h.Set(HeaderPrefix+ExtensionSideEffects, "true")
	} else {
		h.Del(HeaderPrefix + ExtensionSideEffects)
	}
	h.Set(HeaderMsgID, fmt.Sprintf("replay-%s-%d", id, seq))
	if strings.HasPrefix(target, SubjectReplay+".") {
		h.Set(HeaderReplaySubject, subject)
	}
	return &nats.Msg{Subject: target, Header: h, Data: data}, nil
}
