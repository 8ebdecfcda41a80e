// Command ingest receives webhooks and CloudEvents over HTTP and publishes
// them to NATS JetStream. See package ingest.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/services/ingest"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	err := service.Binary[ingest.Config]{
		Name:   "ingest",
		Config: ingest.DefaultConfig(),
		Flags: func(fs *flag.FlagSet, c *ingest.Config) {
			fs.StringVar(&c.HTTPAddr, "http", c.HTTPAddr, "address for POST /webhooks/{source} and POST /events (env GTMHUB_HTTP_ADDR)")
		},
		Env: func(c *ingest.Config) {
			c.HTTPAddr = service.Env(c.HTTPAddr, "GTMHUB_HTTP_ADDR")
		},
		Validate: ingest.Config.Validate,
		Run:      ingest.Run,
		NATSURL:  func(c *ingest.Config) *string { return &c.NATSURL },
	}.Main(ctx, os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}
