package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gtmhub/gtmhub/contracts"
)

// step is one lead.enriched event handed to the writer.
type step struct {
	id   string
	at   time.Time
	lead contracts.LeadEnriched
}

// wantEvent is a change event the writer must publish: its type, the input
// event that caused it, and its diff.
type wantEvent struct {
	typ     string
	input   string
	changes []contracts.FieldChange
}

func chg(field string, old, new any) contracts.FieldChange {
	return contracts.FieldChange{Field: field, Old: old, New: new}
}

// adaLead is a lead for ada@example.com from the form source, changed by mod.
func adaLead(mod func(l *contracts.Lead)) contracts.LeadEnriched {
	l := contracts.Lead{Email: "ada@example.com", Source: "form"}
	if mod != nil {
		mod(&l)
	}
	return contracts.LeadEnriched{Lead: l}
}

// adaCreated is the start of the diff of ada's created event.
func adaCreated(createdAt time.Time, more ...contracts.FieldChange) []contracts.FieldChange {
	return append([]contracts.FieldChange{chg("email", nil, "ada@example.com"),
		chg("created_at", nil, jsonTime(createdAt))}, more...)
}

func TestMergeContact(t *testing.T) {
	h1, h2 := t0.Add(time.Hour), t0.Add(2*time.Hour)
	tests := []struct {
		name       string
		steps      []step
		want       Contact
		wantProv   map[string]string // field → id of the event that set it
		wantEvents []wantEvent
	}{{
		name: "new contact",
		steps: []step{{"e1", t0, adaLead(func(l *contracts.Lead) {
			l.Email, l.FirstName, l.LastName, l.Title, l.SignalScore = "Ada@Example.COM", "Ada", "Lovelace", "Engineer", ptr(80.0)
		})}},
		want: Contact{Email: "ada@example.com", FirstName: "Ada", LastName: "Lovelace", Title: "Engineer",
			Source: "form", SignalScore: ptr(80.0), CreatedAt: t0, UpdatedAt: t0},
		wantProv: map[string]string{"email": "e1", "first_name": "e1", "last_name": "e1", "title": "e1",
			"source": "e1", "signal_score": "e1"},
		wantEvents: []wantEvent{{contracts.TypeContactCreated, "e1", adaCreated(t0, chg("first_name", nil, "Ada"),
			chg("last_name", nil, "Lovelace"), chg("title", nil, "Engineer"), chg("source", nil, "form"),
			chg("signal_score", nil, 80.0))}},
	}, {
		name: "newer event overwrites",
		steps: []step{
			{"e1", t0, adaLead(func(l *contracts.Lead) { l.FirstName, l.Title = "Ada", "Engineer" })},
			{"e2", h1, adaLead(func(l *contracts.Lead) { l.Title = "CTO" })},
		},
		want: Contact{Email: "ada@example.com", FirstName: "Ada", Title: "CTO", Source: "form",
			CreatedAt: t0, UpdatedAt: h1},
		wantProv: map[string]string{"email": "e1", "first_name": "e1", "title": "e2", "source": "e2"},
		wantEvents: []wantEvent{
			{contracts.TypeContactCreated, "e1", adaCreated(t0, chg("first_name", nil, "Ada"),
				chg("title", nil, "Engineer"), chg("source", nil, "form"))},
			{contracts.TypeContactUpdated, "e2", []contracts.FieldChange{chg("title", "Engineer", "CTO")}},
		},
	}, {
		name: "older event does not overwrite a newer field but fills an empty one",
		steps: []step{
			{"e2", h1, adaLead(func(l *contracts.Lead) { l.Title = "CTO" })},
			{"e1", t0, adaLead(func(l *contracts.Lead) { l.Title, l.Phone = "Engineer", "+44 20 7946 0958" })},
		},
		want: Contact{Email: "ada@example.com", Title: "CTO", Phone: "+44 20 7946 0958", Source: "form",
			CreatedAt: t0, UpdatedAt: h1},
		wantProv: map[string]string{"email": "e1", "title": "e2", "phone": "e1", "source": "e2"},
		wantEvents: []wantEvent{
			{contracts.TypeContactCreated, "e2", adaCreated(h1, chg("title", nil, "CTO"), chg("source", nil, "form"))},
			{contracts.TypeContactUpdated, "e1", []contracts.FieldChange{chg("created_at", jsonTime(h1), jsonTime(t0)),
				chg("phone", nil, "+44 20 7946 0958")}},
		},
	}, {
		name: "same event twice is one row and one change event",
		steps: []step{
			{"e1", t0, adaLead(func(l *contracts.Lead) { l.FirstName = "Ada" })},
			{"e1", t0, adaLead(func(l *contracts.Lead) { l.FirstName = "Ada" })},
		},
		want:     Contact{Email: "ada@example.com", FirstName: "Ada", Source: "form", CreatedAt: t0, UpdatedAt: t0},
		wantProv: map[string]string{"email": "e1", "first_name": "e1", "source": "e1"},
		wantEvents: []wantEvent{{contracts.TypeContactCreated, "e1",
			adaCreated(t0, chg("first_name", nil, "Ada"), chg("source", nil, "form"))}},
	}, {
		name: "empty incoming field does not erase",
		steps: []step{
			{"e1", t0, adaLead(func(l *contracts.Lead) { l.FirstName, l.Title = "Ada", "Engineer" })},
			{"e2", h1, adaLead(func(l *contracts.Lead) { l.FirstName, l.Title, l.Status = "  ", "", "open" })},
		},
		want: Contact{Email: "ada@example.com", FirstName: "Ada", Title: "Engineer", Status: "open", Source: "form",
			CreatedAt: t0, UpdatedAt: h1},
		wantProv: map[string]string{"email": "e1", "first_name": "e1", "title": "e1", "status": "e2", "source": "e2"},
		wantEvents: []wantEvent{
			{contracts.TypeContactCreated, "e1", adaCreated(t0, chg("first_name", nil, "Ada"),
				chg("title", nil, "Engineer"), chg("source", nil, "form"))},
			{contracts.TypeContactUpdated, "e2", []contracts.FieldChange{chg("status", nil, "open")}},
		},
	}, {
		name: "equal event time: the greater event id wins, whatever the order",
		steps: []step{
			{"e2", t0, adaLead(func(l *contracts.Lead) { l.Title = "CTO" })},
			{"e1", t0, adaLead(func(l *contracts.Lead) { l.Title = "Engineer" })},
		},
		want:     Contact{Email: "ada@example.com", Title: "CTO", Source: "form", CreatedAt: t0, UpdatedAt: t0},
		wantProv: map[string]string{"email": "e1", "title": "e2", "source": "e2"},
		wantEvents: []wantEvent{
			{contracts.TypeContactCreated, "e2", adaCreated(t0, chg("title", nil, "CTO"), chg("source", nil, "form"))},
		},
	}, {
		name: "same value at a newer time moves provenance and keeps older values out",
		steps: []step{
			{"e1", t0, adaLead(func(l *contracts.Lead) { l.Title = "Engineer" })},
			{"e2", h2, adaLead(func(l *contracts.Lead) { l.Title = "Engineer" })},
			{"e3", h1, adaLead(func(l *contracts.Lead) { l.Title = "CTO" })},
		},
		want:     Contact{Email: "ada@example.com", Title: "Engineer", Source: "form", CreatedAt: t0, UpdatedAt: h2},
		wantProv: map[string]string{"email": "e1", "title": "e2", "source": "e2"},
		wantEvents: []wantEvent{
			{contracts.TypeContactCreated, "e1", adaCreated(t0, chg("title", nil, "Engineer"), chg("source", nil, "form"))},
		},
	}, {
		name: "scores merge like any field",
		steps: []step{
			{"e1", t0, adaLead(func(l *contracts.Lead) { l.SignalScore = ptr(50.0) })},
			{"e2", h2, adaLead(func(l *contracts.Lead) { l.SignalScore = ptr(90.5) })},
			{"e3", h1, adaLead(func(l *contracts.Lead) { l.SignalScore, l.FitScore = ptr(10.0), ptr(70.0) })},
		},
		want: Contact{Email: "ada@example.com", Source: "form", SignalScore: ptr(90.5), FitScore: ptr(70.0),
			CreatedAt: t0, UpdatedAt: h2},
		wantProv: map[string]string{"email": "e1", "source": "e2", "signal_score": "e2", "fit_score": "e3"},
		wantEvents: []wantEvent{
			{contracts.TypeContactCreated, "e1", adaCreated(t0, chg("source", nil, "form"), chg("signal_score", nil, 50.0))},
			{contracts.TypeContactUpdated, "e2", []contracts.FieldChange{chg("signal_score", 50.0, 90.5)}},
			{contracts.TypeContactUpdated, "e3", []contracts.FieldChange{chg("fit_score", nil, 70.0)}},
		},
	}, {
		// notify writes a change from Airtable to HubSpot; HubSpot's webhook
		// brings the same values back. The store publishes only the new
		// source, which no destination is written for, so the echo ends.
		name: "an echo of the values held from another source changes only the source",
		steps: []step{
			{"e1", t0, adaLead(func(l *contracts.Lead) { l.Source, l.FirstName, l.Title = "airtable", "Ada", "CTO" })},
			{"e2", h1, adaLead(func(l *contracts.Lead) { l.Source, l.FirstName, l.Title = "hubspot", "Ada", "CTO" })},
		},
		want: Contact{Email: "ada@example.com", FirstName: "Ada", Title: "CTO", Source: "hubspot",
			CreatedAt: t0, UpdatedAt: h1},
		wantProv: map[string]string{"email": "e1", "first_name": "e2", "title": "e2", "source": "e2"},
		wantEvents: []wantEvent{
			{contracts.TypeContactCreated, "e1", adaCreated(t0, chg("first_name", nil, "Ada"), chg("title", nil, "CTO"),
				chg("source", nil, "airtable"))},
			{contracts.TypeContactUpdated, "e2", []contracts.FieldChange{chg("source", "airtable", "hubspot")}},
		},
	}, {
		name: "the lead's created_at dates the contact and an event that changes nothing publishes nothing",
		steps: []step{
			{"e1", h1, adaLead(func(l *contracts.Lead) { l.CreatedAt = ptr(t0.Add(-24 * time.Hour)) })},
			{"e2", t0, adaLead(nil)},
		},
		want:     Contact{Email: "ada@example.com", Source: "form", CreatedAt: t0.Add(-24 * time.Hour), UpdatedAt: h1},
		wantProv: map[string]string{"email": "e2", "source": "e1"},
		wantEvents: []wantEvent{
			{contracts.TypeContactCreated, "e1", adaCreated(t0.Add(-24*time.Hour), chg("source", nil, "form"))},
		},
	}}
	for _, b := range testBackends {
		for _, tt := range tests {
			t.Run(b.name+"/"+tt.name, func(t *testing.T) {
				ctx := context.Background()
				s := b.open(t)
				rec := runSteps(t, s, tt.steps)

				db := &DB{sql: s}
				got, ok, err := db.Contact(ctx, "ADA@example.com")
				if err != nil || !ok {
					t.Fatalf("Contact: found %v, err %v", ok, err)
				}
				checkProvenance(t, got.Provenance, tt.wantProv)
				got.Provenance = nil
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("contact\n got %+v\nwant %+v", got, tt.want)
				}
				if n, err := db.CountContacts(ctx); err != nil || n != 1 {
					t.Errorf("CountContacts = %d, %v; want 1", n, err)
				}
				checkEvents(t, rec.events(), "contact", tt.wantEvents)
			})
		}
	}
}

func TestMergeCompany(t *testing.T) {
	h1 := t0.Add(time.Hour)
	withCompany := func(domain, name string, prof *contracts.Company) contracts.LeadEnriched {
		l := adaLead(func(l *contracts.Lead) { l.Domain, l.Company = domain, name })
		l.Enrichment.Company = prof
		return l
	}
	tests := []struct {
		name       string
		steps      []step
		want       []Company // without provenance
		wantProv   map[string]string
		wantEvents []wantEvent
	}{{
		name: "profile and lead make the company",
		steps: []step{{"e1", t0, withCompany("Example.COM", "acme",
			&contracts.Company{Domain: "example.com", Name: "Acme Inc", Employees: ptr(250), Country: "GB"})}},
		want: []Company{{Domain: "example.com", Name: "Acme Inc", Employees: ptr(250), Country: "GB",
			CreatedAt: t0, UpdatedAt: t0}},
		wantProv: map[string]string{"domain": "e1", "name": "e1", "employees": "e1", "country": "e1"},
		wantEvents: []wantEvent{{contracts.TypeCompanyCreated, "e1", []contracts.FieldChange{
			chg("domain", nil, "example.com"), chg("name", nil, "Acme Inc"), chg("employees", nil, 250.0),
			chg("country", nil, "GB")}}},
	}, {
		name:     "name from the lead without a profile",
		steps:    []step{{"e1", t0, withCompany("example.com", "Acme", nil)}},
		want:     []Company{{Domain: "example.com", Name: "Acme", CreatedAt: t0, UpdatedAt: t0}},
		wantProv: map[string]string{"domain": "e1", "name": "e1"},
		wantEvents: []wantEvent{{contracts.TypeCompanyCreated, "e1", []contracts.FieldChange{
			chg("domain", nil, "example.com"), chg("name", nil, "Acme")}}},
	}, {
		name: "a profile of another domain is left out",
		steps: []step{{"e1", t0, withCompany("example.com", "Acme",
			&contracts.Company{Domain: "other.example", Name: "Other", Employees: ptr(5)})}},
		want:     []Company{{Domain: "example.com", Name: "Acme", CreatedAt: t0, UpdatedAt: t0}},
		wantProv: map[string]string{"domain": "e1", "name": "e1"},
		wantEvents: []wantEvent{{contracts.TypeCompanyCreated, "e1", []contracts.FieldChange{
			chg("domain", nil, "example.com"), chg("name", nil, "Acme")}}},
	}, {
		name:     "the profile's domain when the lead has none",
		steps:    []step{{"e1", t0, withCompany("", "", &contracts.Company{Domain: "example.com", Name: "Acme Inc"})}},
		want:     []Company{{Domain: "example.com", Name: "Acme Inc", CreatedAt: t0, UpdatedAt: t0}},
		wantProv: map[string]string{"domain": "e1", "name": "e1"},
		wantEvents: []wantEvent{{contracts.TypeCompanyCreated, "e1", []contracts.FieldChange{
			chg("domain", nil, "example.com"), chg("name", nil, "Acme Inc")}}},
	}, {
		name: "newer profiles update, older ones only fill",
		steps: []step{
			{"e1", t0, withCompany("example.com", "", &contracts.Company{Name: "Acme Inc", Employees: ptr(250)})},
			{"e2", h1.Add(time.Hour), withCompany("example.com", "", &contracts.Company{Employees: ptr(300)})},
			{"e3", h1, withCompany("example.com", "", &contracts.Company{Employees: ptr(280), City: "London"})},
		},
		want: []Company{{Domain: "example.com", Name: "Acme Inc", Employees: ptr(300), City: "London",
			CreatedAt: t0, UpdatedAt: h1.Add(time.Hour)}},
		wantProv: map[string]string{"domain": "e1", "name": "e1", "employees": "e2", "city": "e3"},
		wantEvents: []wantEvent{
			{contracts.TypeCompanyCreated, "e1", []contracts.FieldChange{
				chg("domain", nil, "example.com"), chg("name", nil, "Acme Inc"), chg("employees", nil, 250.0)}},
			{contracts.TypeCompanyUpdated, "e2", []contracts.FieldChange{chg("employees", 250.0, 300.0)}},
			{contracts.TypeCompanyUpdated, "e3", []contracts.FieldChange{chg("city", nil, "London")}},
		},
	}, {
		name:  "no domain, no company",
		steps: []step{{"e1", t0, withCompany("", "Acme", nil)}},
	}}
	for _, b := range testBackends {
		for _, tt := range tests {
			t.Run(b.name+"/"+tt.name, func(t *testing.T) {
				ctx := context.Background()
				s := b.open(t)
				rec := runSteps(t, s, tt.steps)

				db := &DB{sql: s}
				got, err := db.Companies(ctx, 0)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(tt.want) {
					t.Fatalf("got %d companies %+v, want %d", len(got), got, len(tt.want))
				}
				for i := range got {
					checkProvenance(t, got[i].Provenance, tt.wantProv)
					got[i].Provenance = nil
					if !reflect.DeepEqual(got[i], tt.want[i]) {
						t.Errorf("company\n got %+v\nwant %+v", got[i], tt.want[i])
					}
				}
				checkEvents(t, rec.events(), "company", tt.wantEvents)
			})
		}
	}
}

// runSteps hands each step to a writer over s and returns what it published.
func runSteps(t *testing.T, s *sqlStore, steps []step) *recorder {
	t.Helper()
	rec := &recorder{}
	w := newTestWriter(s, rec)
	for _, st := range steps {
		if err := w.handle(context.Background(), enriched(t, st.id, st.at, st.lead)); err != nil {
			t.Fatalf("handle %s: %v", st.id, err)
		}
	}
	return rec
}

func checkProvenance(t *testing.T, got map[string]contracts.Provenance, want map[string]string) {
	t.Helper()
	ids := make(map[string]string, len(got))
	for f, p := range got {
		ids[f] = p.EventID
		if p.Source == "" || p.At.IsZero() {
			t.Errorf("provenance of %s incomplete: %+v", f, p)
		}
	}
	if len(want) == 0 && len(ids) == 0 {
		return
	}
	if !reflect.DeepEqual(ids, want) {
		t.Errorf("provenance event ids\n got %v\nwant %v", ids, want)
	}
}

// checkEvents compares the published change events of one record kind
// ("contact" or "company") with want, in order.
func checkEvents(t *testing.T, pubs []published, kind string, want []wantEvent) {
	t.Helper()
	var got []published
	for _, p := range pubs {
		if strings.HasPrefix(p.ev.Type(), "com.gtmhub."+kind+".") {
			got = append(got, p)
		}
	}
	if len(got) != len(want) {
		t.Errorf("published %d %s events, want %d", len(got), kind, len(want))
	}
	for i := range min(len(got), len(want)) {
		typ, changes, prov := changeOf(t, got[i])
		w := want[i]
		if typ != w.typ || got[i].ev.ID() != ChangeEventID(kind, w.input) {
			t.Errorf("event %d: %s %s, want %s for input %s", i, typ, got[i].ev.ID(), w.typ, w.input)
		}
		if !reflect.DeepEqual(changes, w.changes) {
			t.Errorf("event %d changes\n got %v\nwant %v", i, changes, w.changes)
		}
		for _, c := range changes {
			if p, ok := prov[c.Field]; c.Field != "created_at" && (!ok || p.EventID != w.input) {
				t.Errorf("event %d: provenance of changed %s is %+v, want event %s", i, c.Field, p, w.input)
			}
		}
	}
}

// TestProvenanceColumn: a record's provenance, written to its column and
// read back, is the same for every field, whatever its strings hold, and
// the column is the JSON object the migration writes.
func TestProvenanceColumn(t *testing.T) {
	t0 := time.Date(2025, 11, 20, 9, 14, 3, 120, time.UTC)
	form := contracts.Provenance{Source: "form", EventID: "e1", At: t0}
	tests := []struct {
		name string
		prov map[string]contracts.Provenance
		want string
	}{
		{"no fields", map[string]contracts.Provenance{}, `{}`},
		{"fields in name order", map[string]contracts.Provenance{"title": form, "email": form},
			`{"email":["e1","2025-11-20T09:14:03.000000120Z","form"],"title":["e1","2025-11-20T09:14:03.000000120Z","form"]}`},
		{"another zone stored as UTC", map[string]contracts.Provenance{
			"email": {Source: "form", EventID: "e1", At: t0.In(time.FixedZone("CET", 3600))}},
			`{"email":["e1","2025-11-20T09:14:03.000000120Z","form"]}`},
		{"strings that need escaping", map[string]contracts.Provenance{
			"company": {Source: "hub\"spot\\", EventID: "évt\n1", At: t0}},
			`{"company":["évt\n1","2025-11-20T09:14:03.000000120Z","hub\"spot\\"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := encodeProvenance(tt.prov)
			if doc != tt.want || !json.Valid([]byte(doc)) {
				t.Errorf("column = %s, want %s", doc, tt.want)
			}
			got := map[string]contracts.Provenance{}
			if err := decodeProvenance(doc, got); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.prov) {
				t.Fatalf("read back %d fields, want %d", len(got), len(tt.prov))
			}
			for f, p := range tt.prov {
				if g := got[f]; g.EventID != p.EventID || g.Source != p.Source || !g.At.Equal(p.At) {
					t.Errorf("%s read back as %+v, want %+v", f, g, p)
				}
			}
		})
	}
	// As PostgreSQL's json_object_agg writes it in the upgrade.
	got := map[string]contracts.Provenance{}
	if err := decodeProvenance(`{ "email" : ["e1", "2025-11-20T09:14:03.000000120Z", "form"] }`, got); err != nil ||
		got["email"].EventID != "e1" || got["email"].Source != "form" || !got["email"].At.Equal(t0) {
		t.Errorf("PostgreSQL's layout read as %+v, %v", got, err)
	}
	for _, bad := range []string{``, `[]`, `null`, `{"email":"e1"}`, `{"email":["e1","2025-11-20T09:14:03Z"]}`,
		`{"email":["e1","yesterday","form"]}`, `{"email":["e1","","form"]}`, `{"email":[null,"2025-11-20T09:14:03Z","form"]}`} {
		if err := decodeProvenance(bad, map[string]contracts.Provenance{}); err == nil {
			t.Errorf("column %q read without an error", bad)
		}
	}
}

// TestStaleValuesAreCounted: a value that arrives older than the one stored
// and differs from it is counted per record and field, once its write has
// committed, and not applied; an older value equal to the stored one, or
// filling an empty field, is not a conflict.
func TestStaleValuesAreCounted(t *testing.T) {
	h1 := t0.Add(time.Hour)
	for _, b := range testBackends {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t)
			// Every transaction runs once rolled back first, as the writes
			// of a failed batch run again: nothing of it may count.
			w := newTestWriter(&rolledBackFirst{recordStore: s}, &recorder{})
			stale, err := newStaleCounter(prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			w.stale = stale
			ctx := context.Background()
			steps := []step{
				{"e2", h1, adaLead(func(l *contracts.Lead) { l.FirstName, l.Title = "Ada", "CTO" })},
				{"e1", t0, adaLead(func(l *contracts.Lead) { l.FirstName, l.Title, l.Phone = "Ada", "Engineer", "+442079460958" })},
			}
			for _, st := range steps {
				if err := w.handle(ctx, enriched(t, st.id, st.at, st.lead)); err != nil {
					t.Fatalf("handle %s: %v", st.id, err)
				}
			}
			counts := map[string]float64{}
			for _, f := range []string{"title", "first_name", "phone", "source"} {
				if n := testutil.ToFloat64(stale.WithLabelValues("contact", f)); n > 0 {
					counts[f] = n
				}
			}
			if want := map[string]float64{"title": 1}; !reflect.DeepEqual(counts, want) {
				t.Errorf("stale values %v, want %v", counts, want)
			}
			got, _, err := (&DB{sql: s}).Contact(ctx, "ada@example.com")
			if err != nil || got.Title != "CTO" || got.Phone == "" {
				t.Errorf("contact %+v (%v): want the newer title kept and the phone filled", got, err)
			}
		})
	}
}

// rolledBackFirst runs each transaction's function once in a transaction it
// rolls back, then for real.
type rolledBackFirst struct{ recordStore }

func (r *rolledBackFirst) Update(ctx context.Context, fn func(tx recordTx) error) error {
	errRollback := errors.New("rolled back")
	if err := r.recordStore.Update(ctx, func(tx recordTx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return errRollback
	}); !errors.Is(err, errRollback) {
		return fmt.Errorf("the rolled back run: %w", err)
	}
	return r.recordStore.Update(ctx, fn)
}
