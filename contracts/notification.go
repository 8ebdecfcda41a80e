package contracts

// Notification is the data of a [TypeNotificationSent] event: what notify
// decided for one rule and one triggering event. It is published on
// gtm.notify.{outcome}, so gtm.notify.sent carries only notifications that
// went out.
type Notification struct {
	Rule    string  `json:"rule"`
	Channel Channel `json:"channel"`
	Outcome Outcome `json:"outcome"`
	// Reason is required unless Outcome is OutcomeSent.
	Reason string `json:"reason,omitempty"`
	// DedupeKey is the ledger key that keeps a notification from being sent
	// twice.
	DedupeKey string `json:"dedupe_key"`
	// Target is where the notification went, redacted.
	Target string `json:"target,omitempty"`
	// EventID is the id of the event that triggered the rule.
	EventID string `json:"event_id"`
}

// Channel is a notification channel: a message to people (slack, email), or
// the contact written to a system of record (hubspot, airtable).
type Channel string

// Channels.
const (
	ChannelSlack    Channel = "slack"
	ChannelEmail    Channel = "email"
	ChannelHubSpot  Channel = "hubspot"  // the contact upserted in HubSpot, with its company
	ChannelAirtable Channel = "airtable" // the contact upserted in an Airtable table
)

// Outcome is what happened to a notification.
type Outcome string

// Outcomes.
const (
	OutcomeSent       Outcome = "sent"       // delivered to the channel
	OutcomeSuppressed Outcome = "suppressed" // held back by the ledger, a quiet period, a rate limit, or a destination that already holds the change
	OutcomeFailed     Outcome = "failed"     // the channel refused it for good
	OutcomeSkipped    Outcome = "skipped"    // the channel is not configured
)
