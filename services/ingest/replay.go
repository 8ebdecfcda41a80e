package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/events"
)

// QuarantineEntry is a quarantined request and its sequence in the
// QUARANTINE stream.
type QuarantineEntry struct {
	Seq    uint64    `json:"seq"`
	Stored time.Time `json:"stored"`
	Quarantined
}

// quarantineFilter is the QUARANTINE subject filter of source, or of every
// source when it is empty.
func quarantineFilter(source string) string {
	if source == "" {
		return events.SubjectQuarantine + ".>"
	}
	return events.SubjectQuarantine + "." + source
}

// ListQuarantine reads the quarantined requests of source (every source
// when empty), oldest first.
func ListQuarantine(ctx context.Context, js jetstream.JetStream, source string) ([]QuarantineEntry, error) {
	if source != "" && !events.ValidToken(source) {
		return nil, fmt.Errorf("source %q is not a subject token", source)
	}
	cons, err := js.OrderedConsumer(ctx, events.StreamQuarantine,
		jetstream.OrderedConsumerConfig{FilterSubjects: []string{quarantineFilter(source)},
			InactiveThreshold: events.ReadOnceInactive})
	if err != nil {
		return nil, fmt.Errorf("read quarantine: %w", err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("read quarantine: %w", err)
	}
	var out []QuarantineEntry
	for remaining := info.NumPending; remaining > 0; {
		batch, err := cons.Fetch(int(min(remaining, 256)), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, fmt.Errorf("read quarantine: %w", err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			md, err := m.Metadata()
			if err != nil {
				return nil, fmt.Errorf("read quarantine: %w", err)
			}
			q, err := ParseQuarantined(m.Headers(), m.Data())
			if err != nil {
				return nil, fmt.Errorf("quarantine message %d: %w", md.Sequence.Stream, err)
			}
			out = append(out, QuarantineEntry{Seq: md.Sequence.Stream, Stored: md.Timestamp, Quarantined: q})
		}
		if err := batch.Error(); err != nil {
			return nil, fmt.Errorf("read quarantine: %w", err)
		}
		if n == 0 {
			break
		}
		remaining -= uint64(n)
	}
	return out, nil
}

// GetQuarantine reads the quarantined request stored at seq.
func GetQuarantine(ctx context.Context, js jetstream.JetStream, seq uint64) (QuarantineEntry, error) {
	stream, err := js.Stream(ctx, events.StreamQuarantine)
	if err != nil {
		return QuarantineEntry{}, fmt.Errorf("read quarantine: %w", err)
	}
	m, err := stream.GetMsg(ctx, seq)
	if err != nil {
		return QuarantineEntry{}, fmt.Errorf("quarantine message %d: %w", seq, err)
	}
	q, err := ParseQuarantined(m.Header, m.Data)
	if err != nil {
		return QuarantineEntry{}, fmt.Errorf("quarantine message %d: %w", seq, err)
	}
	return QuarantineEntry{Seq: m.Sequence, Stored: m.Time, Quarantined: q}, nil
}

// Replay outcomes.
const (
	// ReplayPublished: the request now verifies and its event is stored;
	// it was removed from QUARANTINE.
	ReplayPublished = "published"
	// ReplayDuplicate: the request now verifies but its event was already
	// stored (the sender retried it with the right secret meanwhile); it
	// was removed from QUARANTINE.
	ReplayDuplicate = "duplicate"
	// ReplayHandshake: the request is a verified sender handshake, which
	// publishes nothing; it was removed from QUARANTINE.
	ReplayHandshake = "handshake"
	// ReplayUnverified: the request still fails verification; it stays.
	ReplayUnverified = "unverified"
	// ReplayUnready: the request's source is not configured, or not ready
	// (its secret unset), so it could not be verified; it stays.
	ReplayUnready = "unready"
	// ReplayFailed: the request verifies but cannot be published (a
	// contract violation, the store unavailable); it stays.
	ReplayFailed = "failed"
)

// ReplayResult is what a replay did with one quarantined request.
type ReplayResult struct {
	Seq     uint64 `json:"seq"`
	Source  string `json:"source"`
	Outcome string `json:"outcome"`
	EventID string `json:"event_id,omitempty"`
	Subject string `json:"subject,omitempty"`
	Error   string `json:"error,omitempty"`
}

// ReplayOptions choose the quarantined requests to replay.
type ReplayOptions struct {
	// Source limits the replay to one source; empty means every source.
	Source string
	// Seqs limits the replay to these stream sequences; empty means all.
	Seqs []uint64
}

// ReplayQuarantine verifies quarantined requests again with the secrets of
// cfg (after a misconfigured secret was fixed) and publishes those that now
// pass, exactly as if they had just arrived but with the time they first
// arrived, so that a timestamp stale then is stale now. Each event gets the
// id the live request would have had (from the delivery id or a hash of
// source and body), so it is stored once however often it is replayed, and
// a replayed request is removed from QUARANTINE after its PubAck. Requests
// that still fail stay where they are.
func ReplayQuarantine(ctx context.Context, js jetstream.JetStream, cfg Config, opts ReplayOptions, log *slog.Logger) ([]ReplayResult, error) {
	pub, err := events.NewPublisher(js)
	if err != nil {
		return nil, err
	}
	b, err := cfg.prepare()
	if err != nil {
		return nil, err
	}
	h, err := newHandler(cfg, b, pub, log)
	if err != nil {
		return nil, err
	}
	entries, err := ListQuarantine(ctx, js, opts.Source)
	if err != nil {
		return nil, err
	}
	stream, err := js.Stream(ctx, events.StreamQuarantine)
	if err != nil {
		return nil, fmt.Errorf("read quarantine: %w", err)
	}
	var results []ReplayResult
	for _, e := range entries {
		if len(opts.Seqs) > 0 && !slices.Contains(opts.Seqs, e.Seq) {
			continue
		}
		res := h.replay(ctx, e)
		if res.Outcome == ReplayPublished || res.Outcome == ReplayDuplicate || res.Outcome == ReplayHandshake {
			if err := stream.DeleteMsg(ctx, e.Seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
				return results, fmt.Errorf("replayed %d but could not remove it from QUARANTINE: %w", e.Seq, err)
			}
		}
		results = append(results, res)
	}
	return results, nil
}

// replay delivers one quarantined request again.
func (h *handler) replay(ctx context.Context, e QuarantineEntry) ReplayResult {
	res := ReplayResult{Seq: e.Seq, Source: e.Source}
	fail := func(outcome, msg string) ReplayResult {
		res.Outcome, res.Error = outcome, msg
		return res
	}
	src, ok := h.sources[e.Source]
	switch {
	case !ok:
		return fail(ReplayUnready, fmt.Sprintf("source %q is not configured", e.Source))
	case src.disabled != "":
		return fail(ReplayUnready, fmt.Sprintf("source %q is not ready: %s", e.Source, src.disabled))
	}
	r, err := http.NewRequestWithContext(ctx, e.Method, e.RequestURI, bytes.NewReader(e.Body))
	if err != nil {
		return fail(ReplayFailed, fmt.Sprintf("request: %v", err))
	}
	r.Header, r.Host, r.RemoteAddr = e.Header.Clone(), e.Host, e.RemoteAddr
	r.SetPathValue("source", e.Source)
	received := e.Received
	if received.IsZero() {
		received = e.Stored
	}
	a, err := h.deliver(r, src, e.Body, received)
	var verr *verificationError
	switch {
	case errors.As(err, &verr):
		return fail(ReplayUnverified, verr.Error())
	case err != nil:
		return fail(ReplayFailed, asAPIError(err).Message)
	case a.ID == "":
		res.Outcome = ReplayHandshake
	case a.Duplicate:
		res.Outcome = ReplayDuplicate
	default:
		res.Outcome = ReplayPublished
	}
	res.EventID, res.Subject = a.ID, a.Subject
	return res
}
