package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/services/notify"
)

func newDigestCmd() *cobra.Command {
	var configFile, date string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "digest",
		Short: "Compute the daily lead digest for a date and email it to digest.to, once per date",
		Example: `  gtmhub digest --date 2026-11-22 --dry-run
  gtmhub digest --config gtmhub.yaml            # yesterday's digest`,
		Args: cobra.NoArgs,
		RunE: withJS(func(ctx context.Context, cmd *cobra.Command, js jetstream.JetStream, _ []string) error {
			cfg := notify.DefaultConfig()
			if err := service.LoadFile(configFile, &cfg); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			defer cancel()
			res, err := notify.RunDigest(ctx, cfg, service.Deps{Conn: js.Conn()}, date, dryRun)
			if err != nil {
				return err
			}
			p := newPrinter(cmd)
			if p.json {
				return p.print(res, nil, nil)
			}
			if dryRun {
				fmt.Fprint(cmd.OutOrStdout(), res.Text)
				return nil
			}
			sources := make([]string, 0, len(res.Report.BySource))
			for s, n := range res.Report.BySource {
				sources = append(sources, fmt.Sprintf("%s=%d", s, n))
			}
			sort.Strings(sources)
			return p.print(res, []string{"DATE", "NEW LEADS", "REJECTED", "BY SOURCE", "OUTCOME"},
				[][]string{{res.Report.Date, fmt.Sprint(res.Report.NewLeads), fmt.Sprint(res.Report.Rejected),
					strings.Join(sources, " "), string(res.Outcome)}})
		}),
	}
	f := cmd.Flags()
	f.StringVar(&configFile, "config", service.Env("", "GTMHUB_CONFIG"), "gtmhub.yaml with the smtp: and digest: sections")
	f.StringVar(&date, "date", "", "day to summarize, YYYY-MM-DD in digest.time_zone (default yesterday)")
	f.BoolVar(&dryRun, "dry-run", false, "print the digest without sending it or recording it")
	return cmd
}
