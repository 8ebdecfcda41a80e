package contracts

import "time"

// Contact is a contact record as the store holds it. Email and UpdatedAt are
// required in the records events.
type Contact struct {
	Lead
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
}

// Company is a company profile. Enrichment providers fill it in
// [Enrichment]; the store keeps it as the company record, where Domain and
// UpdatedAt are required.
type Company struct {
	Domain    string `json:"domain,omitempty"`
	Name      string `json:"name,omitempty"`
	Industry  string `json:"industry,omitempty"`
	Employees *int   `json:"employees,omitempty"`
	// Country is an ISO 3166-1 alpha-2 code such as GB.
	Country     string     `json:"country,omitempty"`
	City        string     `json:"city,omitempty"`
	Website     string     `json:"website,omitempty"`
	Description string     `json:"description,omitempty"`
	UpdatedAt   *time.Time `json:"updated_at,omitempty"`
}

// ContactChanged is the data of [TypeContactCreated] and [TypeContactUpdated]
// events.
type ContactChanged struct {
	Contact Contact `json:"contact"`
	// Changes lists the fields the write changed; there is at least one.
	Changes []FieldChange `json:"changes"`
	// Provenance says where each field's current value came from, keyed by
	// field name.
	Provenance map[string]Provenance `json:"provenance,omitempty"`
}

// CompanyChanged is the data of [TypeCompanyCreated] and [TypeCompanyUpdated]
// events.
type CompanyChanged struct {
	Company Company `json:"company"`
	// Changes lists the fields the write changed; there is at least one.
	Changes []FieldChange `json:"changes"`
	// Provenance says where each field's current value came from, keyed by
	// field name.
	Provenance map[string]Provenance `json:"provenance,omitempty"`
}

// FieldChange is one field's change in a record. Old and New hold decoded
// JSON values; nil, marshalled as null, means the field had no value.
type FieldChange struct {
	Field string `json:"field"`
	Old   any    `json:"old"`
	New   any    `json:"new"`
}

// Provenance records which event set a field's value, and when.
type Provenance struct {
	// Source is the ingest source or enrichment provider that supplied the
	// value.
	Source  string    `json:"source"`
	EventID string    `json:"event_id"`
	At      time.Time `json:"at"`
}
