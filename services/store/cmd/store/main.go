// Command store runs the store service on its own: it keeps contacts and
// companies from enriched leads and publishes their changes. See package
// store.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/services/store"
)

func main() {
	if err := run(context.Background()); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "store:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	return service.Binary[store.Config]{
		Name:   store.Name,
		Config: store.DefaultConfig(),
		Flags: func(fs *flag.FlagSet, c *store.Config) {
			fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "directory of the database, "+store.DBFile+" (env GTMHUB_DATA_DIR)")
			fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "postgres:// URL to keep records in PostgreSQL instead (env GTMHUB_DATABASE_URL)")
		},
		Env: func(c *store.Config) {
			c.DataDir = service.Env(c.DataDir, "GTMHUB_DATA_DIR")
			c.DatabaseURL = service.Env(c.DatabaseURL, "GTMHUB_DATABASE_URL")
		},
		Validate: store.Config.Validate,
		Run:      store.Run,
		NATSURL:  func(c *store.Config) *string { return &c.NATSURL },
		// The read API announces gtmhub-store itself.
		SelfAnnounced: true,
	}.Main(ctx, os.Args[1:], os.Stderr)
}
