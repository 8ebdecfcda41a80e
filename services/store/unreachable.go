package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gtmhub/gtmhub/events"
)

// A database that cannot be reached (PostgreSQL stopped, restarting, or the
// network to it down) refuses no write for good: the store holds the events
// it has and tries again until the database answers, rather than spend
// their deliveries and dead-letter them. The writes wait in the batcher
// (see batcher.hold), which tries one batch again at a time; the consumer
// keeps the held events in progress meanwhile, and takes no more than its
// handlers hold. At start, the store waits for the database to open it
// (untilReachable).

// Backoff of the tries while the database cannot be reached.
const (
	firstUnreachableWait = 250 * time.Millisecond
	maxUnreachableWait   = 10 * time.Second
)

// maxHold bounds how long one event is held: past it, its error is
// returned and the event is retried and, in the end, dead-lettered as any
// other, so that a failure mistaken for an outage cannot pin a worker.
const maxHold = 30 * time.Minute

// untilReachable runs fn until it succeeds, fails for another reason than
// the database being out of reach, maxHold has passed, or ctx ends; it
// returns fn's last error, joined with ctx's when ctx ended, so that a
// store stopped while waiting for its database says why. It logs once when
// the database is out of reach and once when it answers again.
func untilReachable(ctx context.Context, log *slog.Logger, fn func() error) error {
	wait, since := firstUnreachableWait, time.Time{}
	for {
		err := fn()
		if err == nil || !unreachable(err) || (!since.IsZero() && time.Since(since) > maxHold) {
			if !since.IsZero() && err == nil {
				log.InfoContext(ctx, "database answers again")
			}
			return err
		}
		if since.IsZero() {
			since = time.Now()
			log.WarnContext(ctx, "database out of reach; trying again until it answers", "err", events.Redact(err.Error()))
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-time.After(wait):
		}
		wait = min(2*wait, maxUnreachableWait)
	}
}

// unreachable reports whether err says the database could not be reached or
// dropped the connection, as opposed to refusing what was asked of it.
func unreachable(err error) bool {
	var (
		connect *pgconn.ConnectError
		pgErr   *pgconn.PgError
		netErr  net.Error
	)
	switch {
	case errors.As(err, &connect), errors.As(err, &netErr), errors.Is(err, driver.ErrBadConn):
		return true
	case errors.As(err, &pgErr):
		// Class 08, connection exception, but for a protocol violation
		// (08P01), which a request can cause; 57P01-57P03: the server is
		// shutting down, restarting or not yet accepting connections.
		return strings.HasPrefix(pgErr.Code, "08") && pgErr.Code != "08P01" ||
			pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	return pgconn.Timeout(err) || strings.Contains(err.Error(), "conn closed") ||
		strings.Contains(err.Error(), "unexpected EOF")
}

// outage is whether the database answers, as the batcher's workers find it.
// While it cannot be reached, one held batch at a time, the prober, tries
// its transaction again with backoff, and the other workers hold theirs
// until the outage ends or the prober leaves, so that an outage costs one
// try per wait for the whole store, and logs one line when it starts and
// one when the database answers again.
type outage struct {
	log         *slog.Logger
	first, most time.Duration // backoff of the prober's tries

	mu      sync.Mutex
	since   time.Time     // when the outage started; zero while the database answers
	err     error         // the error of its last try
	wait    time.Duration // before the prober's next try
	prober  *held         // the batch trying the database; nil for none
	changed chan struct{} // closed, and replaced, when the outage ends or its prober leaves
}

func newOutage(log *slog.Logger) *outage {
	return &outage{log: log, first: firstUnreachableWait, most: maxUnreachableWait, changed: make(chan struct{})}
}

// turn reports whether h may try its transaction now: while the database
// answers, and during an outage when no other batch probes it, h then
// becoming the prober. Otherwise it returns a channel closed when that may
// have changed, and the outage's last error.
func (o *outage) turn(h *held) (bool, <-chan struct{}, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.since.IsZero() || o.prober == h {
		return true, nil, nil
	}
	if o.prober == nil {
		o.prober = h
		return true, nil, nil
	}
	return false, o.changed, o.err
}

// failed records that h's transaction found the database out of reach,
// starting an outage, and logging it, if there is none. It returns how long
// h waits before trying again when h probes, 0 when another batch does,
// and a channel closed when the outage ends or its prober leaves.
func (o *outage) failed(ctx context.Context, h *held, err error) (time.Duration, <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.err = err
	if o.since.IsZero() {
		o.since, o.wait = time.Now(), o.first
		o.log.WarnContext(ctx, "database out of reach; holding writes until it answers", "err", events.Redact(err.Error()))
	}
	if o.prober == nil {
		o.prober = h
	}
	if o.prober != h {
		return 0, o.changed
	}
	wait := o.wait
	o.wait = min(2*o.wait, o.most)
	return wait, o.changed
}

// answered ends the outage, if there is one, and logs that it did.
func (o *outage) answered(ctx context.Context) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.since.IsZero() {
		return
	}
	o.log.InfoContext(ctx, "database answers again", "out_of_reach_for", time.Since(o.since).Round(time.Millisecond).String())
	o.since, o.err, o.prober = time.Time{}, nil, nil
	o.broadcast()
}

// leave ends h's probing, if it probes, for another held batch to take
// over.
func (o *outage) leave(h *held) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.prober == h {
		o.prober = nil
		o.broadcast()
	}
}

// broadcast wakes the batches waiting for a change. o.mu is held.
func (o *outage) broadcast() {
	close(o.changed)
	o.changed = make(chan struct{})
}
