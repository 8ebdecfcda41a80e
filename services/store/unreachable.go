package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gtmhub/gtmhub/events"
)

// A database that cannot be reached (PostgreSQL stopped, restarting, or the
// network to it down) refuses no write for good: the store holds the events
// it has and tries again until the database answers, rather than spend
// their deliveries and dead-letter them. The consumer keeps the held events
// in progress meanwhile, and takes no more.

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
// returns fn's last error, joined with ctx's when ctx ended, so that an
// event held at shutdown is handed back rather than counted as failed. It
// logs once when the database is out of reach and once when it answers
// again.
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
