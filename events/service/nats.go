package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	neturl "net/url"
	"regexp"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/events"
)

// Connect dials NATS at url as name, reconnecting for ever with jittered
// waits, and returns the connection and its JetStream context. Connection
// state changes are logged.
func Connect(ctx context.Context, url, name string, log *slog.Logger, opts ...nats.Option) (*nats.Conn, jetstream.JetStream, error) {
	failures := newFailureLog(log)
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
		nats.ReconnectHandler(func(c *nats.Conn) {
			failures.reset()
			log.Info("nats reconnected", "url", c.ConnectedUrlRedacted())
		}),
		nats.ConnectHandler(func(*nats.Conn) { failures.reset() }),
		// Attempts that cannot reach a server, and the first refusal of
		// the first connection (wrong credentials, TLS), say why here;
		// without it the first sign is a request failing with
		// "connection closed". A server that keeps refusing the
		// credentials closes the connection, which says why below.
		nats.ReconnectErrHandler(failures.connectFailed),
		nats.ClosedHandler(func(c *nats.Conn) {
			if err := c.LastError(); err != nil {
				log.Warn("nats connection closed", "last_err", err)
			}
		}),
	}
	nc, err := nats.Connect(url, append(base, opts...)...)
	if bad, ok := unparsable(err); ok {
		return nil, nil, fmt.Errorf("connect nats: %w", bad)
	}
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

// Dial connects to NATS at url once, without retrying, for a command that
// fails at once when no server answers. Its error says what to do: a
// refusal names the credential flags; otherwise it says no server answered
// and adds hint. The URL is redacted in both; one that does not parse is
// not quoted at all.
func Dial(url, hint string, opts ...nats.Option) (*nats.Conn, error) {
	nc, err := nats.Connect(url, opts...)
	if bad, ok := unparsable(err); ok {
		return nil, bad
	}
	if errors.Is(err, nats.ErrAuthorization) {
		return nil, fmt.Errorf("NATS at %s refused the credentials (%w): pass --creds, or --user and --password", events.Redact(url), err)
	}
	if err != nil {
		return nil, fmt.Errorf("no NATS server at %s (%s): %s", events.Redact(url), events.Redact(err.Error()), hint)
	}
	return nc, nil
}

// quoted matches a quoted part of a URL parser's error.
var quoted = regexp.MustCompile(`"[^"]*"`)

// unparsable returns, for the error of a NATS URL that does not parse, one
// that says so without quoting the URL or any part of it: a password is what
// often makes a URL unparsable (a space or a slash in it), and then Redact
// cannot tell where it ends.
func unparsable(err error) (error, bool) {
	var bad *neturl.Error
	if !errors.As(err, &bad) {
		return nil, false
	}
	return fmt.Errorf("the NATS URL does not parse (%s): write it as nats://[user:password@]host:port, "+
		"with any reserved character of the password percent-encoded", quoted.ReplaceAllString(bad.Err.Error(), `"…"`)), true
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
// every 100th of that kind while the failures go on, since attempts come
// several times a second (once per server of the pool).
type failureLog struct {
	log    *slog.Logger
	mu     sync.Mutex
	counts map[string]int
}

// newFailureLog logs to log.
func newFailureLog(log *slog.Logger) *failureLog {
	return &failureLog{log: log, counts: map[string]int{}}
}

// connectFailed is the connection's error callback for failed attempts.
func (f *failureLog) connectFailed(_ *nats.Conn, err error) {
	f.mu.Lock()
	f.counts[err.Error()]++
	n := f.counts[err.Error()]
	f.mu.Unlock()
	if n == 1 || n%100 == 0 {
		f.log.Warn("nats connect failed", "err", err, "attempts", n)
	}
}

// reset starts counting afresh once a connection is made, so that the next
// outage is logged from its first failure.
func (f *failureLog) reset() {
	f.mu.Lock()
	clear(f.counts)
	f.mu.Unlock()
}
