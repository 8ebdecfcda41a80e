package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/gtmhub/gtmhub/events/service"
)

// credentialStatus is a recorded credential rated against the rotation
// period. Its secret is nowhere: the services record a fingerprint only.
type credentialStatus struct {
	service.Credential
	AgeDays  int              `json:"age_days"`
	Rotation service.Rotation `json:"rotation"`
}

// rotation is the rotation period a command rates credentials against:
// --rotate-after, else credentials.rotate_after in --config, else 90 days.
type rotation struct {
	configFile string
	after      service.Days
}

// flags adds --rotate-after, and --config unless the command has one.
func (r *rotation) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	if f.Lookup("config") == nil {
		f.StringVar(&r.configFile, "config", service.Env("", "GTMHUB_CONFIG"), "gtmhub.yaml with credentials.rotate_after")
	}
	f.TextVar(&r.after, "rotate-after", service.Days(service.DefaultRotateAfter),
		"rotation period of credentials, such as 60d (default: credentials.rotate_after in --config, else 90d)")
}

// period resolves the rotation period cmd was given.
func (r *rotation) period(cmd *cobra.Command) (time.Duration, error) {
	if cmd.Flags().Changed("rotate-after") {
		if r.after <= 0 {
			return 0, fmt.Errorf("--rotate-after must be positive, not %s", time.Duration(r.after))
		}
		return time.Duration(r.after), nil
	}
	var file struct {
		Credentials service.CredentialsConfig `yaml:"credentials"`
	}
	if err := service.LoadFile(r.configFile, &file); err != nil {
		return 0, err
	}
	if file.Credentials.RotateAfter < 0 {
		return 0, fmt.Errorf("config %s: credentials.rotate_after must not be negative", r.configFile)
	}
	return cmp.Or(time.Duration(file.Credentials.RotateAfter), service.DefaultRotateAfter), nil
}

// collectCredentials rates every recorded credential at now.
func collectCredentials(ctx context.Context, js jetstream.JetStream, now time.Time, rotateAfter time.Duration) ([]credentialStatus, error) {
	all, err := service.ListCredentials(ctx, js)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	out := make([]credentialStatus, 0, len(all))
	for _, c := range all {
		out = append(out, credentialStatus{Credential: c, AgeDays: int(c.Age(now) / (24 * time.Hour)),
			Rotation: c.Rotation(now, rotateAfter)})
	}
	return out, nil
}

// rotationText is how tables show a rotation state, in capitals like the
// other levels of gtmhub status: OK, DUE SOON, OVERDUE.
func rotationText(r service.Rotation) string {
	return strings.ToUpper(strings.ReplaceAll(string(r), "_", " "))
}

// warnRotation says on standard error which credentials are due soon or
// overdue.
func warnRotation(cmd *cobra.Command, creds []credentialStatus, rotateAfter time.Duration) {
	for _, c := range creds {
		if c.Rotation == service.RotationOK {
			continue
		}
		cmd.PrintErrf("warning: credential %s (%s) is %s for rotation: %d days old, rotate every %d days\n",
			c.Key(), c.Origin, strings.ReplaceAll(string(c.Rotation), "_", " "), c.AgeDays, int(rotateAfter/(24*time.Hour)))
	}
}

func newCredentialsCmd() *cobra.Command {
	var rot rotation
	cmd := &cobra.Command{
		Use:   "credentials",
		Args:  cobra.NoArgs,
		Short: "The credentials each service uses, with their age since the last rotation",
		Long: `credentials lists the secrets the services registered (at start, and
every six hours while they run): webhook secrets, API keys and tokens,
webhook URLs, passwords, never their values; where each comes from, when
its current value was first and last seen, and its age rated against the
rotation period (credentials.rotate_after, 90 days by default): due soon
from two thirds of it, overdue from all of it.
A credential whose value changed was rotated, and its age starts again.`,
		Example: "  gtmhub credentials\n  gtmhub credentials --rotate-after 60d --json",
		RunE: withJS(func(ctx context.Context, cmd *cobra.Command, js jetstream.JetStream, _ []string) error {
			rotateAfter, err := rot.period(cmd)
			if err != nil {
				return err
			}
			creds, err := collectCredentials(ctx, js, time.Now(), rotateAfter)
			if err != nil {
				return err
			}
			p := newPrinter(cmd)
			if !p.json {
				warnRotation(cmd, creds, rotateAfter)
			}
			rows := make([][]string, 0, len(creds))
			for _, c := range creds {
				rows = append(rows, []string{c.Service, c.Name, c.Origin, fmt.Sprintf("%dd", c.AgeDays),
					stamp(c.FirstSeen), stamp(c.LastSeen), rotationText(c.Rotation)})
			}
			return p.print(creds, []string{"SERVICE", "CREDENTIAL", "FROM", "AGE", "FIRST SEEN", "LAST SEEN", "ROTATION"}, rows)
		}),
	}
	rot.flags(cmd)
	cmd.AddCommand(newCredentialsForgetCmd())
	return cmd
}

func newCredentialsForgetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "forget SERVICE.CREDENTIAL...",
		Args:  cobra.MinimumNArgs(1),
		Short: "Stop tracking credentials no service uses any more",
		Long: `forget removes credentials from the record gtmhub credentials and
gtmhub status read, and notify rates for rotation: those of a provider or a
channel no longer configured, which would otherwise grow overdue and be
alerted on every week. Name each as gtmhub credentials lists it, the service
and the credential joined by a dot. A service that still holds one records
it again within six hours, or at its next start, with its age starting then.`,
		Example: "  gtmhub credentials forget enrich.clearbit.key notify.slack.webhooks.sales",
		RunE: withJS(func(ctx context.Context, cmd *cobra.Command, js jetstream.JetStream, args []string) error {
			var errs []error
			for _, key := range args {
				if err := service.ForgetCredential(ctx, js, key); err != nil {
					errs = append(errs, err)
					continue
				}
				cmd.Printf("forgot %s\n", key)
			}
			return errors.Join(errs...)
		}),
	}
}
