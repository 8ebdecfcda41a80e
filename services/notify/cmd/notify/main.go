// Command notify runs the notify service on its own: it evaluates
// notification rules on record changes. See package notify.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/services/notify"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "notify:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	return service.Binary[notify.Config]{
		Name:     notify.Name,
		Config:   notify.DefaultConfig(),
		Validate: notify.Config.Validate,
		Run:      notify.Run,
		NATSURL:  func(c *notify.Config) *string { return &c.NATSURL },
	}.Main(ctx, os.Args[1:], os.Stderr)
}
