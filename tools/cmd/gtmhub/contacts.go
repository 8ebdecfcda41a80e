package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/services/store"
)

func newContactsCmd() *cobra.Command {
	cfg := store.DefaultConfig()
	var limit int
	cmd := &cobra.Command{
		Use:   "contacts [EMAIL]",
		Short: "Show the contacts the store holds, newest first, or one contact with its provenance",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			db, err := store.Open(ctx, cfg)
			if err != nil {
				return err
			}
			defer db.Close()
			if len(args) == 1 {
				c, found, err := db.Contact(ctx, args[0])
				if err != nil {
					return err
				}
				if !found {
					return fmt.Errorf("no contact %s", args[0])
				}
				return printer{w: cmd.OutOrStdout(), json: true}.print(c, nil, nil)
			}
			contacts, err := db.Contacts(ctx, limit)
			if err != nil {
				return err
			}
			rows := make([][]string, 0, len(contacts))
			for _, c := range contacts {
				score := ""
				if c.SignalScore != nil {
					score = fmt.Sprint(*c.SignalScore)
				}
				rows = append(rows, []string{c.Email, c.FirstName + " " + c.LastName, c.Company, c.Domain,
					c.Status, score, c.UpdatedAt.Format(time.RFC3339)})
			}
			return newPrinter(cmd).print(contacts, []string{"EMAIL", "NAME", "COMPANY", "DOMAIN", "STATUS", "SIGNAL", "UPDATED"}, rows)
		},
	}
	cmd.Flags().StringVar(&cfg.DataDir, "data-dir", service.Env(cfg.DataDir, "GTMHUB_DATA_DIR"), "where gtmhub.db lives")
	cmd.Flags().IntVar(&limit, "limit", 50, "how many contacts to show")
	return cmd
}
