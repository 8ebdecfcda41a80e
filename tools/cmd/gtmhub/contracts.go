package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/spf13/cobra"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
)

func newContractsCmd() *cobra.Command {
	ls := newContractsLsCmd()
	cmd := &cobra.Command{
		Use:   "contracts",
		Args:  cobra.NoArgs,
		Short: "Event types, subjects and schemas; the streams and consumers; validate a file",
		RunE:  ls.RunE,
	}
	cmd.AddCommand(ls, newContractsShowCmd(), newContractsValidateCmd())
	return cmd
}

func newContractsLsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "ls",
		Args:  cobra.NoArgs,
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

func newContractsShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show TYPE",
		Short: "Print the JSON Schema of an event type",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := contracts.Schema(args[0])
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
}

func newContractsValidateCmd() *cobra.Command {
	var typ string
	cmd := &cobra.Command{
		Use:   "validate FILE",
		Short: "Validate a structured CloudEvent (JSON), or event data with --type, against its contract",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			if typ == "" {
				var ev event.Event
				if err := json.Unmarshal(b, &ev); err != nil {
					return fmt.Errorf("%s is not a structured CloudEvent (%w); give the data's type with --type", args[0], err)
				}
				typ, b = ev.Type(), ev.Data()
			}
			if err := contracts.Validate(typ, b); err != nil {
				return describeInvalid(err)
			}
			valid := struct {
				File  string `json:"file"`
				Type  string `json:"type"`
				Valid bool   `json:"valid"`
			}{args[0], typ, true}
			return newPrinter(cmd).say(valid, "%s: valid %s\n", args[0], typ)
		},
	}
	cmd.Flags().StringVar(&typ, "type", "", "event type of a data file")
	return cmd
}

// describeInvalid lists every field error on its own line.
func describeInvalid(err error) error {
	var ve *contracts.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	lines := []string{fmt.Sprintf("invalid %s:", ve.EventType)}
	for _, f := range ve.Fields {
		ptr := f.Pointer
		if ptr == "" {
			ptr = "(root)"
		}
		lines = append(lines, "  "+ptr+": "+f.Message)
	}
	return errors.New(strings.Join(lines, "\n"))
}
