package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/gtmhub/gtmhub/tools/internal/replay"
)

func newReplayCmd() *cobra.Command {
	var spec replay.Spec
	var since, until, subjects string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "replay",
		Args:  cobra.NoArgs,
		Short: "Backfill: re-deliver a stream's events by time to one consumer or onto a subject",
		Long: `replay reads --stream from --since to --until and re-delivers each event
with its CloudEvent id and trace, marked as a replay: --to CONSUMER re-runs
one consumer (e.g. --to store rebuilds the database), --to-subject republishes.
Consumers are idempotent, so replaying what was processed changes nothing;
notify stays silent unless --with-side-effects. A replay prints its id and
can be resumed with "gtmhub replay resume ID".`,
		Example: `  gtmhub replay --to store --since 24h
  gtmhub replay --stream LEADS --subject 'gtm.leads.captured.>' --since 2026-11-01T00:00:00Z --to enrich --rate 200`,
		RunE: withJS(func(ctx context.Context, cmd *cobra.Command, js jetstream.JetStream, _ []string) error {
			var err error
			if spec.Since, err = parseSince(since, time.Now()); err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			if until != "" {
				if spec.Until, err = parseSince(until, time.Now()); err != nil {
					return fmt.Errorf("--until: %w", err)
				}
			}
			if subjects != "" {
				spec.Subjects = strings.Split(subjects, ",")
			}
			if spec, err = replay.Resolve(spec); err != nil {
				return err
			}
			if dryRun {
				return dryRunReplay(ctx, cmd, js, spec)
			}
			r, err := replay.New(ctx, js)
			if err != nil {
				return err
			}
			cmd.PrintErrf("replay %s: %s %v → %s\n", spec.ID, spec.Stream, spec.Subjects, destination(spec))
			cp, err := r.Start(ctx, spec, progressReporter(cmd.ErrOrStderr()))
			return reportReplay(cmd, cp, err)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&spec.Stream, "stream", "", "stream to read (implied by --to)")
	f.StringVar(&subjects, "subject", "", "filter subjects, comma-separated (default: the consumer's filters or the whole stream)")
	f.StringVar(&since, "since", "", "start: RFC 3339 time or a duration ago, e.g. 72h")
	f.StringVar(&until, "until", "", "end: RFC 3339 time or a duration ago (default: now)")
	f.StringVar(&spec.To, "to", "", "consumer to re-run: enrich, store, notify")
	f.StringVar(&spec.ToSubject, "to-subject", "", "subject to republish on instead")
	f.Float64Var(&spec.Rate, "rate", 0, "events per second (default: as fast as acks allow)")
	f.BoolVar(&dryRun, "dry-run", false, "count what would be replayed")
	f.BoolVar(&spec.SideEffects, "with-side-effects", false, "let notify send for replayed events")
	cmd.AddCommand(newReplayResumeCmd(), newReplayLsCmd())
	return cmd
}

func newReplayResumeCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "resume ID",
		Short: "Continue a replay after its last checkpoint",
		Args:  cobra.ExactArgs(1),
		RunE: withJS(func(ctx context.Context, cmd *cobra.Command, js jetstream.JetStream, args []string) error {
			r, err := replay.New(ctx, js)
			if err != nil {
				return err
			}
			cp, err := r.Resume(ctx, args[0], force, progressReporter(cmd.ErrOrStderr()))
			return reportReplay(cmd, cp, err)
		}),
	}
	cmd.Flags().BoolVar(&force, "force", false, "resume a replay whose checkpoint says running and was saved within the last minute (its run was killed)")
	return cmd
}

func newReplayLsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "ls",
		Args:  cobra.NoArgs,
		Short: "List replays and their checkpoints",
		RunE: withJS(func(ctx context.Context, cmd *cobra.Command, js jetstream.JetStream, _ []string) error {
			r, err := replay.New(ctx, js)
			if err != nil {
				return err
			}
			cps, err := r.List(ctx)
			if err != nil {
				return err
			}
			var rows [][]string
			for _, cp := range cps {
				rows = append(rows, []string{cp.Spec.ID, cp.Status, cp.Spec.Stream, destination(cp.Spec),
					fmt.Sprint(cp.Replayed), fmt.Sprint(cp.Gone), fmt.Sprint(cp.LastSeq), cp.UpdatedAt.Format(time.RFC3339), cp.Error})
			}
			return newPrinter(cmd).print(cps, []string{"ID", "STATUS", "STREAM", "TO", "REPLAYED", "GONE", "LAST SEQ", "UPDATED", "ERROR"}, rows)
		}),
	}
}

func dryRunReplay(ctx context.Context, cmd *cobra.Command, js jetstream.JetStream, spec replay.Spec) error {
	n, err := replay.Count(ctx, js, spec)
	if err != nil {
		return err
	}
	plan := struct {
		Spec    replay.Spec `json:"spec"`
		Pending uint64      `json:"pending"`
	}{spec, n}
	until := "now"
	if !spec.Until.IsZero() {
		until = spec.Until.Format(time.RFC3339)
	}
	return newPrinter(cmd).say(plan, "would replay up to %d events from %s %v from %s to %s → %s\n", n,
		spec.Stream, spec.Subjects, spec.Since.Format(time.RFC3339), until, destination(spec))
}

func destination(s replay.Spec) string {
	if s.To != "" {
		return "consumer " + s.To
	}
	return s.ToSubject
}

func reportReplay(cmd *cobra.Command, cp replay.Checkpoint, err error) error {
	if err != nil {
		return err
	}
	text := fmt.Sprintf("replay %s done: %d events re-delivered\n", cp.Spec.ID, cp.Replayed)
	if cp.Gone > 0 {
		text += fmt.Sprintf("%d events in %s when the replay began were removed by its limits before they were read\n",
			cp.Gone, cp.Spec.Stream)
	}
	return newPrinter(cmd).say(cp, "%s", text)
}

// progressReporter draws a bar with rate and ETA on a terminal and prints a
// plain line every few seconds otherwise.
func progressReporter(w io.Writer) func(replay.Progress) {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		var bar *progressbar.ProgressBar
		return func(p replay.Progress) {
			if bar == nil {
				bar = progressbar.NewOptions64(int64(p.Total), progressbar.OptionSetWriter(w),
					progressbar.OptionSetDescription("replay"), progressbar.OptionShowCount(),
					progressbar.OptionShowIts(), progressbar.OptionSetItsString("events"),
					progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
			}
			_ = bar.Set64(int64(p.Done))
		}
	}
	var last time.Time
	return func(p replay.Progress) {
		if time.Since(last) < 2*time.Second && p.Done < p.Total {
			return
		}
		last = time.Now()
		rate := float64(p.Done) / max(p.Elapsed.Seconds(), 1e-9)
		fmt.Fprintf(w, "replayed %d/%d (%.0f events/s)\n", p.Done, p.Total, rate)
	}
}
