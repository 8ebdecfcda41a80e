package store

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events/eventstest"
)

func TestReadAPI(t *testing.T) {
	h := time.Hour
	steps := []step{
		{"e1", t0, adaLead(func(l *contracts.Lead) {
			l.FirstName, l.Domain, l.Status, l.SignalScore = "Ada", "www.example.com", "qualified", ptr(90.0)
		})},
		{"e2", t0.Add(h), adaLead(func(l *contracts.Lead) { l.Title = "CTO" })},
		{"e3", t0.Add(2 * h), adaLead(func(l *contracts.Lead) {
			l.Email, l.Status, l.SignalScore = "grace@example.com", "new", ptr(40.0)
		})},
		{"e4", t0.Add(3 * h), adaLead(func(l *contracts.Lead) {
			l.Email, l.Status, l.SignalScore = "linus@kernel.example", "qualified", ptr(70.0)
		})},
	}
	emails := func(cs []Contact) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Email)
		}
		return out
	}
	for _, b := range testBackends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			srv := eventstest.RunServer(t)
			s := b.open(t)
			runSteps(t, s, steps)
			svc, err := serveAPI(ctx, srv.Conn, &DB{sql: s}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer svc.Stop()
			c := NewClient(srv.Conn)

			t.Run("discovery", func(t *testing.T) {
				msg, err := srv.Conn.Request("$SRV.INFO."+APIName, nil, 2*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				var info micro.Info
				if err := json.Unmarshal(msg.Data, &info); err != nil {
					t.Fatal(err)
				}
				var subjects []string
				for _, e := range info.Endpoints {
					subjects = append(subjects, e.Subject)
				}
				slices.Sort(subjects)
				want := []string{SubjectAttributionGet, SubjectCompaniesGet, SubjectContactsGet, SubjectContactsList}
				if info.Name != APIName || !slices.Equal(subjects, want) {
					t.Errorf("service %q with endpoints %v, want %s with %v", info.Name, subjects, APIName, want)
				}
			})

			t.Run("contacts.get", func(t *testing.T) {
				got, found, err := c.Contact(ctx, " ADA@example.com ")
				if err != nil || !found {
					t.Fatalf("Contact = found %v, %v", found, err)
				}
				if got.Email != "ada@example.com" || got.Title != "CTO" || got.Domain != "example.com" ||
					got.Provenance["title"].EventID != "e2" || len(got.Activities) != 2 || got.Activities[1].EventID != "e2" {
					t.Errorf("Contact = %+v", got)
				}
				if _, found, err := c.Contact(ctx, "nobody@example.com"); found || err != nil {
					t.Errorf("Contact(nobody) = found %v, %v; want not found", found, err)
				}
			})

			t.Run("contacts.list", func(t *testing.T) {
				tests := []struct {
					name string
					f    ContactFilter
					want []string
				}{
					{"all, newest first", ContactFilter{}, []string{"linus@kernel.example", "grace@example.com", "ada@example.com"}},
					{"status", ContactFilter{Status: "qualified"}, []string{"linus@kernel.example", "ada@example.com"}},
					{"min score", ContactFilter{MinScore: ptr(70.0)}, []string{"linus@kernel.example", "ada@example.com"}},
					{"since", ContactFilter{Since: t0.Add(90 * time.Minute)}, []string{"linus@kernel.example", "grace@example.com"}},
					{"all filters", ContactFilter{Since: t0.Add(h), Status: "qualified", MinScore: ptr(80.0)}, []string{"ada@example.com"}},
					{"limit", ContactFilter{Limit: 1}, []string{"linus@kernel.example"}},
					{"nothing", ContactFilter{Status: "lost"}, nil},
				}
				for _, tt := range tests {
					got, err := c.Contacts(ctx, tt.f)
					if err != nil {
						t.Fatalf("%s: %v", tt.name, err)
					}
					if !slices.Equal(emails(got), tt.want) {
						t.Errorf("%s: got %v, want %v", tt.name, emails(got), tt.want)
					}
				}
			})

			t.Run("companies.get", func(t *testing.T) {
				got, found, err := c.Company(ctx, "shop.example.com")
				if err != nil || !found || got.Domain != "example.com" || got.Provenance["domain"].EventID != "e1" {
					t.Errorf("Company = %+v, %v, %v", got, found, err)
				}
				if _, found, err := c.Company(ctx, "unknown.example"); found || err != nil {
					t.Errorf("Company(unknown) = found %v, %v", found, err)
				}
			})

			t.Run("attribution.get", func(t *testing.T) {
				// Ada (two touches) and Grace (one) converted in the window;
				// Linus after it.
				req := AttributionRequest{Since: t0.Add(h), Until: t0.Add(3 * h)}
				got, err := c.Attribution(ctx, req)
				want := []SourceAttribution{{Source: "form", Credit: 2, Touches: 3, FirstTouches: 2, LastTouches: 2}}
				if err != nil || got.Contacts != 2 || got.Touches != 3 || !got.Since.Equal(req.Since) ||
					!got.Until.Equal(req.Until) || !slices.Equal(got.Sources, want) {
					t.Errorf("Attribution = %+v, %v; want 2 contacts, %+v", got, err, want)
				}
				got, err = c.Attribution(ctx, AttributionRequest{Since: t0.Add(10 * h)})
				if err != nil || got.Contacts != 0 || got.Sources == nil || len(got.Sources) != 0 {
					t.Errorf("Attribution of an empty window = %+v, %v; want no contacts and an empty list", got, err)
				}
			})

			t.Run("bad requests", func(t *testing.T) {
				for _, call := range []struct {
					name string
					do   func() error
				}{
					{"no email", func() error { _, _, err := c.Contact(ctx, " "); return err }},
					{"no domain", func() error { _, _, err := c.Company(ctx, ""); return err }},
					{"limit too big", func() error { _, err := c.Contacts(ctx, ContactFilter{Limit: MaxListLimit + 1}); return err }},
					{"attribution until before since", func() error {
						_, err := c.Attribution(ctx, AttributionRequest{Since: t0, Until: t0.Add(-h)})
						return err
					}},
					{"not JSON", func() error {
						var out ContactList
						_, err := c.call(ctx, SubjectContactsList, json.RawMessage(`"x"`), &out)
						return err
					}},
				} {
					var ae *APIError
					if err := call.do(); !errors.As(err, &ae) || ae.Code != CodeBadRequest {
						t.Errorf("%s: %v, want a %s APIError", call.name, err, CodeBadRequest)
					}
				}
			})
		})
	}
}

func TestReadAPIFailures(t *testing.T) {
	ctx := context.Background()
	srv := eventstest.RunServer(t)
	c := NewClient(srv.Conn)
	if _, err := c.Contacts(ctx, ContactFilter{}); !errors.Is(err, ErrNoStore) {
		t.Errorf("without a store: %v, want ErrNoStore", err)
	}

	s, err := openSQLite(ctx, t.TempDir()+"/"+DBFile, busyTimeout)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := serveAPI(ctx, srv.Conn, &DB{sql: s}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop()
	s.Close() // the database fails from now on
	var ae *APIError
	if _, _, err := c.Contact(ctx, "ada@example.com"); !errors.As(err, &ae) || ae.Code != CodeInternal {
		t.Errorf("on a closed database: %v, want a %s APIError", err, CodeInternal)
	}
}

// TestReadAPIWhilePostgresIsOutOfReach: while the network to PostgreSQL is
// cut, a read is answered 503 (ask again later) rather than 500, and once
// the database answers again reads succeed.
func TestReadAPIWhilePostgresIsOutOfReach(t *testing.T) {
	ctx := context.Background()
	srv := eventstest.RunServer(t)
	proxy, dsn := proxiedPostgres(t)
	s, err := openPostgres(ctx, dsn.String())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	logs := &logCounter{}
	svc, err := serveAPI(ctx, srv.Conn, &DB{sql: s}, slog.New(logs))
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop()
	c := NewClient(srv.Conn)

	for _, tt := range []struct {
		name     string
		cut      bool
		wantCode string // "" for an answer
	}{
		{"reachable", false, ""},
		{"cut", true, CodeUnavailable},
		{"reachable again", false, ""},
	} {
		if tt.cut {
			proxy.down()
		} else if tt.name != "reachable" {
			proxy.up()
		}
		var code string
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, _, err := c.Contact(ctx, "ada@example.com")
			var ae *APIError
			switch {
			case err == nil:
				code = ""
			case errors.As(err, &ae):
				code = ae.Code
			default:
				t.Fatalf("%s: %v", tt.name, err)
			}
			// The pool may hand out a connection that breaks only when
			// used; such a read answers 503 once, and the next dials.
			if code == tt.wantCode || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if code != tt.wantCode {
			t.Errorf("%s: answered code %q, want %q", tt.name, code, tt.wantCode)
		}
		if tt.cut { // more reads meanwhile: the outage is logged once
			for range 3 {
				_, _, _ = c.Contact(ctx, "ada@example.com")
			}
			if n, still := logs.count(logReadsUnreachable), logs.count(logReadsStillUnreachable); n != 1 || still < 3 {
				t.Errorf("outage logged %d times and %d at debug level, want once and at least 3", n, still)
			}
		}
	}
	if n := logs.count(logReadsAnswered); n != 1 {
		t.Errorf("the end of the outage logged %d times, want once", n)
	}
}
