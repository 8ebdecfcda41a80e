package enrich

import (
	"context"
	"errors"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
)

// Provider is one enrichment service: a company lookup by domain
// (Clearbit-style), an email verification (Hunter-style), or both. No
// provider is built in yet; [Config.Providers] lists the ones to call.
type Provider interface {
	// Name is the provider's key in the enriched lead's enrichment.status:
	// lowercase letters, digits, '_' and '-'.
	Name() string
	// Lookup returns what the provider knows about the lead q describes.
	// Return [ErrNotApplicable] when there is nothing to look up (a
	// company lookup for a lead without a domain); any other error marks the
	// provider as failed for this lead without failing the lead.
	Lookup(ctx context.Context, q Query) (Result, error)
}

// Query is what a provider may look up: the normalized lead.
type Query struct {
	Email  string // lowercase, valid
	Domain string // empty for a free-mail address without a company domain
	Lead   contracts.Lead
}

// Result is one provider's answer. Either field may be nil.
type Result struct {
	Company           *contracts.Company
	EmailVerification *contracts.EmailVerification
}

// ErrNotApplicable is returned by a [Provider] that has nothing to look up
// for a lead. The provider is reported as skipped.
var ErrNotApplicable = errors.New("nothing to look up")

// enrichLead asks every provider in turn and merges their answers: the first
// provider to return a company or an email verification wins it.
func enrichLead(ctx context.Context, providers []Provider, lead contracts.Lead) contracts.Enrichment {
	e := contracts.Enrichment{Status: make(map[string]contracts.ProviderStatus, len(providers))}
	q := Query{Email: lead.Email, Domain: lead.Domain, Lead: lead}
	for _, p := range providers {
		res, err := p.Lookup(ctx, q)
		switch {
		case errors.Is(err, ErrNotApplicable):
			e.Status[p.Name()] = contracts.ProviderStatus{State: contracts.ProviderSkipped, Reason: err.Error()}
			continue
		case err != nil:
			e.Status[p.Name()] = contracts.ProviderStatus{State: contracts.ProviderFailed, Reason: events.Redact(err.Error())}
			continue
		}
		e.Status[p.Name()] = contracts.ProviderStatus{State: contracts.ProviderDone}
		if e.Company == nil {
			e.Company = res.Company
		}
		if e.EmailVerification == nil {
			e.EmailVerification = res.EmailVerification
		}
	}
	return e
}
