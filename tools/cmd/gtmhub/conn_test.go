package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/gtmhub/gtmhub/events/eventstest"
)

// TestConnectionFromEnvironment: the connection flags fall back to their
// environment variables, which connect a command to a server wanting a user
// and password, and --help never shows what they hold.
func TestConnectionFromEnvironment(t *testing.T) {
	srv := eventstest.RunServer(t, eventstest.WithUser("ops", "env-s3cret"))
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string
	}{
		{name: "url, user and password from the environment",
			env:  map[string]string{"GTMHUB_NATS_URL": srv.ClientURL(), "NATS_USER": "ops", "NATS_PASSWORD": "env-s3cret"},
			args: []string{"status", "--json"}},
		{name: "credentials in the URL from the environment",
			env:  map[string]string{"NATS_URL": strings.Replace(srv.ClientURL(), "nats://", "nats://ops:env-s3cret@", 1)},
			args: []string{"status", "--json"}},
		{name: "a flag wins over the environment",
			env:     map[string]string{"GTMHUB_NATS_URL": srv.ClientURL(), "NATS_USER": "ops", "NATS_PASSWORD": "env-s3cret"},
			args:    []string{"status", "--password", "wr0ng"},
			wantErr: "refused the credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			out, err := cli(t, tt.args...)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			help, err := cli(t, tt.args[0], "--help")
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(help, "env-s3cret") {
				t.Errorf("--help shows the password:\n%s", help)
			}
		})
	}
}

// cli runs the CLI with args and nothing else.
func cli(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// TestCommandsHaveNoDeadline: a command connected by withJS runs until it
// is done or interrupted, so a long rate-limited replay or redrive is not
// cut off by a hidden deadline; cancelling its context still stops it.
func TestCommandsHaveNoDeadline(t *testing.T) {
	srv := eventstest.RunServer(t)
	cmd := &cobra.Command{Use: "probe", RunE: withJS(func(ctx context.Context, _ *cobra.Command, _ jetstream.JetStream, _ []string) error {
		if d, ok := ctx.Deadline(); ok {
			t.Errorf("the command's context ends at %s", d)
		}
		<-ctx.Done()
		return ctx.Err()
	})}
	connFlags(cmd.Flags())
	cmd.SetArgs([]string{"--nats-url", srv.ClientURL()})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := cmd.ExecuteContext(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("interrupted command: %v, want context.Canceled", err)
	}
}
