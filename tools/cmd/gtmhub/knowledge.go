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
	var dryRun, allowMassDeletion bool
	sync := &cobra.Command{
		Use:   "sync",
		Short: "Ask the knowledge-sync service to sync the folder and the Notion database now",
		Long: "Publishes a sync command on " + knowledgesync.SubjectSyncCommand + "; the running knowledge-sync " +
			"service syncs and logs what it did (with --dry-run, what it would do, changing nothing).\n\n" +
			"A file whose Notion page was archived is moved to the folder's .trash/; a sync that would delete " +
			"more than " + fmt.Sprint(knowledgesync.MassDeletionFiles) + " files and more than " +
			fmt.Sprint(knowledgesync.MassDeletionShare*100) + " % of the folder deletes none of them and logs why, " +
			"and so does one that would archive as many of the database's pages because their files are missing " +
			"(an empty or unmounted folder); --allow-mass-deletion lets it.",
		Example: "  gtmhub knowledge sync\n  gtmhub knowledge sync --dry-run\n  gtmhub knowledge sync --allow-mass-deletion",
		Args:    cobra.NoArgs,
		RunE: withJS(func(ctx context.Context, cmd *cobra.Command, js jetstream.JetStream, _ []string) error {
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			pub, err := events.NewPublisher(js)
			if err != nil {
				return err
			}
			id, err := knowledgesync.RequestSync(ctx, pub,
				knowledgesync.SyncRequest{DryRun: dryRun, AllowMassDeletion: allowMassDeletion})
			if err != nil {
				return err
			}
			taken := commandTaken(ctx, js, takenWait)
			if !taken {
				cmd.PrintErrln("note: no knowledge-sync service took the command within " + takenWait.String() +
					" (it runs only once Notion is configured: knowledge.notion_database_id and its token);" +
					" the command waits for it on " + events.StreamKnowledge)
			}
			res := struct {
				Command string `json:"command"`
				Subject string `json:"subject"`
				DryRun  bool   `json:"dry_run"`
				Taken   bool   `json:"taken"`
			}{id, knowledgesync.SubjectSyncCommand, dryRun, taken}
			return newPrinter(cmd).print(res, []string{"COMMAND", "SUBJECT", "DRY RUN", "TAKEN"},
				[][]string{{id, res.Subject, fmt.Sprint(dryRun), fmt.Sprint(taken)}})
		}),
	}
	sync.Flags().BoolVar(&dryRun, "dry-run", false, "report what a sync would do without changing anything")
	sync.Flags().BoolVar(&allowMassDeletion, "allow-mass-deletion", false,
		"move the files of archived pages to the trash even when they are too many for one sync")
	cmd.AddCommand(sync)
	return cmd
}

// takenWait is how long `knowledge sync` waits for a service to take its
// command before saying none did.
const takenWait = 2 * time.Second

// commandTaken waits up to wait for the knowledge-sync consumer to have
// every command delivered, and reports whether it did: a service running
// with Notion configured takes one within milliseconds.
func commandTaken(ctx context.Context, js jetstream.JetStream, wait time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		// Looking the consumer up reads its state already.
		if cons, err := js.Consumer(ctx, events.StreamKnowledge, knowledgesync.Durable); err == nil && cons.CachedInfo().NumPending == 0 {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
}
