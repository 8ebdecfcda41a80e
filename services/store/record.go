package store

import (
	"time"

	"github.com/gtmhub/gtmhub/contracts"
)

// kind is how a field's value is stored: TEXT, REAL or INTEGER. In a
// [record] the values are string, float64 and int64.
type kind int

const (
	textKind kind = iota
	realKind
	intKind
)

// column is one mergeable field of a record.
type column struct {
	name string
	kind kind
}

// recordSchema describes a table of records merged field by field. The names
// are the schema contract of the database and of the records events.
type recordSchema struct {
	name   string // record name in change event ids: "contact"
	table  string
	key    string // unique key column, also a field of the record
	fields []column
	// createdField says whether created_at is a field of the record's
	// change events, and so appears in their diffs.
	createdField bool
}

var contactSchema = &recordSchema{
	name:  "contact",
	table: "contacts",
	key:   "email",
	fields: []column{
		{"first_name", textKind}, {"last_name", textKind}, {"company", textKind},
		{"domain", textKind}, {"title", textKind}, {"phone", textKind},
		{"status", textKind}, {"source", textKind},
		{"signal_score", realKind}, {"intent_score", realKind}, {"fit_score", realKind},
	},
	createdField: true,
}

var companySchema = &recordSchema{
	name:  "company",
	table: "companies",
	key:   "domain",
	fields: []column{
		{"name", textKind}, {"industry", textKind}, {"employees", intKind},
		{"country", textKind}, {"city", textKind}, {"website", textKind},
		{"description", textKind},
	},
}

// recordSchemas are the kinds of record, each with a change event of its
// own per input event.
var recordSchemas = []*recordSchema{contactSchema, companySchema}

// record is a contact or company as stored: values by field name (absent
// when empty) and, for each field holding a value, the event that set it.
type record struct {
	key    string
	values map[string]any
	prov   map[string]contracts.Provenance
	// createdAt is the earliest time the record is known to have existed;
	// updatedAt the time of the newest event that changed it. Both are
	// event times, so replaying the same events gives the same record.
	createdAt time.Time
	updatedAt time.Time
}

// write is what one event says about one record.
type write struct {
	key       string
	values    map[string]any    // non-empty values only
	sources   map[string]string // provenance source of each value
	keySource string            // provenance source of the key
	eventID   string
	at        time.Time // event time: the write's place in last-writer-wins
	createdAt time.Time // when the event says the record came to be; <= at
}

// merged is the result of applying a write to a record.
type merged struct {
	rec     record
	created bool
	// changes lists the fields whose value the write changed, in schema
	// order; a new record lists its key and every value.
	changes []contracts.FieldChange
	// provenance says whether some field's provenance now names the write:
	// one it changed, or one it confirmed with the same value and a newer
	// time.
	provenance bool
	// stale lists the fields where the write brought a different value that
	// lost to a newer one already stored: conflicts last-writer-wins settled.
	stale []string
}

// dirty reports whether the record must be saved.
func (m merged) dirty() bool { return m.created || len(m.changes) > 0 || m.provenance }

// merge applies w to the stored record cur (found says whether there is one)
// by per-field last-writer-wins: each field holds the value of the newest
// write that had one, by event time and then by event id, so the result is
// the same whatever order the writes arrive in. A field without a value
// takes w's value whatever its age. Nothing is ever erased. The key's
// provenance is the oldest write, the one that first said the record
// exists; createdAt is the earliest the writes say, and updatedAt the time
// of the newest write whose value the record holds.
func (s *recordSchema) merge(cur record, found bool, w write) merged {
	var m merged
	if found {
		m.rec = cur.clone()
	} else {
		m.created = true
		m.rec = record{key: w.key, values: map[string]any{}, prov: map[string]contracts.Provenance{},
			createdAt: w.createdAt}
		m.changes = append(m.changes, contracts.FieldChange{Field: s.key, New: w.key})
		if s.createdField {
			m.changes = append(m.changes, contracts.FieldChange{Field: "created_at", New: jsonTime(w.createdAt)})
		}
	}
	if p, known := m.rec.prov[s.key]; !known || earlier(w.at, w.eventID, p.At, p.EventID) {
		m.rec.prov[s.key] = contracts.Provenance{Source: w.keySource, EventID: w.eventID, At: w.at}
		m.provenance = true
	}
	if found && w.createdAt.Before(m.rec.createdAt) {
		if s.createdField {
			m.changes = append(m.changes, contracts.FieldChange{Field: "created_at",
				Old: jsonTime(m.rec.createdAt), New: jsonTime(w.createdAt)})
		}
		m.rec.createdAt = w.createdAt
	}

	for _, c := range s.fields {
		v, ok := w.values[c.name]
		if !ok {
			continue
		}
		old, has := m.rec.values[c.name]
		if p, known := m.rec.prov[c.name]; has && known && !earlier(p.At, p.EventID, w.at, w.eventID) {
			if old != v {
				m.stale = append(m.stale, c.name)
			}
			continue // the stored value is newer
		}
		m.rec.prov[c.name] = contracts.Provenance{Source: w.sources[c.name], EventID: w.eventID, At: w.at}
		m.provenance = true
		if has && old == v {
			continue
		}
		m.rec.values[c.name] = v
		m.changes = append(m.changes, contracts.FieldChange{Field: c.name, Old: old, New: v})
	}
	m.rec.updatedAt = time.Time{}
	for _, p := range m.rec.prov {
		if p.At.After(m.rec.updatedAt) {
			m.rec.updatedAt = p.At
		}
	}
	return m
}

// earlier orders writes: by event time, and for the same time by event id.
func earlier(at time.Time, id string, than time.Time, thanID string) bool {
	return at.Before(than) || (at.Equal(than) && id < thanID)
}

func (r record) clone() record {
	c := r
	c.values = make(map[string]any, len(r.values))
	for k, v := range r.values {
		c.values[k] = v
	}
	c.prov = make(map[string]contracts.Provenance, len(r.prov))
	for k, v := range r.prov {
		c.prov[k] = v
	}
	return c
}

// timeLayout is RFC 3339 in UTC with a fixed nine fractional digits, so
// that stored times sort as text.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// jsonTime is a time as encoding/json writes a time.Time.
func jsonTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func parseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }

// Contact is a contact record as the store holds it.
type Contact struct {
	Email       string   `json:"email"`
	FirstName   string   `json:"first_name,omitempty"`
	LastName    string   `json:"last_name,omitempty"`
	Company     string   `json:"company,omitempty"`
	Domain      string   `json:"domain,omitempty"`
	Title       string   `json:"title,omitempty"`
	Phone       string   `json:"phone,omitempty"`
	Status      string   `json:"status,omitempty"`
	Source      string   `json:"source,omitempty"`
	SignalScore *float64 `json:"signal_score,omitempty"`
	IntentScore *float64 `json:"intent_score,omitempty"`
	FitScore    *float64 `json:"fit_score,omitempty"`
	// CreatedAt is the earliest time known for the contact: the lead's
	// created_at or the time of the first event about it.
	CreatedAt time.Time `json:"created_at"`
	// UpdatedAt is the time of the newest event whose values the contact
	// holds: one that sent a value again, unchanged, counts too, since the
	// provenance then names it (see merge).
	UpdatedAt time.Time `json:"updated_at"`
	// Provenance says which event set each field's value, keyed by field.
	Provenance map[string]contracts.Provenance `json:"provenance,omitempty"`
}

// Record returns the contact as the records events carry it.
func (c Contact) Record() contracts.Contact {
	created, updated := c.CreatedAt, c.UpdatedAt
	return contracts.Contact{
		Lead: contracts.Lead{
			Email: c.Email, FirstName: c.FirstName, LastName: c.LastName, Company: c.Company,
			Status: c.Status, CreatedAt: &created, Domain: c.Domain, Title: c.Title, Phone: c.Phone,
			Source: c.Source, SignalScore: c.SignalScore, IntentScore: c.IntentScore, FitScore: c.FitScore,
		},
		UpdatedAt: &updated,
	}
}

func contactFromRecord(r record) Contact {
	return Contact{
		Email:       r.key,
		FirstName:   text(r.values["first_name"]),
		LastName:    text(r.values["last_name"]),
		Company:     text(r.values["company"]),
		Domain:      text(r.values["domain"]),
		Title:       text(r.values["title"]),
		Phone:       text(r.values["phone"]),
		Status:      text(r.values["status"]),
		Source:      text(r.values["source"]),
		SignalScore: number(r.values["signal_score"]),
		IntentScore: number(r.values["intent_score"]),
		FitScore:    number(r.values["fit_score"]),
		CreatedAt:   r.createdAt,
		UpdatedAt:   r.updatedAt,
		Provenance:  r.prov,
	}
}

// Activity is one event that touched a contact.
type Activity struct {
	// EventID is the CloudEvent id of the event.
	EventID string `json:"event_id"`
	// Type is its CloudEvent type, such as com.gtmhub.lead.enriched.
	Type string `json:"type"`
	// Source is where the lead came from (its source field, such as form),
	// or else the service that published the event.
	Source string `json:"source"`
	// Time is the event's time.
	Time time.Time `json:"time"`
}

// Company is a company record as the store holds it.
type Company struct {
	Domain      string `json:"domain"`
	Name        string `json:"name,omitempty"`
	Industry    string `json:"industry,omitempty"`
	Employees   *int   `json:"employees,omitempty"`
	Country     string `json:"country,omitempty"`
	City        string `json:"city,omitempty"`
	Website     string `json:"website,omitempty"`
	Description string `json:"description,omitempty"`
	// CreatedAt is the time of the first event about the company.
	CreatedAt time.Time `json:"created_at"`
	// UpdatedAt is the time of the newest event whose values the company
	// holds, as for a contact.
	UpdatedAt time.Time `json:"updated_at"`
	// Provenance says which event set each field's value, keyed by field.
	Provenance map[string]contracts.Provenance `json:"provenance,omitempty"`
}

// Record returns the company as the records events carry it.
func (c Company) Record() contracts.Company {
	updated := c.UpdatedAt
	return contracts.Company{
		Domain: c.Domain, Name: c.Name, Industry: c.Industry, Employees: c.Employees,
		Country: c.Country, City: c.City, Website: c.Website, Description: c.Description,
		UpdatedAt: &updated,
	}
}

func companyFromRecord(r record) Company {
	c := Company{
		Domain:      r.key,
		Name:        text(r.values["name"]),
		Industry:    text(r.values["industry"]),
		Country:     text(r.values["country"]),
		City:        text(r.values["city"]),
		Website:     text(r.values["website"]),
		Description: text(r.values["description"]),
		CreatedAt:   r.createdAt,
		UpdatedAt:   r.updatedAt,
		Provenance:  r.prov,
	}
	if n, ok := r.values["employees"].(int64); ok {
		e := int(n)
		c.Employees = &e
	}
	return c
}

func text(v any) string {
	s, _ := v.(string)
	return s
}

func number(v any) *float64 {
	f, ok := v.(float64)
	if !ok {
		return nil
	}
	return &f
}
