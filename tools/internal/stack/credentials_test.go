package stack_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/tools/internal/stack"
)

// TestRunOnServerNeedingCredentials runs the stack on a server that wants a
// user and a password: with them it comes up; without them, or with a wrong
// password, it stops at once with the server's reason.
func TestRunOnServerNeedingCredentials(t *testing.T) {
	ns := eventstest.RunServer(t, eventstest.WithoutTopology(), eventstest.WithUser("gtm", "right-pass"))
	tests := []struct {
		name    string
		opts    []nats.Option
		wantErr string // "" when the stack must come up
	}{
		{"right password", []nats.Option{nats.UserInfo("gtm", "right-pass")}, ""},
		{"wrong password", []nats.Option{nats.UserInfo("gtm", "wrong-pass")}, "Authorization Violation"},
		{"no credentials", nil, "Authorization Violation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := stack.DefaultConfig()
			cfg.DataDir, cfg.NATSURL, cfg.NATSOptions = t.TempDir(), ns.ClientURL(), tt.opts
			cfg.HTTPAddr, cfg.AdminAddr = "127.0.0.1:0", "127.0.0.1:0"
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			ready := make(chan stack.Addrs, 1)
			done := make(chan error, 1)
			go func() { done <- stack.Run(ctx, cfg, stack.WithReady(func(a stack.Addrs) { ready <- a })) }()
			select {
			case <-ready:
				if tt.wantErr != "" {
					t.Fatalf("the stack came up, want %q", tt.wantErr)
				}
				cancel()
				if err := <-done; err != nil {
					t.Errorf("stack.Run: %v", err)
				}
			case err := <-done:
				if tt.wantErr == "" || err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("stack.Run() = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "pass") {
					t.Errorf("the error holds a password: %v", err)
				}
			case <-time.After(10 * time.Second): // the requests' own timeout is 30s
				t.Fatal("no answer within 10s")
			}
		})
	}
}
