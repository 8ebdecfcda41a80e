package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/gtmhub/gtmhub/events"
)

func newDLQShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show SEQ",
		Short: "Show one dead letter: metadata, headers and pretty data, secrets redacted",
		Args:  cobra.ExactArgs(1),
		RunE: withJS(func(ctx context.Context, cmd *cobra.Command, js jetstream.JetStream, args []string) error {
			seq, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("sequence %q is not a number", args[0])
			}
			stream, err := js.Stream(ctx, events.StreamDLQ)
			if err != nil {
				return err
			}
			raw, err := stream.GetMsg(ctx, seq)
			if err != nil {
				return fmt.Errorf("dead letter %d: %w", seq, err)
			}
			d := newDeadLetter(raw.Sequence, raw.Time, raw.Header, raw.Data)
			if newPrinter(cmd).json {
				return printer{w: cmd.OutOrStdout(), json: true}.print(map[string]any{"dead_letter": d,
					"headers": redactedHeaders(d), "data": json.RawMessage(prettyData(d.data))}, nil, nil)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "dead letter %d, %s\n\nheaders:\n", d.Seq, d.Time.Format("2006-01-02T15:04:05Z07:00"))
			for _, kv := range redactedHeaders(d) {
				fmt.Fprintf(out, "  %s\n", kv)
			}
			fmt.Fprintf(out, "\ndata:\n%s\n\nredrive it with: gtmhub dlq redrive %d\n", prettyData(d.data), d.Seq)
			return nil
		}),
	}
}

// redactedHeaders lists headers as "Name: value", sorted, with credentials
// removed from every value.
func redactedHeaders(d deadLetter) []string {
	var out []string
	for k, vs := range d.header {
		for _, v := range vs {
			out = append(out, k+": "+events.Redact(v))
		}
	}
	sort.Strings(out)
	return out
}

// prettyData indents JSON data; other data is shown as text with
// credentials redacted.
func prettyData(b []byte) []byte {
	var buf bytes.Buffer
	if json.Indent(&buf, b, "", "  ") == nil {
		return []byte(events.Redact(buf.String()))
	}
	q, _ := json.Marshal(events.Redact(string(b)))
	return q
}

func newDLQPurgeCmd(filter *dlqFilter) *cobra.Command {
	var yes, all bool
	cmd := &cobra.Command{
		Use:   "purge",
		Short: "Delete dead letters matching the filters (asks first unless --yes)",
		Args:  cobra.NoArgs,
		RunE: withJS(func(ctx context.Context, cmd *cobra.Command, js jetstream.JetStream, _ []string) error {
			if filter.empty() && !all {
				return fmt.Errorf("name what to purge with --service, --subject, --since, --until, or --all")
			}
			p := newPrinter(cmd)
			if p.json && !yes {
				return errors.New("--json needs --yes: a script cannot answer the question")
			}
			dls, err := filter.apply(ctx, js)
			if err != nil {
				return err
			}
			purged := struct {
				Purged int      `json:"purged"`
				Seqs   []uint64 `json:"seqs"`
			}{Seqs: []uint64{}}
			if len(dls) == 0 {
				return p.say(purged, "nothing to purge\n")
			}
			if !yes && !confirm(cmd, fmt.Sprintf("delete %d dead letters for good? [y/N] ", len(dls))) {
				return fmt.Errorf("not purged")
			}
			stream, err := js.Stream(ctx, events.StreamDLQ)
			if err != nil {
				return err
			}
			for _, d := range dls {
				if err := stream.DeleteMsg(ctx, d.Seq); err != nil {
					return errors.Join(fmt.Errorf("purge %d: %w", d.Seq, err),
						p.say(purged, "purged %d dead letters before the error\n", purged.Purged))
				}
				purged.Purged++
				purged.Seqs = append(purged.Seqs, d.Seq)
			}
			return p.say(purged, "purged %d dead letters\n", purged.Purged)
		}),
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation (required with --json)")
	cmd.Flags().BoolVar(&all, "all", false, "every dead letter")
	return cmd
}

// confirm asks question on standard error, where it does not mix with what
// the command prints, and reads the answer from standard input.
func confirm(cmd *cobra.Command, question string) bool {
	fmt.Fprint(cmd.ErrOrStderr(), question)
	line, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes"
}
