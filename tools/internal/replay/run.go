package replay

import (
	"context"
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
// have come back empty.
const maxFetchWait = 30 * time.Second

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
	total := cp.Replayed + info.NumPending
	lim := limiter(cp.Spec.Rate)
	start := time.Now()
	// One batch is in flight while the next is read and published, so the
	// wait for acks overlaps with the work.
	var inflight []jetstream.PubAckFuture
	var inflightLast uint64
	wait := r.fetchWait
	for cp.Replayed+uint64(len(inflight)) < total && max(cp.LastSeq, inflightLast) < cp.EndSeq {
		// Ask for no more than is left: a fetch waits until its batch is
		// full or its wait is over.
		left := total - cp.Replayed - uint64(len(inflight))
		batch, err := cons.Fetch(int(min(batchSize, left)), jetstream.FetchMaxWait(wait))
		if err != nil {
			return r.fail(ctx, cp, err)
		}
		last, acks, done, err := r.publishBatch(ctx, cp, batch, lim)
		if err != nil {
			return r.fail(ctx, cp, err)
		}
		if err := r.flush(ctx, &cp, inflightLast, inflight); err != nil {
			return r.fail(ctx, cp, err)
		}
		inflight, inflightLast = acks, last
		progress(Progress{Done: cp.Replayed + uint64(len(inflight)), Total: max(total, cp.Replayed), Elapsed: time.Since(start)})
		if done {
			break
		}
		if len(acks) == 0 {
			// A fetch can come back empty while the server is slow to
			// deliver: the replay is over only when nothing is pending,
			// and the next read waits longer.
			if over, err := drained(ctx, cons); err != nil || over {
				if err != nil {
					return r.fail(ctx, cp, err)
				}
				break
			}
			wait = min(2*wait, maxFetchWait)
		}
	}
	if err := r.flush(ctx, &cp, inflightLast, inflight); err != nil {
		return r.fail(ctx, cp, err)
	}
	cp.Status = "done"
	return cp, r.save(ctx, &cp)
}

// drained reports whether the reader has nothing left to deliver: the
// messages counted at the start may since have been removed by the stream's
// limits.
func drained(ctx context.Context, cons jetstream.Consumer) (bool, error) {
	info, err := cons.Info(ctx)
	if err != nil {
		return false, fmt.Errorf("replay reader: %w", err)
	}
	return info.NumPending == 0, nil
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

func (r *Replayer) fail(ctx context.Context, cp Checkpoint, err error) (Checkpoint, error) {
	cp.Status, cp.Error = "failed", events.Redact(err.Error())
	_ = r.save(context.WithoutCancel(ctx), &cp)
	return cp, fmt.Errorf("replay %s stopped at seq %d (resume with `gtmhub replay resume %s`): %w",
		cp.Spec.ID, cp.LastSeq, cp.Spec.ID, err)
}
