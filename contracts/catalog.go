package contracts

import (
	"embed"
	"fmt"
	"io/fs"
	"sync"
)

// Event types, as set in the CloudEvent type attribute.
const (
	TypeLeadCaptured          = "com.gtmhub.lead.captured"
	TypeLeadEnriched          = "com.gtmhub.lead.enriched"
	TypeLeadRejected          = "com.gtmhub.lead.rejected"
	TypeContactCreated        = "com.gtmhub.contact.created"
	TypeContactUpdated        = "com.gtmhub.contact.updated"
	TypeCompanyCreated        = "com.gtmhub.company.created"
	TypeCompanyUpdated        = "com.gtmhub.company.updated"
	TypeWebhookReceived       = "com.gtmhub.webhook.received"
	TypeNotificationSent      = "com.gtmhub.notification.sent"
	TypeKnowledgePageSynced   = "com.gtmhub.knowledge.page.synced"
	TypeKnowledgePageConflict = "com.gtmhub.knowledge.page.conflict"
)

// schemaBase is the URL prefix of every schema's $id. A schema's file name is
// the last element of its $id.
const schemaBase = "https://schemas.gtmhub.dev/"

//go:embed schemas/*.json
var schemaFiles embed.FS

// Entry describes one event type.
type Entry struct {
	// Type is the CloudEvent type.
	Type string `json:"type"`
	// Subject is the NATS subject pattern the type is published on. Tokens in
	// braces are filled in per event, e.g. gtm.leads.captured.{source}.
	Subject string `json:"subject"`
	// Stream is the JetStream stream that stores the subject.
	Stream string `json:"stream"`
	// Schema is the schema's file name in [SchemaFS].
	Schema string `json:"schema"`
	// DataSchema is the schema's $id, for the CloudEvent dataschema attribute.
	DataSchema string `json:"dataschema"`
	// Description says what the event means.
	Description string `json:"description"`
}

// Catalog returns every event type, in the order data flows through gtmhub.
// The slice is the caller's to keep or modify.
func Catalog() []Entry {
	entries := []Entry{
		{Type: TypeLeadCaptured, Subject: "gtm.leads.captured.{source}", Stream: "LEADS",
			Description: "A lead accepted by ingest from a source, mapped to the standard lead fields."},
		{Type: TypeLeadEnriched, Subject: "gtm.leads.enriched", Stream: "LEADS",
			Description: "A lead after normalisation, enrichment and scoring, with each provider's outcome."},
		{Type: TypeLeadRejected, Subject: "gtm.leads.rejected", Stream: "LEADS",
			Description: "A lead that failed normalisation, with every reason."},
		{Type: TypeContactCreated, Subject: "gtm.records.contact.created", Stream: "RECORDS",
			Description: "A contact record created in the store, with field diff and provenance."},
		{Type: TypeContactUpdated, Subject: "gtm.records.contact.updated", Stream: "RECORDS",
			Description: "A contact record changed in the store, with field diff and provenance."},
		{Type: TypeCompanyCreated, Subject: "gtm.records.company.created", Stream: "RECORDS",
			Description: "A company record created in the store, with field diff and provenance."},
		{Type: TypeCompanyUpdated, Subject: "gtm.records.company.updated", Stream: "RECORDS",
			Description: "A company record changed in the store, with field diff and provenance."},
		{Type: TypeWebhookReceived, Subject: "gtm.raw.{source}.{type}", Stream: "RAW",
			Description: "A verified webhook that is not a lead, kept verbatim with redacted headers."},
		{Type: TypeNotificationSent, Subject: "gtm.notify.{outcome}", Stream: "NOTIFY",
			Description: "A notification decision; outcome is sent, suppressed, failed or skipped and is also the last subject token."},
		{Type: TypeKnowledgePageSynced, Subject: "gtm.knowledge.page.synced", Stream: "KNOWLEDGE",
			Description: "A Markdown page and its Notion page brought in line."},
		{Type: TypeKnowledgePageConflict, Subject: "gtm.knowledge.page.conflict", Stream: "KNOWLEDGE",
			Description: "A page changed on both sides since the last sync, and how it was resolved."},
	}
	for i := range entries {
		entries[i].Schema = entries[i].Type + ".v1.json"
		entries[i].DataSchema = schemaBase + entries[i].Schema
	}
	return entries
}

// Lookup returns the catalog entry for eventType.
func Lookup(eventType string) (Entry, bool) {
	e, ok := catalogByType()[eventType]
	return e, ok
}

// catalogByType is the catalog by event type, built once: Lookup runs for
// every event.
var catalogByType = sync.OnceValue(func() map[string]Entry {
	m := map[string]Entry{}
	for _, e := range Catalog() {
		m[e.Type] = e
	}
	return m
})

// Schema returns the JSON Schema for eventType's data. Its $refs point into
// the shared definitions, which [SchemaFS] also holds.
func Schema(eventType string) ([]byte, error) {
	e, ok := Lookup(eventType)
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownType, eventType)
	}
	return fs.ReadFile(SchemaFS(), e.Schema)
}

// SchemaFS returns the embedded schema files: one per event type, plus the
// shared definitions they reference. File names are the last element of each
// schema's $id, so the files can be served as they are.
func SchemaFS() fs.FS {
	sub, err := fs.Sub(schemaFiles, "schemas")
	if err != nil {
		// fs.Sub fails only for an invalid path, and "schemas" is valid.
		panic(err)
	}
	return sub
}
