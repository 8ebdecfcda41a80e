package enrich

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gtmhub/gtmhub/contracts"
)

// Provider is one enrichment service's client: a company lookup by domain
// ([Clearbit]) or an email verification ([Hunter]). It only speaks the
// provider's protocol: rate limits, the breaker, credits, the cache and
// giving up are the same for every provider and live around it.
type Provider interface {
	// Name is the provider's key in the enriched lead's enrichment.status:
	// lowercase letters, digits, '_' and '-'.
	Name() string
	// Key returns what the provider looks up for q (a domain, an email),
	// which is also the cache key, or [ErrNotApplicable] when there is
	// nothing to look up, such as a company lookup for a lead without a
	// domain.
	Key(q Query) (string, error)
	// Lookup asks the provider about q. A nil error is a final answer; the
	// result is empty when the provider knows nothing. Otherwise the error
	// is a *[SkipError] (the provider refuses this input for good), an
	// events.RetryAfter error (queued or rate limited: ask again later), or
	// any other error (the provider is failing). Charged reports whether
	// the provider counted the request against the monthly credits; it is
	// meaningful with or without an error.
	Lookup(ctx context.Context, q Query) (Answer, error)
}

// Query is what a provider may look up: the normalized lead.
type Query struct {
	Email  string // lowercase, valid
	Domain string // registrable domain; empty for a free-mail or disposable address without a company domain
	Lead   contracts.Lead
	Notes  Notes // what normalization found out about the address
}

// Result is what providers found. Either field may be nil.
type Result struct {
	Company           *contracts.Company           `json:"company,omitempty"`
	EmailVerification *contracts.EmailVerification `json:"email_verification,omitempty"`
}

// Answer is one provider call's outcome.
type Answer struct {
	Result
	// Charged is true when the provider counted the call against the
	// account's monthly credits.
	Charged bool
}

// ErrNotApplicable is returned by [Provider.Key] when there is nothing to
// look up for a lead. The provider is reported as skipped.
var ErrNotApplicable = errors.New("nothing to look up")

// SkipError is a provider's refusal to answer, such as Clearbit's 422 for
// a domain it cannot look up or a 401 for a key it does not accept. The
// lead goes on without this provider, which is reported as skipped with
// Reason.
type SkipError struct {
	Reason string
	// Final is true when the refusal concerns the input, which will never
	// be answered: it is cached like an answer. A refused key or an account
	// over quota is not final.
	Final bool
}

func (e *SkipError) Error() string { return e.Reason }

// ErrBudgetSpent is the reason a provider is skipped once its monthly
// credits are used up.
var ErrBudgetSpent = errors.New("monthly credits spent")

// retryPending is the delay before asking again about a lookup the provider
// has queued (202) without saying when to come back.
const retryPending = 3 * time.Second

// statusError is an unexpected HTTP status from a provider.
type statusError struct {
	provider string
	status   int
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s answered HTTP %d", e.provider, e.status)
}
