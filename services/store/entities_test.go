package store

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/gtmhub/gtmhub/contracts"
)

func TestCompaniesCollapseByRegistrableDomain(t *testing.T) {
	lead := func(email, domain, company string, prof *contracts.Company) contracts.LeadEnriched {
		l := adaLead(func(l *contracts.Lead) { l.Email, l.Domain, l.Company = email, domain, company })
		l.Enrichment.Company = prof
		return l
	}
	steps := []step{
		{"e1", t0, lead("ada@acme.co.uk", "www.acme.co.uk", "Acme", nil)},
		{"e2", t0.Add(time.Hour), lead("grace@acme.co.uk", "ACME.co.uk.", "",
			&contracts.Company{Domain: "eu.acme.co.uk", Name: "Acme Ltd", Employees: ptr(40)})},
		{"e3", t0.Add(2 * time.Hour), lead("linus@acme.co.uk", "eu.acme.co.uk", "Acme Europe", nil)},
		{"e4", t0, lead("nobody@example.com", "co.uk", "Suffix Inc", nil)}, // a public suffix owns nothing
	}
	for _, b := range testBackends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := b.open(t)
			runSteps(t, s, steps)
			db := &DB{sql: s}
			got, err := db.Companies(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].Domain != "acme.co.uk" || got[0].Name != "Acme Europe" ||
				got[0].Employees == nil || *got[0].Employees != 40 {
				t.Fatalf("companies %+v, want only acme.co.uk named by the newest event, with 40 employees", got)
			}
			for _, d := range []string{"acme.co.uk", "WWW.Acme.co.uk", "shop.eu.acme.co.uk"} {
				if c, ok, err := db.Company(ctx, d); err != nil || !ok || c.Domain != "acme.co.uk" {
					t.Errorf("Company(%q) = %+v, %v, %v", d, c, ok, err)
				}
			}
			if _, ok, err := db.Company(ctx, "co.uk"); ok || err != nil {
				t.Errorf("Company(co.uk) found %v, %v", ok, err)
			}
			for _, email := range []string{"ada@acme.co.uk", "grace@acme.co.uk", "linus@acme.co.uk"} {
				if c, _, err := db.Contact(ctx, email); err != nil || c.Domain != "acme.co.uk" {
					t.Errorf("contact %s has domain %q (%v), want the company's", email, c.Domain, err)
				}
			}
		})
	}
}

func TestActivitiesRecordEveryEventOnce(t *testing.T) {
	for _, b := range testBackends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := b.open(t)
			grace := adaLead(func(l *contracts.Lead) { l.Email, l.Source = "grace@example.com", "" })
			runSteps(t, s, []step{
				{"e2", t0.Add(time.Hour), adaLead(func(l *contracts.Lead) { l.Title = "CTO" })},
				{"e1", t0, adaLead(nil)}, // changes nothing, still an activity
				{"e2", t0.Add(time.Hour), adaLead(func(l *contracts.Lead) { l.Title = "CTO" })},
				{"e3", t0, grace},
			})
			db := &DB{sql: s}
			got, err := db.Activities(ctx, "ADA@example.com")
			if err != nil {
				t.Fatal(err)
			}
			want := []Activity{
				{EventID: "e1", Type: contracts.TypeLeadEnriched, Source: "form", Time: t0},
				{EventID: "e2", Type: contracts.TypeLeadEnriched, Source: "form", Time: t0.Add(time.Hour)},
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ada's activities\n got %+v\nwant %+v", got, want)
			}
			got, err = db.Activities(ctx, "grace@example.com")
			if err != nil || len(got) != 1 || got[0].EventID != "e3" || got[0].Source != "enrich" {
				t.Errorf("grace's activities %+v, %v: want e3 from enrich", got, err)
			}
		})
	}
}

// TestOutOfOrderTwiceEqualsInOrderOnce: delivering a lead's events out of
// order, twice each, leaves the same rows as delivering them in order once.
func TestOutOfOrderTwiceEqualsInOrderOnce(t *testing.T) {
	h := time.Hour
	withCompany := func(mod func(l *contracts.Lead), prof *contracts.Company) contracts.LeadEnriched {
		l := adaLead(mod)
		l.Enrichment.Company = prof
		return l
	}
	inOrder := []step{
		{"lead-1", t0, withCompany(func(l *contracts.Lead) {
			l.FirstName, l.LastName, l.Domain, l.Company, l.Title = "Ada", "Lovelace", "example.com", "Engines", "Engineer"
		}, &contracts.Company{Domain: "example.com", Name: "Analytical Engines", Employees: ptr(250)})},
		{"lead-2", t0.Add(h), withCompany(func(l *contracts.Lead) { l.Title, l.Phone = "Head of Engineering", "+442079460958" }, nil)},
		{"lead-3", t0.Add(2 * h), withCompany(func(l *contracts.Lead) {
			l.Title, l.Status, l.SignalScore, l.Domain = "CTO", "qualified", ptr(91.0), "www.example.com"
		}, &contracts.Company{Employees: ptr(300), Industry: "Computing"})},
		{"lead-4", t0.Add(2 * h), withCompany(func(l *contracts.Lead) { l.Status = "customer" }, nil)}, // a tie, by id
	}
	var shuffled []step
	for _, i := range []int{3, 1, 2, 0, 2, 3, 0, 1} {
		shuffled = append(shuffled, inOrder[i])
	}
	for _, b := range testBackends {
		t.Run(b.name, func(t *testing.T) {
			once, twice := b.open(t), b.open(t)
			runSteps(t, once, inOrder)
			runSteps(t, twice, shuffled)
			want, got := dump(t, once), dump(t, twice)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("rows differ\nout of order, twice:\n%s\nin order, once:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if !slices.ContainsFunc(want, func(r string) bool { return strings.Contains(r, "customer") }) {
				t.Errorf("the tie at the same time went to the smaller event id:\n%s", strings.Join(want, "\n"))
			}
		})
	}
}

// TestMergeIsOrderIndependent is the property behind last-writer-wins: any
// permutation of the same events, with any of them delivered again, gives
// the same rows.
func TestMergeIsOrderIndependent(t *testing.T) {
	for _, b := range testBackends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			once, shuffled := b.open(t), b.open(t)
			wOnce, wShuffled := newTestWriter(once, discard{}), newTestWriter(shuffled, discard{})
			rapid.Check(t, func(rt *rapid.T) {
				wipe(t, once)
				wipe(t, shuffled)
				evs := rapid.SliceOfN(genStep(), 1, 6).Draw(rt, "events")
				for i := range evs {
					evs[i].id = fmt.Sprintf("e%d", i)
				}
				order := rapid.Permutation(evs).Draw(rt, "order")
				again := rapid.SliceOfN(rapid.SampledFrom(evs), 0, len(evs)).Draw(rt, "redelivered")
				for _, st := range evs {
					if err := wOnce.handle(ctx, enriched(t, st.id, st.at, st.lead)); err != nil {
						rt.Fatalf("handle %s: %v", st.id, err)
					}
				}
				for _, st := range append(order, again...) {
					if err := wShuffled.handle(ctx, enriched(t, st.id, st.at, st.lead)); err != nil {
						rt.Fatalf("handle %s: %v", st.id, err)
					}
				}
				if want, got := dump(t, once), dump(t, shuffled); !reflect.DeepEqual(got, want) {
					rt.Fatalf("rows differ\nshuffled:\n%s\nin order:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			})
		})
	}
}

// genStep draws an event about one of two contacts from small pools of
// values and times, so that fields collide and times tie.
func genStep() *rapid.Generator[step] {
	text := func(vals ...string) *rapid.Generator[string] { return rapid.SampledFrom(append(vals, "")) }
	return rapid.Custom(func(t *rapid.T) step {
		l := contracts.Lead{
			Email:     rapid.SampledFrom([]string{"ada@example.com", "Grace@Example.com"}).Draw(t, "email"),
			FirstName: text("Ada", "Grace").Draw(t, "first_name"),
			Title:     text("Engineer", "CTO", "Admiral").Draw(t, "title"),
			Status:    text("new", "qualified").Draw(t, "status"),
			Source:    text("form", "clay").Draw(t, "source"),
			Domain:    text("example.com", "www.example.com", "other.example").Draw(t, "domain"),
			Company:   text("Acme", "Acme Inc").Draw(t, "company"),
		}
		if rapid.Bool().Draw(t, "scored") {
			l.SignalScore = ptr(float64(rapid.IntRange(0, 3).Draw(t, "signal_score") * 25))
		}
		if created := rapid.IntRange(-1, 2).Draw(t, "created_at"); created >= 0 {
			l.CreatedAt = ptr(t0.Add(time.Duration(created) * time.Hour))
		}
		le := contracts.LeadEnriched{Lead: l}
		if rapid.Bool().Draw(t, "profile") {
			le.Enrichment.Company = &contracts.Company{
				Name:      text("Acme Ltd", "Example Corp").Draw(t, "profile_name"),
				Employees: ptr(rapid.IntRange(1, 3).Draw(t, "employees") * 100),
			}
		}
		at := t0.Add(time.Duration(rapid.IntRange(0, 2).Draw(t, "at")) * time.Hour)
		return step{at: at, lead: le}
	})
}

// wipe empties every table of s.
func wipe(t testing.TB, s *sqlStore) {
	t.Helper()
	for _, table := range []string{"activities", "contacts", "companies",
		"processed_events", "outbox"} {
		if _, err := writerDB(t, s).Exec("DELETE FROM " + table); err != nil {
			t.Fatalf("wipe %s: %v", table, err)
		}
	}
}

// dump returns every row the store keeps about records, as sorted text:
// what must not depend on the order of delivery. Surrogate ids and the
// wall-clock processed_at are left out.
func dump(t testing.TB, s *sqlStore) []string {
	t.Helper()
	tables := map[string][]string{
		"contacts":         contactSchema.columns(),
		"companies":        companySchema.columns(),
		"activities":       {"email", "event_id", "type", "source", "event_time"},
		"processed_events": {"event_id", "subject"},
	}
	var out []string
	for table, cols := range tables {
		rows, err := s.reader.Query("SELECT " + strings.Join(cols, ", ") + " FROM " + table)
		if err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("dump %s: %v", table, err)
			}
			out = append(out, table+fmt.Sprint(vals))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	slices.Sort(out)
	return out
}
