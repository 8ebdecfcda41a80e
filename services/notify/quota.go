package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
)

// QuotaBucket holds the email quota's daily counters, keyed email.{date}.
const QuotaBucket = "notify-quota"

// DeferredBucket holds the notifications deferred by the daily quota, keyed
// by decision id, until the day they may be sent.
//
// Why a bucket and not RetryAfter until midnight: every redelivery counts
// toward the consumer's MaxDeliver, and a quota reached early in the day
// would need a delay longer than the consumer tolerates, so the event would
// end in the DLQ. Instead notify acks the event, stores the notification
// here (and marks it deferred in the ledger), and a ticker sends what is due
// once the day changes, within that day's quota. Nothing is lost across
// restarts: the bucket is on disk and read again at start.
const DeferredBucket = "notify-deferred"

// quota counts the emails sent per local day in KV, so every instance and
// restart shares it.
type quota struct {
	// mu makes one reservation at a time in this process, so the levels it
	// crosses are reported in order.
	mu     sync.Mutex
	kv     jetstream.KeyValue
	limit  int
	loc    *time.Location
	levels []int
	now    func() time.Time
	// crossed is called with the usage level (percent) a reservation
	// crossed; the alerter raises each level once a day, so a reservation
	// given back and taken again does not raise it twice.
	crossed func(ctx context.Context, day string, level, used, limit int)
	// used, when set, is told the day's count after every reservation and
	// refund.
	used func(ctx context.Context, day string, used, limit int)
}

func openQuota(ctx context.Context, open bucketOpener, limit int, loc *time.Location, levels []int) (*quota, error) {
	kv, err := open(ctx, jetstream.KeyValueConfig{
		Bucket:      QuotaBucket,
		Description: "emails sent per local day, against the daily quota",
		TTL:         72 * time.Hour,
		History:     1,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("quota bucket %s: %w", QuotaBucket, err)
	}
	return &quota{kv: kv, limit: limit, loc: loc, levels: levels, now: time.Now}, nil
}

// day is the local date of t.
func (q *quota) day(t time.Time) string { return t.In(q.loc).Format(time.DateOnly) }

// reserve takes one email from today's quota and returns the day it was
// charged to, or ok=false when the quota is used up. The count is moved by
// compare-and-swap on the day's KV entry, so it stays a hard ceiling across
// workers and replicas. A reservation whose email the server does not
// accept is given back with [quota.refund].
func (q *quota) reserve(ctx context.Context) (day string, ok bool, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	day = q.day(q.now())
	key := "email." + day
	for {
		used, rev, err := q.get(ctx, key)
		if err != nil {
			return "", false, err
		}
		if used >= q.limit {
			return "", false, nil
		}
		err = q.set(ctx, key, used+1, rev)
		switch {
		case err == nil:
			q.notify(ctx, day, used, used+1)
			q.report(ctx, day, used+1)
			return day, true, nil
		case events.KVConflict(err):
			continue // another writer: read again
		default:
			return "", false, fmt.Errorf("quota %s: %w", key, err)
		}
	}
}

// refund gives back one email reserved on day whose send did not end in a
// message the server accepted: a temporary failure (4xx, connection lost),
// which a retry reserves again, and a permanent refusal (5xx, a bad
// address), since the provider sent nothing either way. The quota counts
// emails sent, not attempts. A day whose counter has expired has nothing to
// give back.
func (q *quota) refund(ctx context.Context, day string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := "email." + day
	for {
		used, rev, err := q.get(ctx, key)
		if err != nil {
			return err
		}
		if rev == 0 || used == 0 {
			return nil
		}
		err = q.set(ctx, key, used-1, rev)
		switch {
		case err == nil:
			q.report(ctx, day, used-1)
			return nil
		case events.KVConflict(err):
			continue // another writer: read again
		default:
			return fmt.Errorf("quota %s: %w", key, err)
		}
	}
}

// set writes n to key if it is still at revision rev (0: absent). It fails
// with an error [events.KVConflict] reports when another writer got there
// first.
func (q *quota) set(ctx context.Context, key string, n int, rev uint64) error {
	v := []byte(strconv.Itoa(n))
	if rev == 0 {
		_, err := q.kv.Create(ctx, key, v)
		return err
	}
	_, err := q.kv.Update(ctx, key, v, rev)
	return err
}

// report tells q.used the day's count, when it is set.
func (q *quota) report(ctx context.Context, day string, used int) {
	if q.used != nil {
		q.used(ctx, day, used, q.limit)
	}
}

func (q *quota) get(ctx context.Context, key string) (int, uint64, error) {
	e, err := q.kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return 0, 0, nil
	case err != nil:
		return 0, 0, fmt.Errorf("quota %s: %w", key, err)
	}
	n, err := strconv.Atoi(string(e.Value()))
	if err != nil {
		return 0, 0, fmt.Errorf("quota %s: %w", key, err)
	}
	return n, e.Revision(), nil
}

// notify reports every level the count crossed going from before to after.
func (q *quota) notify(ctx context.Context, day string, before, after int) {
	if q.crossed == nil {
		return
	}
	for _, lvl := range q.levels {
		if before*100 < lvl*q.limit && after*100 >= lvl*q.limit {
			q.crossed(ctx, day, lvl, after, q.limit)
		}
	}
}

// nextDay is the local date after t's.
func (q *quota) nextDay(t time.Time) string {
	l := t.In(q.loc)
	return time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, q.loc).Format(time.DateOnly)
}

// deferred is a notification waiting in [DeferredBucket].
type deferred struct {
	Rule      string            `json:"rule"`
	Channel   contracts.Channel `json:"channel"`
	Target    string            `json:"target"`
	DedupeKey string            `json:"dedupe_key"`
	// Due is the local date from which it may be sent.
	Due   string      `json:"due"`
	Event event.Event `json:"event"`
}

func openDeferred(ctx context.Context, open bucketOpener) (jetstream.KeyValue, error) {
	kv, err := open(ctx, jetstream.KeyValueConfig{
		Bucket:      DeferredBucket,
		Description: "notifications deferred by the daily email quota, by decision id",
		History:     1,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("deferred bucket %s: %w", DeferredBucket, err)
	}
	return kv, nil
}

// deferNotification stores the claimed notification in the deferred bucket
// for the next day, marks it deferred in the ledger and records a
// suppressed decision saying so.
func (n *notifier) deferNotification(ctx context.Context, ev event.Event, m Match, id string, rev uint64) error {
	due := n.quota.nextDay(n.now())
	b, err := json.Marshal(deferred{Rule: m.Rule, Channel: m.Channel, Target: m.Target, DedupeKey: m.DedupeKey, Due: due, Event: ev})
	if err != nil {
		return n.releasing(ctx, id, rev, fmt.Errorf("deferred entry: %w", err))
	}
	if _, err := n.deferredKV.Put(ctx, id, b); err != nil {
		return n.releasing(ctx, id, rev, fmt.Errorf("defer %s: %w", id, err))
	}
	reason := fmt.Sprintf("daily email quota of %d reached: deferred to %s", n.quota.limit, due)
	entry := LedgerEntry{Rule: m.Rule, Channel: m.Channel, State: StateDeferred, Reason: reason, EventID: ev.ID(), At: n.now()}
	return n.finish(ctx, ev, m, id, rev, entry)
}

// sendDeferred sends the deferred notifications that are due, within
// today's quota, and returns how many it sent. It stops at the first one
// the quota refuses.
func (n *notifier) sendDeferred(ctx context.Context) (int, error) {
	keys, err := n.deferredKV.ListKeys(ctx)
	if err != nil {
		return 0, fmt.Errorf("deferred keys: %w", err)
	}
	today := n.quota.day(n.now())
	sent := 0
	for id := range keys.Keys() {
		done, err := n.sendOneDeferred(ctx, id, today)
		if errors.Is(err, errQuotaReached) {
			_ = keys.Stop()
			return sent, nil
		}
		if err != nil {
			_ = keys.Stop()
			return sent, err
		}
		if done {
			sent++
		}
	}
	return sent, nil
}

// sendOneDeferred sends deferred notification id if it is due. A send the
// channel refuses for good is recorded as failed and leaves the bucket; a
// transient failure leaves it for the next tick.
func (n *notifier) sendOneDeferred(ctx context.Context, id, today string) (bool, error) {
	kve, err := n.deferredKV.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("deferred %s: %w", id, err)
	}
	var d deferred
	if err := json.Unmarshal(kve.Value(), &d); err != nil {
		return false, fmt.Errorf("deferred %s: %w", id, err)
	}
	if d.Due > today {
		return false, nil
	}
	cur, rev, err := n.ledger.get(ctx, id)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		cur = LedgerEntry{State: StateDeferred} // expired from the ledger: still owed
	case err != nil:
		return false, err
	}
	if cur.State != StateDeferred {
		// Already settled (a crash after sending, before this delete).
		return false, n.deferredKV.Delete(ctx, id, jetstream.LastRevision(kve.Revision()))
	}
	claim := LedgerEntry{Rule: d.Rule, Channel: d.Channel, State: StateClaimed, EventID: d.Event.ID(), At: n.now()}
	if rev == 0 {
		var claimed bool
		if _, rev, claimed, err = n.ledger.claim(ctx, id, claim); err == nil && !claimed {
			return false, nil // another instance has it
		}
	} else {
		rev, err = n.ledger.update(ctx, id, rev, claim)
	}
	if err != nil {
		return false, err
	}
	data, err := decodeData(d.Event)
	if err != nil {
		return false, n.releasing(ctx, id, rev, err)
	}
	m := Match{Rule: d.Rule, Channel: d.Channel, Target: d.Target, DedupeKey: d.DedupeKey}
	err = n.act(ctx, d.Event, data, m, id, rev, actOptions{})
	if errors.Is(err, errQuotaReached) {
		// act released the claim: put the notification back as deferred.
		back := LedgerEntry{Rule: d.Rule, Channel: d.Channel, State: StateDeferred, EventID: d.Event.ID(), At: n.now(), Published: true}
		return false, errors.Join(err, n.ledger.put(ctx, id, back))
	}
	if err != nil && !events.IsPermanent(err) {
		return false, err
	}
	if derr := n.deferredKV.Delete(ctx, id, jetstream.LastRevision(kve.Revision())); derr != nil {
		return false, fmt.Errorf("deferred %s: %w", id, derr)
	}
	return err == nil, nil
}
