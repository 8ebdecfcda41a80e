// Package replay re-delivers events from a stream by time, for backfill: to
// one consumer (through the REPLAY stream, so no other consumer sees them)
// or onto a subject. Replayed events keep their CloudEvent id and trace and
// carry the replay marker, so idempotent consumers do nothing twice and
// services with side effects stay silent unless asked. A replay has an id
// and a checkpoint in the "replays" KV bucket, so it can be resumed.
package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/time/rate"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/service"
)

// Bucket is the KV bucket holding replay checkpoints, created with the
// rest of the topology by `gtmhub init` and `gtmhub up`.
const Bucket = service.ReplaysBucket

// Spec says what to replay and where to.
type Spec struct {
	ID          string    `json:"id"`
	Stream      string    `json:"stream"`
	Subjects    []string  `json:"subjects"`               // filters; default: the stream's subjects
	Since       time.Time `json:"since"`                  // first message time, inclusive
	Until       time.Time `json:"until,omitzero"`         // last message time, inclusive; zero: up to the start of the replay
	To          string    `json:"to,omitempty"`           // consumer durable to re-run
	ToSubject   string    `json:"to_subject,omitempty"`   // or a subject to republish on
	Rate        float64   `json:"rate,omitempty"`         // events per second; 0: as fast as acks allow
	SideEffects bool      `json:"side_effects,omitempty"` // let notify act on the replay
}

// Checkpoint is a replay's persisted state.
type Checkpoint struct {
	Spec     Spec   `json:"spec"`
	EndSeq   uint64 `json:"end_seq"`  // last stream sequence considered
	LastSeq  uint64 `json:"last_seq"` // last sequence whose publish was acknowledged
	Replayed uint64 `json:"replayed"`
	// Gone counts events that were in the stream when the replay began and
	// that its limits (age, size) removed before the replay read them.
	Gone      uint64    `json:"gone,omitempty"`
	Status    string    `json:"status"` // running, done, failed, interrupted
	Error     string    `json:"error,omitempty"`
	StartedAt time.Time `json:"started_at"`
	UpdatedAt time.Time `json:"updated_at"`

	// rev is the bucket revision this checkpoint was read or last saved
	// at; 0 for a replay not saved yet.
	rev uint64
}

// ErrConflict is returned when a replay's checkpoint changed since this run
// read or saved it: another run of the same replay is writing it.
var ErrConflict = errors.New("another run of this replay changed its checkpoint")

// liveWindow is how recently a running replay must have saved its
// checkpoint to be taken as still running: a run saves after every batch
// (about a second of events with --rate) and at least every maxEmptyWait
// while reads come back empty.
const liveWindow = time.Minute

// Progress is reported while a replay runs.
type Progress struct {
	Done, Total uint64
	Elapsed     time.Duration
}

// Resolve fills defaults and checks a spec: a --to consumer implies its
// stream and filters, and exactly one destination is required.
func Resolve(s Spec) (Spec, error) {
	if s.ID == "" {
		s.ID = uuid.NewString()[:8]
	}
	if (s.To == "") == (s.ToSubject == "") {
		return s, errors.New("replay needs exactly one destination: --to CONSUMER or --to-subject SUBJECT")
	}
	if s.To != "" {
		c, ok := events.DefaultTopology().Consumer(s.To)
		if !ok {
			return s, fmt.Errorf("no consumer %q: see `gtmhub contracts` for the consumers", s.To)
		}
		if s.Stream == "" {
			s.Stream = c.Stream
		}
		if s.Stream != c.Stream {
			return s, fmt.Errorf("consumer %s reads %s, not %s", s.To, c.Stream, s.Stream)
		}
		if len(s.Subjects) == 0 {
			s.Subjects = c.Filters
		}
		if err := within(s.Subjects, c.Filters, "what consumer "+s.To+" reads"); err != nil {
			return s, err
		}
	}
	if s.Stream == "" {
		return s, errors.New("--stream is required with --to-subject")
	}
	st, ok := streamSpec(s.Stream)
	if !ok {
		return s, fmt.Errorf("no stream %q: see `gtmhub contracts` for the streams", s.Stream)
	}
	if err := within(s.Subjects, st.Subjects, "stream "+s.Stream); err != nil {
		return s, err
	}
	if s.Since.IsZero() {
		return s, errors.New("--since is required")
	}
	if !s.Until.IsZero() && s.Until.Before(s.Since) {
		return s, errors.New("--until is before --since")
	}
	return s, nil
}

// streamSpec returns the topology's stream called name.
func streamSpec(name string) (events.StreamSpec, bool) {
	for _, st := range events.DefaultTopology().Streams {
		if st.Name == name {
			return st, true
		}
	}
	return events.StreamSpec{}, false
}

// within checks that every subject of subjects is within one of filters,
// which are what, so a replay never reads what its destination does not
// read or what its stream does not hold.
func within(subjects, filters []string, what string) error {
	var errs []error
	for _, sub := range subjects {
		if !slices.ContainsFunc(filters, func(f string) bool { return subsetOf(sub, f) }) {
			errs = append(errs, fmt.Errorf("--subject %s is not within %s (%s)", sub, what, strings.Join(filters, ", ")))
		}
	}
	return errors.Join(errs...)
}

// subsetOf reports whether every subject sub matches (it may hold the
// wildcards '*' and '>') is matched by filter, by the server's own rules.
func subsetOf(sub, filter string) bool { return server.SubjectMatchesFilter(sub, filter) }

// Replayer runs replays on one JetStream.
type Replayer struct {
	js        jetstream.JetStream
	state     jetstream.KeyValue
	fetchWait time.Duration // how long one read waits for its batch
}

// New opens the checkpoint bucket. It does not create it: the topology
// does, with the stack's replicas, which a bucket made here would not have.
func New(ctx context.Context, js jetstream.JetStream) (*Replayer, error) {
	kv, err := js.KeyValue(ctx, Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("replay state: no %q bucket on this server: run `gtmhub init` (or `gtmhub up`) first: %w", Bucket, err)
	}
	if err != nil {
		return nil, fmt.Errorf("replay state: %w", err)
	}
	return &Replayer{js: js, state: kv, fetchWait: time.Second}, nil
}

// Start begins a new replay of spec and runs it to the end.
func (r *Replayer) Start(ctx context.Context, spec Spec, progress func(Progress)) (Checkpoint, error) {
	spec, err := Resolve(spec)
	if err != nil {
		return Checkpoint{}, err
	}
	st, err := r.js.Stream(ctx, spec.Stream)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("stream %s: %w", spec.Stream, err)
	}
	if err := r.destinationReads(ctx, spec); err != nil {
		return Checkpoint{}, err
	}
	cp := Checkpoint{Spec: spec, EndSeq: st.CachedInfo().State.LastSeq, Status: "running",
		StartedAt: time.Now().UTC()}
	if err := r.save(ctx, &cp); err != nil {
		return cp, err
	}
	return r.run(ctx, cp, progress)
}

// Resume continues the replay id after its last checkpoint. A done
// replay is never resumed, nor, unless force, one whose checkpoint says
// running and was saved within liveWindow: its run is likely still going.
func (r *Replayer) Resume(ctx context.Context, id string, force bool, progress func(Progress)) (Checkpoint, error) {
	cp, err := r.Get(ctx, id)
	if err != nil {
		return cp, err
	}
	if err := resumable(cp, force, time.Now()); err != nil {
		return cp, err
	}
	if err := r.destinationReads(ctx, cp.Spec); err != nil {
		return cp, err
	}
	cp.Status, cp.Error = "running", ""
	if err := r.save(ctx, &cp); err != nil {
		return cp, err
	}
	return r.run(ctx, cp, progress)
}

// resumable says why cp may not be resumed at now, if it may not.
func resumable(cp Checkpoint, force bool, now time.Time) error {
	id := cp.Spec.ID
	switch {
	case cp.Status == "done":
		return fmt.Errorf("replay %s is already done", id)
	case cp.Status == "running" && !force && now.Sub(cp.UpdatedAt) < liveWindow:
		return fmt.Errorf("replay %s is running: its checkpoint was saved %s ago; if no run of it is left (it was killed), resume with --force",
			id, now.Sub(cp.UpdatedAt).Round(time.Second))
	}
	return nil
}

// destinationReads checks that a replay to a consumer has a reader: a
// consumer on the REPLAY stream filtering on the consumer's replay
// subjects, which its service creates when it runs (knowledge-sync, say,
// only when Notion is configured). Without one, replayed events would sit
// in REPLAY unread.
func (r *Replayer) destinationReads(ctx context.Context, spec Spec) error {
	if spec.To == "" {
		return nil
	}
	st, err := r.js.Stream(ctx, events.StreamReplay)
	if err != nil {
		return fmt.Errorf("stream %s: %w", events.StreamReplay, err)
	}
	want := events.ReplaySubject(spec.To, ">")
	list := st.ListConsumers(ctx)
	found := false
	for info := range list.Info() {
		found = found || info.Config.FilterSubject == want || slices.Contains(info.Config.FilterSubjects, want)
	}
	if err := list.Err(); err != nil {
		return fmt.Errorf("consumers of %s: %w", events.StreamReplay, err)
	}
	if !found {
		return fmt.Errorf("nothing reads replays to %s: no consumer on %s filters %s; it is created when %s runs "+
			"(knowledge-sync only with Notion configured): start it, then replay", spec.To, events.StreamReplay, want, spec.To)
	}
	return nil
}

// Get returns the checkpoint of replay id.
func (r *Replayer) Get(ctx context.Context, id string) (Checkpoint, error) {
	e, err := r.state.Get(ctx, id)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("replay %s: %w", id, err)
	}
	var cp Checkpoint
	if err := json.Unmarshal(e.Value(), &cp); err != nil {
		return cp, fmt.Errorf("replay %s: %w", id, err)
	}
	cp.rev = e.Revision()
	return cp, nil
}

// List returns every known replay.
func (r *Replayer) List(ctx context.Context) ([]Checkpoint, error) {
	keys, err := r.state.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	var out []Checkpoint
	for k := range keys.Keys() {
		cp, err := r.Get(ctx, k)
		if err != nil {
			return nil, err
		}
		out = append(out, cp)
	}
	return out, nil
}

// save writes cp over the revision it holds (creating it when it has
// none), so two runs of one replay never overwrite each other's checkpoint:
// the one that saves second gets ErrConflict.
func (r *Replayer) save(ctx context.Context, cp *Checkpoint) error {
	cp.UpdatedAt = time.Now().UTC()
	b, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	var rev uint64
	if cp.rev == 0 {
		rev, err = r.state.Create(ctx, cp.Spec.ID, b)
	} else {
		rev, err = r.state.Update(ctx, cp.Spec.ID, b, cp.rev)
	}
	if events.KVConflict(err) {
		return fmt.Errorf("save replay %s: %w", cp.Spec.ID, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("save replay %s: %w", cp.Spec.ID, err)
	}
	cp.rev = rev
	return nil
}

func limiter(perSecond float64) *rate.Limiter {
	if perSecond <= 0 {
		return rate.NewLimiter(rate.Inf, 0)
	}
	return rate.NewLimiter(rate.Limit(perSecond), max(1, int(perSecond/10)))
}
