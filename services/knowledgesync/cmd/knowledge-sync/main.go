// Command knowledge-sync runs the knowledge-sync service on its own: it
// keeps a folder of Markdown pages and a Notion database in step. See
// package knowledgesync.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/services/knowledgesync"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "knowledge-sync:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	return service.Binary[knowledgesync.Config]{
		Name:     knowledgesync.Name,
		Config:   knowledgesync.DefaultConfig(),
		Env:      func(c *knowledgesync.Config) { *c = c.WithEnv() },
		Validate: knowledgesync.Config.Validate,
		Run:      knowledgesync.Run,
		NATSURL:  func(c *knowledgesync.Config) *string { return &c.NATSURL },
	}.Main(ctx, os.Args[1:], os.Stderr)
}
