package main

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gtmhub/gtmhub/events/service"
)

// connFlags are the NATS connection options, named as the nats CLI names
// them, shared by every command.
func connFlags(fs *pflag.FlagSet) {
	fs.String("nats-url", "", "NATS server URL (env GTMHUB_NATS_URL; default nats://127.0.0.1:4222)")
	fs.String("creds", "", "user credentials file (env NATS_CREDS)")
	fs.String("user", "", "user name (env NATS_USER)")
	fs.String("password", "", "password (env NATS_PASSWORD)")
	fs.String("tlscert", "", "TLS client certificate")
	fs.String("tlskey", "", "TLS client key")
	fs.String("tlsca", "", "TLS certificate authority")
	fs.Duration("timeout", 3*time.Second, "how long to wait for the server")
}

// connFlag is a connection flag's value or, when it is not given, its
// environment variable's. The variables are not the flags' defaults, so that
// --help never prints a password.
func connFlag(fs *pflag.FlagSet, name string) string {
	if fs.Changed(name) {
		v, _ := fs.GetString(name)
		return v
	}
	switch name {
	case "nats-url":
		return service.Env("", "GTMHUB_NATS_URL", "NATS_URL")
	case "creds":
		return service.Env("", "NATS_CREDS")
	case "user":
		return service.Env("", "NATS_USER")
	case "password":
		return service.Env("", "NATS_PASSWORD")
	}
	return ""
}

func natsOptions(fs *pflag.FlagSet) []nats.Option {
	get := func(name string) string { return connFlag(fs, name) }
	opts := service.Credentials(get("creds"), get("user"), get("password"))
	if c, k := get("tlscert"), get("tlskey"); c != "" || k != "" {
		opts = append(opts, nats.ClientCert(c, k))
	}
	if ca := get("tlsca"); ca != "" {
		opts = append(opts, nats.RootCAs(ca))
	}
	return opts
}

// dial connects to NATS for one command and fails clearly when no server
// answers.
func dial(ctx context.Context, cmd *cobra.Command) (*nats.Conn, jetstream.JetStream, error) {
	fs := cmd.Flags()
	url := connFlag(fs, "nats-url")
	if url == "" {
		url = "nats://127.0.0.1:4222"
	}
	timeout, _ := fs.GetDuration("timeout")
	opts := append(natsOptions(fs), nats.Name("gtmhub-cli"), nats.Timeout(timeout))
	nc, err := service.Dial(url, "start one with `gtmhub up` or pass --nats-url", opts...)
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// withJS connects to NATS for the duration of a command. The command runs
// until it is done or interrupted (Ctrl-C cancels its context), with no
// deadline of its own: a rate-limited backfill may take days, and each
// JetStream request is bounded by the client's API timeout.
func withJS(fn func(ctx context.Context, cmd *cobra.Command, js jetstream.JetStream, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		ctx := cmd.Context()
		nc, js, err := dial(ctx, cmd)
		if err != nil {
			return err
		}
		defer nc.Close()
		return fn(ctx, cmd, js, args)
	}
}
