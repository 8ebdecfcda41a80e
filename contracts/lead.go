package contracts

import "time"

// Lead holds the standard lead fields. Every field is optional here; each
// event's schema says which are required. Empty strings and nil pointers are
// left out when marshalled, so an empty value and a missing one are the same.
type Lead struct {
	Email     string     `json:"email,omitempty"`
	FirstName string     `json:"first_name,omitempty"`
	LastName  string     `json:"last_name,omitempty"`
	Company   string     `json:"company,omitempty"`
	Status    string     `json:"status,omitempty"`
	CreatedAt *time.Time `json:"created_at,omitempty"`
	Domain    string     `json:"domain,omitempty"`
	Title     string     `json:"title,omitempty"`
	Phone     string     `json:"phone,omitempty"`
	// Source is the ingest source the lead came from; it is a subject token.
	Source string `json:"source,omitempty"`
	// Scores run from 0 to 100.
	SignalScore *float64 `json:"signal_score,omitempty"`
	IntentScore *float64 `json:"intent_score,omitempty"`
	FitScore    *float64 `json:"fit_score,omitempty"`
}

// LeadCaptured is the data of a [TypeLeadCaptured] event. Email is required.
type LeadCaptured struct {
	Lead
	// Attributes holds the source's fields that have no standard mapping,
	// verbatim.
	Attributes map[string]any `json:"attributes,omitempty"`
}

// LeadEnriched is the data of a [TypeLeadEnriched] event. Email is required.
type LeadEnriched struct {
	Lead
	Enrichment Enrichment `json:"enrichment"`
}

// Enrichment is what the enrichment providers found for a lead.
type Enrichment struct {
	// Status says what each provider did, keyed by provider name.
	Status            map[string]ProviderStatus `json:"status"`
	Company           *Company                  `json:"company,omitempty"`
	EmailVerification *EmailVerification        `json:"email_verification,omitempty"`
}

// ProviderStatus is one enrichment provider's outcome for a lead.
type ProviderStatus struct {
	State ProviderState `json:"state"`
	// Reason is required when State is ProviderSkipped or ProviderFailed.
	Reason string `json:"reason,omitempty"`
}

// ProviderState is the outcome of one enrichment provider for one lead.
type ProviderState string

// Provider states.
const (
	ProviderDone    ProviderState = "done"    // called, and its answer used
	ProviderSkipped ProviderState = "skipped" // not called: budget, breaker, or nothing to look up
	ProviderFailed  ProviderState = "failed"  // called, and it failed
	ProviderCached  ProviderState = "cached"  // answered from the cache
)

// EmailVerification is the result of a mailbox check.
type EmailVerification struct {
	// Status is one of valid, invalid, accept_all, webmail, disposable or
	// unknown.
	Status string `json:"status"`
	// Score is the provider's confidence from 0 to 100.
	Score *float64 `json:"score,omitempty"`
}

// LeadRejected is the data of a [TypeLeadRejected] event: the lead as it
// arrived, whose values may break the rules the other lead events enforce,
// and at least one reason.
type LeadRejected struct {
	Lead
	Reasons []Reason `json:"reasons"`
}

// Reason is one reason a lead was rejected.
type Reason struct {
	// Field is the lead field at fault, or empty when the reason concerns
	// the whole lead.
	Field string `json:"field,omitempty"`
	// Code is a stable snake_case code such as invalid_format.
	Code    string `json:"code"`
	Message string `json:"message"`
}
