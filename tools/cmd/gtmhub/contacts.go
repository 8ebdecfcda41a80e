package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/gtmhub/gtmhub/services/store"
)

// newContactsCmd reads contacts through the store's read API on NATS
// (the gtmhub-store micro service), so it works against any running
// store, on SQLite or PostgreSQL.
func newContactsCmd() *cobra.Command {
	ls := newContactsLsCmd()
	cmd := &cobra.Command{
		Use:   "contacts [EMAIL]",
		Short: "Show the contacts the store holds (ls), or one contact with its provenance and activities (get)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				return contactsGet(cmd, args[0])
			}
			return ls.RunE(cmd, args)
		},
	}
	cmd.Flags().AddFlagSet(ls.Flags())
	cmd.AddCommand(ls, &cobra.Command{
		Use:   "get EMAIL",
		Short: "Show one contact: its fields with the event that set each, and its activities",
		Args:  cobra.ExactArgs(1),
		RunE:  func(cmd *cobra.Command, args []string) error { return contactsGet(cmd, args[0]) },
	})
	return cmd
}

func newContactsLsCmd() *cobra.Command {
	var (
		f        store.ContactFilter
		since    string
		minScore float64
	)
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List contacts, most recently created first, filtered by update time, status and signal score",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if since != "" {
				t, err := parseSince(since, time.Now())
				if err != nil {
					return fmt.Errorf("--since: %w", err)
				}
				f.Since = t
			}
			if cmd.Flags().Changed("min-score") {
				f.MinScore = &minScore
			}
			return withStore(cmd, func(ctx context.Context, c *store.Client) error {
				contacts, err := c.Contacts(ctx, f)
				if err != nil {
					return err
				}
				rows := make([][]string, 0, len(contacts))
				for _, c := range contacts {
					rows = append(rows, []string{c.Email, c.FirstName + " " + c.LastName, c.Company, c.Domain,
						c.Status, score(c.SignalScore), c.UpdatedAt.Format(time.RFC3339)})
				}
				return newPrinter(cmd).print(contacts, []string{"EMAIL", "NAME", "COMPANY", "DOMAIN", "STATUS", "SIGNAL", "UPDATED"}, rows)
			})
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "only contacts updated since this RFC 3339 time, or this long ago (24h)")
	cmd.Flags().StringVar(&f.Status, "status", "", "only contacts with this status")
	cmd.Flags().Float64Var(&minScore, "min-score", 0, "only contacts whose signal_score is at least this")
	cmd.Flags().IntVar(&f.Limit, "limit", 50, fmt.Sprintf("how many contacts to show (at most %d)", store.MaxListLimit))
	return cmd
}

func contactsGet(cmd *cobra.Command, email string) error {
	return withStore(cmd, func(ctx context.Context, c *store.Client) error {
		d, found, err := c.Contact(ctx, email)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("no contact %s", email)
		}
		fields := []struct{ name, value string }{
			{"email", d.Email}, {"first_name", d.FirstName}, {"last_name", d.LastName}, {"company", d.Company},
			{"domain", d.Domain}, {"title", d.Title}, {"phone", d.Phone}, {"status", d.Status}, {"source", d.Source},
			{"signal_score", score(d.SignalScore)}, {"intent_score", score(d.IntentScore)}, {"fit_score", score(d.FitScore)},
		}
		var rows [][]string
		for _, f := range fields {
			if f.value == "" {
				continue
			}
			p := d.Provenance[f.name]
			rows = append(rows, []string{f.name, f.value, p.Source, p.EventID, stampOrEmpty(p.At)})
		}
		for _, a := range d.Activities {
			rows = append(rows, []string{"activity", a.Type, a.Source, a.EventID, stampOrEmpty(a.Time)})
		}
		return newPrinter(cmd).print(d, []string{"FIELD", "VALUE", "SOURCE", "EVENT", "AT"}, rows)
	})
}

// withStore connects to NATS for one command and hands fn a read API
// client.
func withStore(cmd *cobra.Command, fn func(ctx context.Context, c *store.Client) error) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
	defer cancel()
	nc, _, err := dial(ctx, cmd)
	if err != nil {
		return err
	}
	defer nc.Close()
	return fn(ctx, store.NewClient(nc))
}

// parseSince reads an RFC 3339 time or a duration back from now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("required: an RFC 3339 time such as 2026-11-01T00:00:00Z, or a duration back from now such as 24h")
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q is a negative duration, a time in the future: give how long ago, such as 24h", s)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time such as 2026-11-01T00:00:00Z nor a duration back from now such as 24h", s)
	}
	return t, nil
}

func score(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'f', -1, 64)
}

func stampOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
