package service_test

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
)

// syncBuffer is a log sink the connection's callbacks can write to while
// the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// unparsableURLs are NATS URLs that do not parse, with the secrets their
// errors must not quote.
var unparsableURLs = []struct {
	name, url string
	secrets   []string
}{
	{"a space in the host", "nats://gtm:hunter2-pass@bad host:4222", []string{"hunter2-pass"}},
	{"an open bracket", "nats://gtm:s3cret@[::1", []string{"s3cret"}},
	{"a space in the password", "nats://gtm:hunter2 pass@127.0.0.1:4222", []string{"hunter2", "pass@"}},
	{"a slash in the password", "nats://gtm:hun/ter2@127.0.0.1:4222", []string{"hun", "ter2"}},
}

// TestConnectRedactsABadURL: a URL that does not parse is refused with an
// error that says so and quotes no part of the password.
func TestConnectRedactsABadURL(t *testing.T) {
	for _, tt := range unparsableURLs {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := service.Connect(t.Context(), tt.url, "test", slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), "does not parse") {
				t.Fatalf("Connect() = %v, want an error saying the URL does not parse", err)
			}
			for _, s := range tt.secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("err quotes %q: %v", s, err)
				}
			}
		})
	}
}

// TestConnectSaysWhyItCannotConnect: a connection that keeps failing is
// logged with the server's reason, once for a run of the same failure, and
// without the password.
func TestConnectSaysWhyItCannotConnect(t *testing.T) {
	ns := eventstest.RunServer(t, eventstest.WithoutTopology(), eventstest.WithUser("gtm", "right-pass"))
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nobody := "nats://" + free.Addr().String()
	free.Close()
	tests := []struct {
		name, url string
		opts      []nats.Option
		want      string // in the last "nats connect failed" line
	}{
		{"wrong password", ns.ClientURL(), []nats.Option{nats.UserInfo("gtm", "wrong-pass")}, "Authorization Violation"},
		{"no server", nobody, nil, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs syncBuffer
			log := slog.New(slog.NewJSONHandler(&logs, nil))
			nc, _, err := service.Connect(t.Context(), tt.url, "test", log, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			// Long enough for several attempts 250 ms apart.
			time.Sleep(1500 * time.Millisecond)
			var failed []string
			for line := range strings.SplitSeq(logs.String(), "\n") {
				if strings.Contains(line, `"msg":"nats connect failed"`) {
					failed = append(failed, line)
				}
			}
			// The first report of an initial failure can be the client's
			// own "no servers available"; the server's reason follows.
			if len(failed) == 0 || len(failed) > 2 || !strings.Contains(failed[len(failed)-1], tt.want) {
				t.Errorf("connect failures logged: %q, want at most two, the last saying %q", failed, tt.want)
			}
			if strings.Contains(logs.String(), "wrong-pass") {
				t.Errorf("the logs hold the password: %s", logs.String())
			}
		})
	}
}

// TestDialSaysWhatToDo: a refusal names the credential flags, a missing
// server gets the caller's hint, and neither error quotes a password.
func TestDialSaysWhatToDo(t *testing.T) {
	ns := eventstest.RunServer(t, eventstest.WithoutTopology(), eventstest.WithUser("gtm", "right-pass"))
	tests := []struct {
		name    string
		url     string
		opts    []nats.Option
		want    string // in the error; "" for a connection
		secrets []string
	}{
		{name: "right credentials", url: ns.ClientURL(), opts: []nats.Option{nats.UserInfo("gtm", "right-pass")}},
		{name: "wrong password", url: ns.ClientURL(), opts: []nats.Option{nats.UserInfo("gtm", "wrong-pass")},
			want: "refused the credentials", secrets: []string{"wrong-pass"}},
		{name: "no server", url: "nats://gtm:s3cret-pass@127.0.0.1:1", want: "no NATS server at nats://gtm:[REDACTED]@127.0.0.1:1",
			secrets: []string{"s3cret-pass"}},
		{name: "hint", url: "nats://127.0.0.1:1", want: "start one here"},
	}
	for _, u := range unparsableURLs {
		tests = append(tests, struct {
			name    string
			url     string
			opts    []nats.Option
			want    string
			secrets []string
		}{name: u.name, url: u.url, want: "the NATS URL does not parse", secrets: u.secrets})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc, err := service.Dial(tt.url, "start one here", append(tt.opts, nats.Timeout(time.Second))...)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				nc.Close()
				return
			}
			if err == nil {
				nc.Close()
				t.Fatalf("connected, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
			for _, s := range tt.secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("err quotes %q: %v", s, err)
				}
			}
		})
	}
}
