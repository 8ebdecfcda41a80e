package service

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Connect dials NATS at url as name, reconnecting for ever with jittered
// waits, and returns the connection and its JetStream context. Connection
// state changes are logged.
func Connect(ctx context.Context, url, name string, log *slog.Logger, opts ...nats.Option) (*nats.Conn, jetstream.JetStream, error) {
	base := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "url", c.ConnectedUrlRedacted()) }),
		// A server that refuses the connection (wrong credentials, TLS)
		// says why here; without it the first sign is a request failing
		// with "connection closed".
		nats.ReconnectErrHandler(newFailureLog(log).connectFailed),
		nats.ClosedHandler(func(c *nats.Conn) {
			if err := c.LastError(); err != nil {
				log.Error("nats connection closed", "err", err)
			}
		}),
	}
	nc, err := nats.Connect(url, append(base, opts...)...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect nats: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}

// Credentials returns the connect options for a credentials file or a user
// and password; none when all are empty.
func Credentials(credsFile, user, password string) []nats.Option {
	var opts []nats.Option
	if credsFile != "" {
		opts = append(opts, nats.UserCredentials(credsFile))
	}
	if user != "" {
		opts = append(opts, nats.UserInfo(user, password))
	}
	return opts
}

// failureLog logs failed connection attempts: the first of each kind, then
// every 100th while it repeats, since attempts come four times a second.
type failureLog struct {
	log   *slog.Logger
	mu    sync.Mutex
	last  string
	count int
}

func newFailureLog(log *slog.Logger) *failureLog { return &failureLog{log: log} }

func (f *failureLog) connectFailed(_ *nats.Conn, err error) {
	f.mu.Lock()
	msg := err.Error()
	if msg != f.last {
		f.last, f.count = msg, 0
	}
	f.count++
	n := f.count
	f.mu.Unlock()
	if n == 1 || n%100 == 0 {
		f.log.Warn("nats connect failed", "err", err, "attempts", n)
	}
}
