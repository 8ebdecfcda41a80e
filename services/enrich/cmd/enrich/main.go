// Command enrich runs the enrich service on its own: it normalizes and
// enriches captured leads. See package enrich.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/services/enrich"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "enrich:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	return service.Binary[enrich.Config]{
		Name:     enrich.Name,
		Config:   enrich.DefaultConfig(),
		Validate: enrich.Config.Validate,
		Run:      enrich.Run,
		NATSURL:  func(c *enrich.Config) *string { return &c.NATSURL },
	}.Main(ctx, os.Args[1:], os.Stderr)
}
