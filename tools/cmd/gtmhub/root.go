package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "gtmhub",
		Short:         "gtmhub moves go-to-market events through NATS JetStream without losing or doubling them",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// What a command prints goes to standard output (cobra's default for
	// Print is standard error); errors go to standard error.
	root.SetOut(os.Stdout)
	connFlags(root.PersistentFlags())
	root.PersistentFlags().Bool("json", false, "print JSON instead of tables")
	root.AddCommand(newUpCmd(), newInitCmd(), newStatusCmd(), newContractsCmd(), newContactsCmd(), newAttributionCmd(), newDLQCmd(), newReplayCmd(), newSendCmd(), newDigestCmd(), newQuarantineCmd(), newBenchCmd(), newKnowledgeCmd(), newCredentialsCmd())
	return root
}

// printer writes either a table or JSON, as --json asks.
type printer struct {
	w    io.Writer
	json bool
}

func newPrinter(cmd *cobra.Command) printer {
	asJSON, _ := cmd.Flags().GetBool("json")
	return printer{w: cmd.OutOrStdout(), json: asJSON}
}

// say writes the outcome of a command that does one thing: the line format
// makes of args, or v as JSON.
func (p printer) say(v any, format string, args ...any) error {
	if p.json {
		return p.encode(v)
	}
	_, err := fmt.Fprintf(p.w, format, args...)
	return err
}

// encode writes v as indented JSON.
func (p printer) encode(v any) error {
	enc := json.NewEncoder(p.w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// print renders rows under header, or v as JSON.
func (p printer) print(v any, header []string, rows [][]string) error {
	if p.json {
		return p.encode(v)
	}
	tw := tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
	for i, h := range header {
		if i > 0 {
			fmt.Fprint(tw, "\t")
		}
		fmt.Fprint(tw, h)
	}
	fmt.Fprintln(tw)
	for _, r := range rows {
		for i, c := range r {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			fmt.Fprint(tw, c)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}
