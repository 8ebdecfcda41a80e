package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/gtmhub/gtmhub/services/store"
)

// newAttributionCmd credits the contacts that converted in a window to the
// sources of their touches, through the store's read API.
func newAttributionCmd() *cobra.Command {
	var since, until string
	cmd := &cobra.Command{
		Use:   "attribution",
		Short: "Credit the contacts that converted in a window to the sources of their touches: 40 % to the first, 40 % to the last, 20 % to those between",
		Long: `Attribution credits every contact with a touch (an activity) in the window
[--since, --until) to the sources of all its touches before --until, the
ones before --since included, position-based: the first touch takes 40 %,
the last 40 %, the touches between share 20 %; a single touch takes all of
it, two take half each. Sources are listed most credited first.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := attributionWindow(since, until, time.Now())
			if err != nil {
				return err
			}
			return withStore(cmd, func(ctx context.Context, c *store.Client) error {
				a, err := c.Attribution(ctx, req)
				if err != nil {
					return err
				}
				return newPrinter(cmd).print(a, []string{"SOURCE", "CREDIT", "SHARE", "TOUCHES", "FIRST", "LAST"},
					attributionRows(a))
			})
		},
	}
	cmd.Flags().StringVar(&since, "since", "720h", "credit the contacts that converted at or after this RFC 3339 time, or this long ago")
	cmd.Flags().StringVar(&until, "until", "", "and before this time (default: no end)")
	return cmd
}

// attributionWindow reads the --since and --until flags; an empty until
// leaves the window open.
func attributionWindow(since, until string, now time.Time) (store.AttributionRequest, error) {
	var req store.AttributionRequest
	var err error
	if req.Since, err = parseSince(since, now); err != nil {
		return req, fmt.Errorf("--since: %w", err)
	}
	if until != "" {
		if req.Until, err = parseSince(until, now); err != nil {
			return req, fmt.Errorf("--until: %w", err)
		}
	}
	return req, nil
}

// attributionRows are the sources of a, in the order the store gives
// them (most credited first), and a total row.
func attributionRows(a store.Attribution) [][]string {
	rows := make([][]string, 0, len(a.Sources)+1)
	var first, last int
	for _, s := range a.Sources {
		rows = append(rows, []string{s.Source, creditText(s.Credit), creditShare(s.Credit, a.Contacts),
			strconv.Itoa(s.Touches), strconv.Itoa(s.FirstTouches), strconv.Itoa(s.LastTouches)})
		first += s.FirstTouches
		last += s.LastTouches
	}
	return append(rows, []string{"total", creditText(float64(a.Contacts)), creditShare(float64(a.Contacts), a.Contacts),
		strconv.Itoa(a.Touches), strconv.Itoa(first), strconv.Itoa(last)})
}

// creditText is a credit in contacts, to two decimals.
func creditText(c float64) string { return strconv.FormatFloat(c, 'f', 2, 64) }

// creditShare is c as a percentage of the contacts credited.
func creditShare(c float64, contacts int) string {
	if contacts == 0 {
		return "-"
	}
	return strconv.FormatFloat(100*c/float64(contacts), 'f', 1, 64) + " %"
}
