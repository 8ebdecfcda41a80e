package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/gtmhub/gtmhub/events/service"
)

func newInitCmd() *cobra.Command {
	var replicas int
	cmd := &cobra.Command{
		Use:   "init",
		Args:  cobra.NoArgs,
		Short: "Create or update the streams and consumers on a NATS server (idempotent)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			nc, js, err := dial(ctx, cmd)
			if err != nil {
				return err
			}
			defer nc.Close()
			if err := service.EnsureTopology(ctx, js, replicas); err != nil {
				return err
			}
			done := struct {
				Topology string `json:"topology"`
				Replicas int    `json:"replicas"`
			}{"in place", replicas}
			return newPrinter(cmd).say(done, "topology in place\n")
		},
	}
	cmd.Flags().IntVar(&replicas, "replicas", 1, "stream replicas (3 on a cluster)")
	return cmd
}
