package store_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	_ "modernc.org/sqlite"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/services/store"
)

var t0 = time.Date(2025, 11, 20, 9, 0, 0, 0, time.UTC)

// leadEvent returns a lead.enriched event as enrich publishes it.
func leadEvent(t *testing.T, id string, at time.Time, l contracts.LeadEnriched) event.Event {
	t.Helper()
	if l.Enrichment.Status == nil {
		l.Enrichment.Status = map[string]contracts.ProviderStatus{"clearbit": {State: contracts.ProviderDone}}
	}
	ev := eventstest.NewEvent(t, contracts.TypeLeadEnriched, l)
	ev.SetID(id)
	ev.SetSource("/gtmhub/enrich")
	ev.SetTime(at)
	return ev
}

// replay publishes ev again as a replay does: same CloudEvent id, fresh
// Nats-Msg-Id, so the stream stores it a second time.
func replay(t *testing.T, srv *eventstest.Server, subject string, ev event.Event) {
	t.Helper()
	msg, err := events.Encode(subject, ev)
	if err != nil {
		t.Fatal(err)
	}
	msg.Header.Set(nats.MsgIdHdr, "replay-"+ev.ID())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := srv.JS.PublishMsg(ctx, msg); err != nil {
		t.Fatalf("replay %s: %v", ev.ID(), err)
	}
}

// runStore runs the store service until the test ends, and returns a stop
// function that cancels it and fails the test unless Run returns nil.
func runStore(t *testing.T, srv *eventstest.Server, cfg store.Config, health *service.Health) (stop func()) {
	t.Helper()
	return eventstest.Go(t, func(ctx context.Context) error {
		return store.Run(ctx, cfg, service.Deps{Conn: srv.Conn, Logger: slog.New(slog.DiscardHandler), Health: health})
	})
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// consumerIdle reports whether the store consumer has nothing pending or
// unacknowledged.
func consumerIdle(t *testing.T, js jetstream.JetStream) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := js.Consumer(ctx, events.StreamLeads, store.Name)
	if err != nil {
		return false
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatalf("consumer info: %v", err)
	}
	return info.NumPending == 0 && info.NumAckPending == 0
}

// openFile opens the store's database file directly, read-only.
func openFile(t *testing.T, cfg store.Config) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+cfg.DBPath()+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func count(t *testing.T, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// contactRow is a contacts row as the schema contract names it.
type contactRow struct {
	Email, FirstName, LastName, Company, Domain, Title, Phone, Status sql.NullString
	SignalScore                                                       sql.NullFloat64
	CreatedAt, UpdatedAt                                              string
}

func str(s string) sql.NullString             { return sql.NullString{String: s, Valid: s != ""} }
func num(f float64) sql.NullFloat64           { return sql.NullFloat64{Float64: f, Valid: true} }
func stamp(t time.Time) string                { return t.UTC().Format("2006-01-02T15:04:05.000000000Z") }
func ptr[T any](v T) *T                       { return &v }
func sorted(s []string) []string              { slices.Sort(s); return s }
func header(m jetstream.Msg, k string) string { return m.Headers().Get(k) }

func TestRun(t *testing.T) {
	srv := eventstest.RunServer(t)
	cfg := store.DefaultConfig()
	cfg.DataDir = t.TempDir()
	h1, h2, h3 := t0.Add(time.Hour), t0.Add(2*time.Hour), t0.Add(3*time.Hour)
	lead := func(email string, mod func(l *contracts.LeadEnriched)) contracts.LeadEnriched {
		l := contracts.LeadEnriched{Lead: contracts.Lead{Email: email, Source: "form"}}
		mod(&l)
		return l
	}

	// Ada arrives in three events, out of order; each brings one field the
	// others lack, so every order of processing changes her three times.
	a := leadEvent(t, "lead-a", t0, lead("Ada@Example.com", func(l *contracts.LeadEnriched) {
		l.FirstName, l.LastName, l.Company, l.Domain, l.Title = "Ada", "Lovelace", "Analytical Engines", "example.com", "Engineer"
		l.SignalScore = ptr(86.0)
		l.Enrichment.Company = &contracts.Company{Domain: "example.com", Name: "Analytical Engines Ltd", Employees: ptr(250)}
	}))
	b := leadEvent(t, "lead-b", h2, lead("ada@example.com", func(l *contracts.LeadEnriched) { l.Title = "CTO" }))
	c := leadEvent(t, "lead-c", h1, lead("ada@example.com", func(l *contracts.LeadEnriched) {
		l.Title, l.Phone = "Head of Engineering", "+44 20 7946 0958"
	}))
	// Grace works at the same company and brings a newer head count.
	g := leadEvent(t, "lead-g", h3, lead("grace@example.com", func(l *contracts.LeadEnriched) {
		l.FirstName, l.Domain, l.Status = "Grace", "example.com", "new"
		l.Enrichment.Company = &contracts.Company{Domain: "example.com", Employees: ptr(300)}
	}))
	// Linus has no domain: no company.
	d := leadEvent(t, "lead-d", t0.Add(30*time.Minute), lead("linus@kernel.example", func(l *contracts.LeadEnriched) { l.FirstName = "Linus" }))
	poison := eventstest.NewEvent(t, contracts.TypeLeadEnriched,
		map[string]any{"first_name": "Nobody", "enrichment": map[string]any{"status": map[string]any{}}})
	poison.SetID("lead-poison")

	for _, ev := range []event.Event{a, c, b, g, d, poison} {
		srv.Publish(t, events.SubjectLeadsEnriched, ev)
	}
	health := service.NewHealth()
	stop := runStore(t, srv, cfg, health)
	replay(t, srv, events.SubjectLeadsEnriched, a) // a duplicate the stream keeps
	srv.Publish(t, events.SubjectLeadsEnriched, b) // a duplicate the stream drops
	if n := srv.Count(t, events.StreamLeads, events.SubjectLeadsEnriched); n != 7 {
		t.Fatalf("LEADS holds %d enriched leads, want 7", n)
	}

	dead := srv.Await(t, events.StreamDLQ, events.DLQSubject(store.Name, events.SubjectLeadsEnriched), 1, 10*time.Second)
	if r := header(dead[0], events.DLQHeaderReason); r != events.ReasonPermanent {
		t.Errorf("dead letter reason %q, want %q", r, events.ReasonPermanent)
	}
	if id, e := header(dead[0], events.DLQHeaderEventID), header(dead[0], events.DLQHeaderError); id != "lead-poison" ||
		!strings.Contains(e, "/email") {
		t.Errorf("dead letter event %q error %q: want lead-poison and a reason naming /email", id, e)
	}

	const wantRecords = 7 // contacts: 3 created, 2 updated; companies: 1 created, 1 updated
	msgs := srv.Await(t, events.StreamRecords, "gtm.records.>", wantRecords, 15*time.Second)
	eventually(t, 15*time.Second, "the store consumer to settle", func() bool { return consumerIdle(t, srv.JS) })

	if failed := health.Run(context.Background()); len(failed) > 0 {
		t.Errorf("readiness failed: %v", failed)
	}

	t.Run("rows", func(t *testing.T) {
		db := openFile(t, cfg)
		rows, err := db.Query(`SELECT email, first_name, last_name, company, domain, title, phone, status,
			signal_score, created_at, updated_at FROM contacts ORDER BY email`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []contactRow
		for rows.Next() {
			var r contactRow
			if err := rows.Scan(&r.Email, &r.FirstName, &r.LastName, &r.Company, &r.Domain, &r.Title, &r.Phone,
				&r.Status, &r.SignalScore, &r.CreatedAt, &r.UpdatedAt); err != nil {
				t.Fatal(err)
			}
			got = append(got, r)
		}
		want := []contactRow{
			{Email: str("ada@example.com"), FirstName: str("Ada"), LastName: str("Lovelace"),
				Company: str("Analytical Engines"), Domain: str("example.com"), Title: str("CTO"),
				Phone: str("+44 20 7946 0958"), SignalScore: num(86), CreatedAt: stamp(t0), UpdatedAt: stamp(h2)},
			{Email: str("grace@example.com"), FirstName: str("Grace"), Domain: str("example.com"), Status: str("new"),
				CreatedAt: stamp(h3), UpdatedAt: stamp(h3)},
			{Email: str("linus@kernel.example"), FirstName: str("Linus"), CreatedAt: stamp(t0.Add(30 * time.Minute)),
				UpdatedAt: stamp(t0.Add(30 * time.Minute))},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("contacts\n got %+v\nwant %+v", got, want)
		}

		var name string
		var employees int
		var created, updated string
		err = db.QueryRow(`SELECT name, employees, created_at, updated_at FROM companies WHERE domain = 'example.com'`).
			Scan(&name, &employees, &created, &updated)
		if err != nil {
			t.Fatal(err)
		}
		if name != "Analytical Engines Ltd" || employees != 300 || created != stamp(t0) || updated != stamp(h3) {
			t.Errorf("company example.com: %q %d %s %s", name, employees, created, updated)
		}
		if n := count(t, db, `SELECT count(*) FROM companies`); n != 1 {
			t.Errorf("%d companies, want 1", n)
		}

		// The provenance column is JSON that SQL and other tools can read:
		// each field's event id, event time and source.
		var doc string
		if err := db.QueryRow(`SELECT provenance FROM contacts WHERE email = 'ada@example.com'`).Scan(&doc); err != nil {
			t.Fatal(err)
		}
		var fields map[string][3]string
		if err := json.Unmarshal([]byte(doc), &fields); err != nil {
			t.Fatalf("provenance %s: %v", doc, err)
		}
		prov := map[string]string{}
		for f, p := range fields {
			prov[f] = p[0]
		}
		wantProv := map[string]string{"email": prov["email"], "first_name": "lead-a", "last_name": "lead-a",
			"company": "lead-a", "domain": "lead-a", "title": "lead-b", "phone": "lead-c", "source": "lead-b",
			"signal_score": "lead-a"}
		if !reflect.DeepEqual(prov, wantProv) {
			t.Errorf("ada's provenance\n got %v\nwant %v", prov, wantProv)
		}
		if n := count(t, db, `SELECT count(*) FROM processed_events`); n != 5 {
			t.Errorf("%d processed events, want 5", n)
		}
		// Published entries leave the outbox with the next batch.
		eventually(t, 5*time.Second, "the outbox emptied", func() bool {
			return count(t, db, `SELECT count(*) FROM outbox`) == 0
		})
	})

	t.Run("change events", func(t *testing.T) {
		if n := srv.Count(t, events.StreamRecords, "gtm.records.>"); n != wantRecords {
			t.Errorf("RECORDS holds %d events, want %d", n, wantRecords)
		}
		var ids []string
		types := map[string]int{}
		for _, m := range msgs {
			ev, err := events.Decode(m.Headers(), m.Data())
			if err != nil {
				t.Fatalf("decode %s: %v", m.Subject(), err)
			}
			if err := contracts.Validate(ev.Type(), ev.Data()); err != nil {
				t.Errorf("%s %s: %v", ev.Type(), ev.ID(), err)
			}
			if e, _ := contracts.Lookup(ev.Type()); e.Subject != m.Subject() {
				t.Errorf("%s on %s, want %s", ev.Type(), m.Subject(), e.Subject)
			}
			if ev.Source() != store.Source {
				t.Errorf("%s source %q", ev.ID(), ev.Source())
			}
			if ev.Type() == contracts.TypeContactCreated || ev.Type() == contracts.TypeContactUpdated {
				var data contracts.ContactChanged
				if err := json.Unmarshal(ev.Data(), &data); err != nil {
					t.Fatal(err)
				}
				if ev.Subject() != store.EmailSubject(data.Contact.Email) {
					t.Errorf("%s subject %q does not identify %s", ev.ID(), ev.Subject(), data.Contact.Email)
				}
			}
			ids = append(ids, ev.ID())
			types[ev.Type()]++
		}
		var wantIDs []string
		for _, in := range []string{"lead-a", "lead-b", "lead-c", "lead-g", "lead-d"} {
			wantIDs = append(wantIDs, store.ChangeEventID("contact", in))
		}
		wantIDs = append(wantIDs, store.ChangeEventID("company", "lead-a"), store.ChangeEventID("company", "lead-g"))
		if !reflect.DeepEqual(sorted(ids), sorted(wantIDs)) {
			t.Errorf("change event ids\n got %v\nwant %v", ids, wantIDs)
		}
		wantTypes := map[string]int{contracts.TypeContactCreated: 3, contracts.TypeContactUpdated: 2,
			contracts.TypeCompanyCreated: 1, contracts.TypeCompanyUpdated: 1}
		if !reflect.DeepEqual(types, wantTypes) {
			t.Errorf("change event types %v, want %v", types, wantTypes)
		}
	})

	t.Run("DB", func(t *testing.T) {
		ctx := context.Background()
		db, err := store.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if n, err := db.CountContacts(ctx); err != nil || n != 3 {
			t.Errorf("CountContacts = %d, %v; want 3", n, err)
		}
		ada, ok, err := db.Contact(ctx, "ADA@example.com")
		if err != nil || !ok || ada.Title != "CTO" || ada.Provenance["phone"].EventID != "lead-c" {
			t.Errorf("Contact(ada) = %+v, %v, %v", ada, ok, err)
		}
		if _, ok, err := db.Contact(ctx, "nobody@example.com"); ok || err != nil {
			t.Errorf("Contact(nobody) found %v, err %v", ok, err)
		}
		list, err := db.Contacts(ctx, 2)
		if err != nil {
			t.Fatal(err)
		}
		var emails []string
		for _, c := range list {
			emails = append(emails, c.Email)
		}
		if want := []string{"grace@example.com", "linus@kernel.example"}; !reflect.DeepEqual(emails, want) {
			t.Errorf("Contacts(2) = %v, want %v (newest first)", emails, want)
		}
		if len(list) == 2 && list[0].Provenance["first_name"].EventID != "lead-g" {
			t.Errorf("Contacts carries provenance %v", list[0].Provenance)
		}
	})

	t.Run("read API", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c := store.NewClient(srv.Conn)
		ada, ok, err := c.Contact(ctx, "ada@example.com")
		if err != nil || !ok || ada.Title != "CTO" || len(ada.Activities) != 3 {
			t.Errorf("Contact(ada) = %+v, %v, %v: want her with lead-a, lead-b and lead-c", ada, ok, err)
		}
		list, err := c.Contacts(ctx, store.ContactFilter{Status: "new"})
		if err != nil || len(list) != 1 || list[0].Email != "grace@example.com" {
			t.Errorf("Contacts(status new) = %+v, %v", list, err)
		}
		co, ok, err := c.Company(ctx, "www.example.com")
		if err != nil || !ok || co.Employees == nil || *co.Employees != 300 {
			t.Errorf("Company(www.example.com) = %+v, %v, %v", co, ok, err)
		}
	})

	stop()
	if _, err := store.NewClient(srv.Conn).Contacts(context.Background(), store.ContactFilter{}); !errors.Is(err, store.ErrNoStore) {
		t.Errorf("after Run returned the read API still answers: %v", err)
	}
}
