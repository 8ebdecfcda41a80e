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
// checkpointed at a time.
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
	total uint64 // events to replay, counted when the run began
	start time.Time
	// One batch is in flight while the next is read and published, so the
	// wait for acks overlaps with the work.
	inflight     []jetstream.PubAckFuture
	inflightLast uint64
	wait         time.Duration // how long the next read waits
	emptyWait    time.Duration // how long the reads in a row that brought nothing waited
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
	f := &feed{cp: cp, cons: cons, lim: limiter(cp.Spec.Rate), total: cp.Replayed + info.NumPending,
		start: time.Now(), wait: r.fetchWait}
	for more := true; more && f.sent() < f.total && f.lastSent() < f.cp.EndSeq; {
		if more, err = r.step(ctx, f); err != nil {
			return r.fail(ctx, f.cp, err)
		}
		progress(Progress{Done: f.sent(), Total: max(f.total, f.cp.Replayed), Elapsed: time.Since(f.start)})
	}
	if err := r.flush(ctx, &f.cp, f.inflightLast, f.inflight); err != nil {
		return r.fail(ctx, f.cp, err)
	}
	f.cp.Status = "done"
	return f.cp, r.save(ctx, &f.cp)
}

// sent counts the events confirmed or in flight.
func (f *feed) sent() uint64 { return f.cp.Replayed + uint64(len(f.inflight)) }

// lastSent is the stream sequence of the last event confirmed or in flight.
func (f *feed) lastSent() uint64 { return max(f.cp.LastSeq, f.inflightLast) }

// step reads and publishes one batch, then confirms the one before it;
// more is false once the replay's end is reached.
func (r *Replayer) step(ctx context.Context, f *feed) (more bool, err error) {
	// Ask for no more than is left: a fetch waits until its batch is full
	// or its wait is over.
	left := f.total - f.sent()
	batch, err := f.cons.Fetch(int(min(batchSize, left)), jetstream.FetchMaxWait(f.wait))
	if err != nil {
		return false, err
	}
	last, acks, done, err := r.publishBatch(ctx, f.cp, batch, f.lim)
	if err != nil {
		return false, err
	}
	if err := r.flush(ctx, &f.cp, f.inflightLast, f.inflight); err != nil {
		return false, err
	}
	f.inflight, f.inflightLast = acks, last
	if done {
		return false, nil
	}
	if len(acks) > 0 {
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

// publishBatch republishes one fetched batch asynchronously and returns the
// last sequence sent and the pending acks. done reports that the replay's
// end (time or sequence) was reached.
func (r *Replayer) publishBatch(ctx context.Context, cp Checkpoint, batch jetstream.MessageBatch, lim *rate.Limiter) (last uint64, acks []jetstream.PubAckFuture, done bool, err error) {
	for m := range batch.Messages() {
		md, err := m.Metadata()
		if err != nil {
			return last, acks, false, err
		}
		if md.Sequence.Stream > cp.EndSeq || (!cp.Spec.Until.IsZero() && md.Timestamp.After(cp.Spec.Until)) {
			return last, acks, true, nil
		}
		if err := lim.Wait(ctx); err != nil {
			return last, acks, false, err
		}
		target := cp.Spec.ToSubject
		if cp.Spec.To != "" {
			target = events.ReplaySubject(cp.Spec.To, m.Subject())
		}
		msg, err := events.ReplayMsg(cp.Spec.ID, md.Sequence.Stream, m.Subject(), m.Headers(), m.Data(), target, cp.Spec.SideEffects)
		if err != nil {
			return last, acks, false, err
		}
		f, err := r.js.PublishMsgAsync(msg)
		if err != nil {
			return last, acks, false, fmt.Errorf("replay seq %d: %w", md.Sequence.Stream, err)
		}
		last = md.Sequence.Stream
		acks = append(acks, f)
	}
	return last, acks, false, batch.Error()
}

// flush waits for every outstanding publish, then records the checkpoint:
// a checkpoint never claims a message whose publish was not acknowledged,
// and a resumed replay re-sends at most one batch, which the destination
// de-duplicates by Nats-Msg-Id.
func (r *Replayer) flush(ctx context.Context, cp *Checkpoint, last uint64, acks []jetstream.PubAckFuture) error {
	if len(acks) == 0 {
		return nil
	}
	for _, f := range acks {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("replay publish to %s: %w", f.Msg().Subject, err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	cp.LastSeq = last
	cp.Replayed += uint64(len(acks))
	return r.save(ctx, cp)
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
