package main

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/services/knowledgesync"
)

func newKnowledgeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "knowledge",
		Short: "Work with the Markdown folder ⇄ Notion knowledge sync",
	}
	var dryRun bool
	sync := &cobra.Command{
		Use:   "sync",
		Short: "Ask the knowledge-sync service to sync the folder and the Notion database now",
		Long: "Publishes a sync command on " + knowledgesync.SubjectSyncCommand + "; the running knowledge-sync " +
			"service syncs and logs what it did (with --dry-run, what it would do, changing nothing).",
		Example: "  gtmhub knowledge sync\n  gtmhub knowledge sync --dry-run",
		Args:    cobra.NoArgs,
		RunE: withJS(func(ctx context.Context, cmd *cobra.Command, js jetstream.JetStream, _ []string) error {
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			pub, err := events.NewPublisher(js)
			if err != nil {
				return err
			}
			id, err := knowledgesync.RequestSync(ctx, pub, dryRun)
			if err != nil {
				return err
			}
			res := struct {
				Command string `json:"command"`
				Subject string `json:"subject"`
				DryRun  bool   `json:"dry_run"`
			}{id, knowledgesync.SubjectSyncCommand, dryRun}
			return newPrinter(cmd).print(res, []string{"COMMAND", "SUBJECT", "DRY RUN"},
				[][]string{{id, res.Subject, fmt.Sprint(dryRun)}})
		}),
	}
	sync.Flags().BoolVar(&dryRun, "dry-run", false, "report what a sync would do without changing anything")
	cmd.AddCommand(sync)
	return cmd
}
