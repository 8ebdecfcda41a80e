package replay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/time/rate"

	"github.com/gtmhub/gtmhub/events"
)

// batchSize is how many messages are read, republished and then
// checkpointed at a time, at most.
const batchSize = 1024

// maxFetchWait bounds how long one read waits for its batch once reads
// have come back empty; it also bounds how long a cancel waits for a read.
const maxFetchWait = 5 * time.Second

// maxEmptyWait is how long reads in a row may wait in all and bring nothing
// while events are still pending before the replay fails, to be resumed.
const maxEmptyWait = 30 * time.Second

// feed is one run of a replay: what it has read, published and confirmed.
type feed struct {
	cp    Checkpoint
	cons  jetstream.Consumer
	lim   *rate.Limiter
	batch int    // messages per read
	total uint64 // events to replay, counted when the run began
	start time.Time
	// The publishes of the last batch are in flight while the next batch is
	// read, so the wait for their acks overlaps with the read.
	inflight  []published
	wait      time.Duration // how long the next read waits
	emptyWait time.Duration // how long the reads in a row that brought nothing waited
}

// published is one publish in flight and the stream sequence it replays.
type published struct {
	seq uint64
	ack jetstream.PubAckFuture
}

// batchFor sizes reads to about a second of events at perSecond, so that
// the checkpoint never lags far behind what is acknowledged.
func batchFor(perSecond float64) int {
	if perSecond <= 0 {
		return batchSize
	}
	return max(1, min(batchSize, int(perSecond)))
}

// run reads the stream from the checkpoint and republishes each message,
// saving the checkpoint after every batch of acknowledged publishes.
func (r *Replayer) run(ctx context.Context, cp Checkpoint, progress func(Progress)) (Checkpoint, error) {
	if progress == nil {
		progress = func(Progress) {}
	}
	cons, err := r.reader(ctx, cp)
	if err != nil {
		return r.fail(ctx, cp, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return r.fail(ctx, cp, err)
	}
	after, err := pendingAfter(ctx, r.js, cp.Spec)
	if err != nil {
		return r.fail(ctx, cp, err)
	}
	f := &feed{cp: cp, cons: cons, lim: limiter(cp.Spec.Rate), batch: batchFor(cp.Spec.Rate),
		total: cp.Replayed + info.NumPending - min(info.NumPending, after), start: time.Now(), wait: r.fetchWait}
	for more := true; more && f.sent() < f.total && f.lastSent() < f.cp.EndSeq; {
		if more, err = r.step(ctx, f); err != nil {
			f.confirmAcked()
			return r.fail(ctx, f.cp, err)
		}
		progress(Progress{Done: f.sent(), Total: max(f.total, f.cp.Replayed), Elapsed: time.Since(f.start)})
	}
	if err := r.flush(ctx, f); err != nil {
		f.confirmAcked()
		return r.fail(ctx, f.cp, err)
	}
	f.cp.Status = "done"
	return f.cp, r.save(ctx, &f.cp)
}

// sent counts the events confirmed or in flight.
func (f *feed) sent() uint64 { return f.cp.Replayed + uint64(len(f.inflight)) }

// lastSent is the stream sequence of the last event confirmed or in flight.
func (f *feed) lastSent() uint64 {
	if n := len(f.inflight); n > 0 {
		return f.inflight[n-1].seq
	}
	return f.cp.LastSeq
}

// step reads one batch, confirms the one before it, and publishes the new
// one; more is false once the replay's end is reached. The previous batch
// is checkpointed before this one is published, so a wait on the rate
// limiter never holds back the checkpoint of what is acknowledged.
func (r *Replayer) step(ctx context.Context, f *feed) (more bool, err error) {
	// Ask for no more than is left: a fetch waits until its batch is full
	// or its wait is over.
	left := f.total - f.sent()
	batch, err := f.cons.Fetch(int(min(uint64(f.batch), left)), jetstream.FetchMaxWait(f.wait))
	if err != nil {
		return false, err
	}
	if err := r.flush(ctx, f); err != nil {
		return false, err
	}
	n, done, err := r.publishBatch(ctx, f, batch)
	if err != nil || done {
		return false, err
	}
	if n > 0 {
		f.emptyWait = 0 // the wait stays what the server has needed
		return true, nil
	}
	return f.emptyRead(ctx)
}

// emptyRead handles a read that brought nothing, as one can while the
// server is slow to deliver: the replay is over when nothing is pending
// (the stream's limits may have removed what was counted at the start);
// otherwise the next read waits longer.
func (f *feed) emptyRead(ctx context.Context) (more bool, err error) {
	info, err := f.cons.Info(ctx)
	if err != nil {
		return false, fmt.Errorf("replay reader: %w", err)
	}
	if info.NumPending == 0 {
		if f.total > f.sent() {
			f.cp.Gone += f.total - f.sent()
		}
		return false, nil
	}
	f.emptyWait += f.wait
	if f.emptyWait >= maxEmptyWait {
		return false, fmt.Errorf("reads brought nothing for %s while %d events are pending", f.emptyWait.Round(time.Second), info.NumPending)
	}
	f.wait = min(2*f.wait, maxFetchWait)
	return true, nil
}

// Count is how many events a replay of spec would re-deliver now: those of
// its stream and subjects stored from Since to Until (or to now).
func Count(ctx context.Context, js jetstream.JetStream, spec Spec) (uint64, error) {
	n, err := pendingFrom(ctx, js, spec, spec.Since)
	if err != nil {
		return 0, err
	}
	after, err := pendingAfter(ctx, js, spec)
	if err != nil {
		return 0, err
	}
	return n - min(n, after), nil
}

// pendingAfter counts the messages of spec's stream and subjects stored
// after its Until; none when it has none.
func pendingAfter(ctx context.Context, js jetstream.JetStream, spec Spec) (uint64, error) {
	if spec.Until.IsZero() {
		return 0, nil
	}
	return pendingFrom(ctx, js, spec, spec.Until.Add(time.Nanosecond))
}

// pendingFrom counts the messages of spec's stream and subjects stored at
// or after t.
func pendingFrom(ctx context.Context, js jetstream.JetStream, spec Spec, t time.Time) (uint64, error) {
	cons, err := js.OrderedConsumer(ctx, spec.Stream, jetstream.OrderedConsumerConfig{FilterSubjects: spec.Subjects,
		DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &t, InactiveThreshold: events.ReadOnceInactive})
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", spec.Stream, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", spec.Stream, err)
	}
	return info.NumPending, nil
}

// reader is an ordered consumer positioned after the checkpoint, or at the
// start time for a new replay.
func (r *Replayer) reader(ctx context.Context, cp Checkpoint) (jetstream.Consumer, error) {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: cp.Spec.Subjects}
	if cp.LastSeq > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = cp.LastSeq + 1
	} else {
		since := cp.Spec.Since
		cfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		cfg.OptStartTime = &since
	}
	c, err := r.js.OrderedConsumer(ctx, cp.Spec.Stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", cp.Spec.Stream, err)
	}
	return c, nil
}

// publishBatch republishes one fetched batch asynchronously, adding each
// publish to f.inflight, and returns how many it published. done reports
// that the replay's end (time or sequence) was reached.
func (r *Replayer) publishBatch(ctx context.Context, f *feed, batch jetstream.MessageBatch) (n int, done bool, err error) {
	spec := f.cp.Spec
	for m := range batch.Messages() {
		md, err := m.Metadata()
		if err != nil {
			return n, false, err
		}
		if md.Sequence.Stream > f.cp.EndSeq || (!spec.Until.IsZero() && md.Timestamp.After(spec.Until)) {
			return n, true, nil
		}
		if err := f.lim.Wait(ctx); err != nil {
			return n, false, err
		}
		target := spec.ToSubject
		if spec.To != "" {
			target = events.ReplaySubject(spec.To, m.Subject())
		}
		msg, err := events.ReplayMsg(spec.ID, md.Sequence.Stream, m.Subject(), m.Headers(), m.Data(), target, spec.SideEffects)
		if err != nil {
			return n, false, err
		}
		ack, err := r.js.PublishMsgAsync(msg)
		if err != nil {
			return n, false, fmt.Errorf("replay seq %d: %w", md.Sequence.Stream, err)
		}
		f.inflight = append(f.inflight, published{seq: md.Sequence.Stream, ack: ack})
		n++
	}
	return n, false, batch.Error()
}

// flush waits for every publish in flight, then records the checkpoint: a
// checkpoint never claims a message whose publish was not acknowledged,
// and a resumed replay re-sends at most what was in flight, which the
// destination de-duplicates by Nats-Msg-Id.
func (r *Replayer) flush(ctx context.Context, f *feed) error {
	if len(f.inflight) == 0 {
		return nil
	}
	for len(f.inflight) > 0 {
		ack := f.inflight[0].ack
		select {
		case <-ack.Ok():
			f.confirm(1)
		case err := <-ack.Err():
			return fmt.Errorf("replay publish to %s: %w", ack.Msg().Subject, err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return r.save(ctx, &f.cp)
}

// confirmAcked moves the publishes at the head of f.inflight that are
// acknowledged already into the checkpoint, without waiting, so a replay
// that stops saves all it can claim.
func (f *feed) confirmAcked() {
	n := 0
	for _, p := range f.inflight {
		if !acked(p.ack) {
			break
		}
		n++
	}
	f.confirm(n)
}

// acked reports whether ack has come; it consumes the ack.
func acked(ack jetstream.PubAckFuture) bool {
	select {
	case <-ack.Ok():
		return true
	default:
		return false
	}
}

// confirm moves the first n publishes in flight into the checkpoint.
func (f *feed) confirm(n int) {
	if n == 0 {
		return
	}
	f.cp.LastSeq = f.inflight[n-1].seq
	f.cp.Replayed += uint64(n)
	f.inflight = f.inflight[n:]
}

// fail saves cp as failed, or as interrupted when ctx was cancelled, and
// returns the error that says how to resume.
func (r *Replayer) fail(ctx context.Context, cp Checkpoint, err error) (Checkpoint, error) {
	if errors.Is(err, ErrConflict) {
		return cp, fmt.Errorf("replay %s stopped at seq %d: %w (see `gtmhub replay ls`)", cp.Spec.ID, cp.LastSeq, err)
	}
	cp.Status, cp.Error = "failed", events.Redact(err.Error())
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		cp.Status = "interrupted"
	}
	_ = r.save(context.WithoutCancel(ctx), &cp)
	return cp, fmt.Errorf("replay %s stopped at seq %d (resume with `gtmhub replay resume %s`): %w",
		cp.Spec.ID, cp.LastSeq, cp.Spec.ID, err)
}
