package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/services/ingest"
)

func newQuarantineCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "quarantine", Short: "Inspect and replay webhooks that failed verification"}
	var source string
	cmd.PersistentFlags().StringVar(&source, "source", "", "only requests to this source")
	cmd.AddCommand(&cobra.Command{
		Use:   "ls",
		Args:  cobra.NoArgs,
		Short: "List quarantined requests: seq, time, source, method, URI, reason",
		RunE: withJS(func(ctx context.Context, cmd *cobra.Command, js jetstream.JetStream, _ []string) error {
			entries, err := ingest.ListQuarantine(ctx, js, source)
			if err != nil {
				return err
			}
			rows := make([][]string, 0, len(entries))
			for i, e := range entries {
				entries[i].Quarantined = e.Redacted()
				rows = append(rows, []string{strconv.FormatUint(e.Seq, 10), e.Received.Format(time.RFC3339), e.Source,
					e.Method, e.RequestURI, e.Reason})
			}
			return newPrinter(cmd).print(entries, []string{"SEQ", "TIME", "SOURCE", "METHOD", "URI", "REASON"}, rows)
		}),
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "show SEQ",
		Short: "Show one quarantined request: headers (credentials redacted) and body as received",
		Args:  cobra.ExactArgs(1),
		RunE: withJS(func(ctx context.Context, cmd *cobra.Command, js jetstream.JetStream, args []string) error {
			seq, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("sequence %q is not a number", args[0])
			}
			e, err := ingest.GetQuarantine(ctx, js, seq)
			if err != nil {
				return err
			}
			e.Quarantined = e.Redacted()
			p := newPrinter(cmd)
			if p.json {
				return p.print(e, nil, nil)
			}
			fmt.Fprintf(p.w, "seq %d, source %s, received %s\nreason: %s\n\n%s %s\nHost: %s\n",
				e.Seq, e.Source, e.Received.Format(time.RFC3339), e.Reason, e.Method, e.RequestURI, e.Host)
			for k, vs := range e.Header {
				fmt.Fprintf(p.w, "%s: %s\n", k, strings.Join(vs, ", "))
			}
			fmt.Fprintf(p.w, "\n%s\n", e.Body)
			return nil
		}),
	})
	cmd.AddCommand(newQuarantineReplayCmd(&source))
	return cmd
}

func newQuarantineReplayCmd(source *string) *cobra.Command {
	var configFile string
	cmd := &cobra.Command{
		Use:   "replay [SEQ...]",
		Short: "Verify quarantined requests again with the current secrets and publish those that now pass, once",
		RunE: withJS(func(ctx context.Context, cmd *cobra.Command, js jetstream.JetStream, args []string) error {
			cfg := ingest.DefaultConfig()
			if err := service.LoadFile(configFile, &cfg); err != nil {
				return err
			}
			opts := ingest.ReplayOptions{Source: *source}
			for _, a := range args {
				seq, err := strconv.ParseUint(a, 10, 64)
				if err != nil {
					return fmt.Errorf("sequence %q is not a number", a)
				}
				opts.Seqs = append(opts.Seqs, seq)
			}
			results, err := ingest.ReplayQuarantine(ctx, js, cfg, opts, slog.New(slog.DiscardHandler))
			if err != nil {
				return err
			}
			rows := make([][]string, 0, len(results))
			for _, r := range results {
				rows = append(rows, []string{strconv.FormatUint(r.Seq, 10), r.Source, r.Outcome, r.EventID, r.Subject, r.Error})
			}
			if err := newPrinter(cmd).print(results, []string{"SEQ", "SOURCE", "OUTCOME", "EVENT", "SUBJECT", "ERROR"}, rows); err != nil {
				return err
			}
			return replayProblems(results, opts)
		}),
	}
	cmd.Flags().StringVar(&configFile, "config", service.Env("", "GTMHUB_CONFIG"), "gtmhub.yaml with the sources and their current secrets")
	return cmd
}

// replayProblems says what of a quarantine replay needs the operator: each
// sequence asked for that is not in quarantine, requests whose source
// could not verify them, and requests that verify but could not be
// published. Requests that still fail verification are what quarantine is
// for, and are no problem.
func replayProblems(results []ingest.ReplayResult, opts ingest.ReplayOptions) error {
	var errs []error
	found := map[uint64]bool{}
	failed, unready := 0, 0
	for _, r := range results {
		found[r.Seq] = true
		switch r.Outcome {
		case ingest.ReplayUnready:
			unready++
		case ingest.ReplayFailed:
			failed++
		}
	}
	where := "in quarantine"
	if opts.Source != "" {
		where = "of source " + opts.Source + " in quarantine"
	}
	for _, seq := range opts.Seqs {
		if !found[seq] {
			errs = append(errs, fmt.Errorf("no request %d %s", seq, where))
			found[seq] = true // named twice, reported once
		}
	}
	if unready > 0 {
		errs = append(errs, fmt.Errorf("%d of %d requests could not be verified: their source is not configured or not ready (is its secret set?); they stay in quarantine",
			unready, len(results)))
	}
	if failed > 0 {
		errs = append(errs, fmt.Errorf("%d of %d requests verify but could not be published; they stay in quarantine: "+
			"mend what their errors say, then run this again (each is published once)", failed, len(results)))
	}
	return errors.Join(errs...)
}
