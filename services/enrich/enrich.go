// Package enrich turns captured leads into enriched ones.
//
// It consumes com.gtmhub.lead.captured events from gtm.leads.captured.>,
// normalizes each lead (see [Normalize]), asks the configured enrichment
// [Provider]s about it, and publishes a com.gtmhub.lead.enriched event on
// gtm.leads.enriched. A lead that cannot be normalized, such as one with a
// malformed email, is not an error: it is published as
// com.gtmhub.lead.rejected on gtm.leads.rejected with every reason, and the
// captured event is acknowledged. Data that is not a lead at all is
// dead-lettered.
//
// Both outcomes carry a CloudEvent id derived from the captured event's id,
// so a redelivered or replayed capture is stored once, and the time of the
// capture. Their CloudEvent subject is [EmailSubject] of the normalized email,
// never the email itself, since CloudEvent attributes travel in headers and
// end up in logs.
package enrich

import (
	"context"
	"errors"
	"fmt"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/service"
)

// Name is the service name: the consumer's durable name and the CloudEvent
// source's last element.
const Name = "enrich"

// Config is the enrich service's configuration.
type Config struct {
	// Enrich holds what a user writes under enrich: in gtmhub.yaml.
	Enrich Settings `yaml:"enrich"`
	// Providers are the enrichment providers, asked in order. None are
	// configured yet, so enriched leads say no provider ran.
	Providers []Provider `yaml:"-"`
	// NATSURL is where to connect when the host passes no connection.
	NATSURL string `yaml:"-"`
}

// Settings are the enrich: section of gtmhub.yaml.
type Settings struct {
	// FreeMailDomains are the free-mail providers whose addresses give no
	// company domain: domains, or "name.*" patterns. Setting the list
	// replaces the built-in one (see [DefaultFreeMailDomains]).
	FreeMailDomains []string `yaml:"free_mail_domains"`
}

// DefaultConfig returns the configuration used when gtmhub.yaml says
// nothing: the built-in free-mail list and no providers.
func DefaultConfig() Config {
	return Config{Enrich: Settings{FreeMailDomains: DefaultFreeMailDomains()}}
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var p service.Problems
	if _, err := NewFreeMail(c.Enrich.FreeMailDomains); err != nil {
		p.Addf("enrich.free_mail_domains: %w", err)
	}
	seen := make(map[string]bool, len(c.Providers))
	for i, pr := range c.Providers {
		switch {
		case pr == nil:
			p.Addf("enrich provider %d is nil", i)
		case !events.ValidToken(pr.Name()):
			p.Addf("enrich provider %d: name %q must be lowercase letters, digits, '_' or '-'", i, pr.Name())
		case seen[pr.Name()]:
			p.Addf("enrich provider %q is listed twice", pr.Name())
		default:
			seen[pr.Name()] = true
		}
	}
	return p.Err()
}

// Run consumes captured leads until ctx is cancelled, then drains in-flight
// leads and returns nil. It returns an error if the configuration is invalid
// or the consumer cannot be bound (the LEADS stream must exist).
func Run(ctx context.Context, cfg Config, deps service.Deps) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	free, err := NewFreeMail(cfg.Enrich.FreeMailDomains)
	if err != nil {
		return err // Validate has already checked the list.
	}
	spec, ok := events.DefaultTopology().Consumer(Name)
	if !ok {
		return errors.New("enrich: the topology declares no enrich consumer")
	}

	r, closeConn, err := deps.Resolve(ctx, cfg.NATSURL, Name)
	if err != nil {
		return fmt.Errorf("enrich: %w", err)
	}
	defer closeConn()
	r.Health.Add("stream:"+events.StreamLeads, service.StreamsCheck(r.JS, events.StreamLeads))

	pub, err := r.Publisher()
	if err != nil {
		return fmt.Errorf("enrich: %w", err)
	}
	counts, err := newOutcomeCounter(r.Registry)
	if err != nil {
		return fmt.Errorf("enrich: metrics: %w", err)
	}
	h := &handler{pub: pub, free: free, providers: cfg.Providers, log: r.Logger, counts: counts}
	consumer, err := events.NewConsumer(r.JS, spec, h.handle, r.ConsumerOptions()...)
	if err != nil {
		return fmt.Errorf("enrich: %w", err)
	}

	r.Logger.InfoContext(ctx, "enrich started", "consumer", spec.Durable, "providers", len(cfg.Providers))
	if len(cfg.Providers) == 0 {
		r.Logger.InfoContext(ctx, "no enrichment providers configured: leads are normalized only")
	}
	if err := consumer.Run(ctx); err != nil {
		return fmt.Errorf("enrich: %w", err)
	}
	r.Logger.Info("enrich stopped")
	return nil
}
