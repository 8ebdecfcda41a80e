package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
)

func newContractsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "contracts",
		Short: "List event types, their subjects and schemas, and the streams and consumers",
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := newPrinter(cmd)
			topo := events.DefaultTopology()
			if p.json {
				return p.print(map[string]any{"events": contracts.Catalog(), "streams": topo.Streams, "consumers": topo.Consumers}, nil, nil)
			}
			var rows [][]string
			for _, e := range contracts.Catalog() {
				rows = append(rows, []string{e.Type, e.Subject, e.Stream, "contracts/schemas/" + e.Schema})
			}
			if err := p.print(nil, []string{"TYPE", "SUBJECT", "STREAM", "SCHEMA"}, rows); err != nil {
				return err
			}
			rows = rows[:0]
			for _, s := range topo.Streams {
				rows = append(rows, []string{s.Name, strings.Join(s.Subjects, ","), s.MaxAge.String(), s.Description})
			}
			cmd.Println()
			if err := p.print(nil, []string{"STREAM", "SUBJECTS", "MAX AGE", "HOLDS"}, rows); err != nil {
				return err
			}
			rows = rows[:0]
			for _, c := range topo.Consumers {
				rows = append(rows, []string{c.Durable, c.Stream, strings.Join(c.Filters, ","), c.Description})
			}
			cmd.Println()
			return p.print(nil, []string{"CONSUMER", "STREAM", "FILTER", "DOES"}, rows)
		},
	}
}
