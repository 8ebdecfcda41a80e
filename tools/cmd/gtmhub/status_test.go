package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/services/enrich"
)

func TestStatusUsageLevels(t *testing.T) {
	srv := eventstest.RunServer(t)
	ctx := context.Background()
	if err := service.PutUsage(ctx, srv.JS, service.Usage{Resource: "enrich.clearbit.credits", Used: 80, Limit: 100, Unit: "credits"}); err != nil {
		t.Fatal(err)
	}
	announced, err := service.Announce(srv.Conn, "store", service.Version)
	if err != nil {
		t.Fatal(err)
	}
	defer announced.Stop()
	if err := service.PutNote(ctx, srv.JS, service.Note{Service: "notify", Key: "channel.slack", Level: service.LevelWarning,
		Text: "slack not configured; inert rules: high-intent"}); err != nil {
		t.Fatal(err)
	}
	st := statusJSON(t, srv)
	if len(st.Usage) != 1 || st.Usage[0].Level != service.LevelWarning || st.Usage[0].Percent != 80 {
		t.Errorf("usage %+v", st.Usage)
	}
	if len(st.Notes) != 1 || !strings.Contains(st.Notes[0].Text, "inert rules: high-intent") {
		t.Errorf("notes %+v", st.Notes)
	}
	if len(st.Services) != 1 || st.Services[0].Name != "gtmhub-store" {
		t.Errorf("services %+v", st.Services)
	}
	streams := map[string]bool{}
	for _, s := range st.Streams {
		streams[s.Name] = true
	}
	for _, s := range events.DefaultTopology().Streams {
		if !streams[s.Name] {
			t.Errorf("stream %s missing from status", s.Name)
		}
	}

	// Last month's spent budget says nothing of this month's.
	if err := service.PutUsage(ctx, srv.JS, service.Usage{Resource: "enrich.hunter.credits", Used: 100, Limit: 100,
		Unit: "credits", Period: lastMonth(time.Now())}); err != nil {
		t.Fatal(err)
	}
	out, err := gtmhub(t, srv, "", "status")
	if err != nil || !strings.Contains(out, "ENDED") || strings.Contains(out, "CRITICAL") {
		t.Errorf("a past period's usage: err %v\n%s", err, out)
	}

	if err := service.PutUsage(ctx, srv.JS, service.Usage{Resource: "notify.email.daily", Used: 499, Limit: 500}); err != nil {
		t.Fatal(err)
	}
	if out, err := gtmhub(t, srv, "", "status"); !errors.Is(err, errCritical) || !strings.Contains(out, "CRITICAL") {
		t.Errorf("critical usage: err %v\n%s", err, out)
	}
}

// TestStatusShowsBreakers runs enrich, announced as its binary announces it,
// with Clearbit down: once its breaker trips, status shows it open with when
// it will next try, Hunter's closed, and nothing for the store, which has
// no breakers endpoint.
func TestStatusShowsBreakers(t *testing.T) {
	srv := eventstest.RunServer(t)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	t.Cleanup(down.Close)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"data":{"status":"valid","score":90}}`))
	}))
	t.Cleanup(up.Close)
	cfg := enrich.DefaultConfig()
	cfg.Enrich.Providers = []enrich.ProviderConfig{
		{Name: "clearbit", BaseURL: down.URL, Key: "k", TripAfter: 1, BreakerTimeout: time.Hour},
		{Name: "hunter", BaseURL: up.URL, Key: "k"},
	}
	breakers := service.NewBreakerRegistry()
	for _, a := range []struct {
		name string
		opts []service.AnnounceOption
	}{{enrich.Name, []service.AnnounceOption{service.WithBreakerStates(breakers)}}, {"store", nil}} {
		announced, err := service.Announce(srv.Conn, a.name, service.Version, a.opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = announced.Stop() })
	}
	eventstest.Go(t, func(ctx context.Context) error {
		return enrich.Run(ctx, cfg, service.Deps{Conn: srv.Conn, Breakers: breakers})
	})
	srv.Publish(t, "gtm.leads.captured.form", eventstest.NewEvent(t, contracts.TypeLeadCaptured,
		contracts.LeadCaptured{Lead: contracts.Lead{Email: "ada@acme.io"}}))
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(fmt.Sprint(breakers.States()), "clearbit open"); {
		if time.Now().After(deadline) {
			t.Fatalf("clearbit's breaker did not open: %+v", breakers.States())
		}
		time.Sleep(20 * time.Millisecond)
	}

	st := statusJSON(t, srv)
	got := map[string]serviceStatus{}
	for _, s := range st.Services {
		got[s.Name] = s
	}
	if s := got["gtmhub-store"]; s.ID == "" || len(s.Breakers) > 0 || s.BreakersError != "" {
		t.Errorf("store %+v, want alive without breakers", s)
	}
	enr := got["gtmhub-"+enrich.Name]
	want := []struct {
		destination, state string
		retries            bool
	}{{"clearbit", "open", true}, {"hunter", "closed", false}}
	if len(enr.Breakers) != len(want) || enr.BreakersError != "" {
		t.Fatalf("enrich %+v, want %d breakers", enr, len(want))
	}
	for i, w := range want {
		b := enr.Breakers[i]
		if b.Destination != w.destination || b.State != w.state || b.RetryAt.IsZero() == w.retries {
			t.Errorf("breaker %d: %+v, want %s %s", i, b, w.destination, w.state)
		}
		if w.retries && (b.RetryAt.Before(time.Now().Add(59*time.Minute)) || b.RetryAt.After(time.Now().Add(time.Hour))) {
			t.Errorf("%s retries at %v, want in about an hour", b.Destination, b.RetryAt)
		}
	}

	out, err := gtmhub(t, srv, "", "status")
	if err != nil {
		t.Fatal(err, out)
	}
	for _, re := range []string{`(?m)^SERVICE +DESTINATION +BREAKER +RETRY AT$`,
		`(?m)^gtmhub-enrich +clearbit +OPEN +\S+ \S+ \(in 59m\d+s\)$`, `(?m)^gtmhub-enrich +hunter +closed *$`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("no line matching %s in\n%s", re, out)
		}
	}
	if regexp.MustCompile(`(?m)^gtmhub-store +\S+ +(closed|half-open|OPEN)`).MatchString(out) {
		t.Errorf("breakers listed for the store:\n%s", out)
	}
}

// TestStatusWithoutConnection: a command that cannot connect says why and
// what to do, and never prints the password.
func TestStatusWithoutConnection(t *testing.T) {
	srv := eventstest.RunServer(t, eventstest.WithoutTopology(), eventstest.WithUser("gtm", "right-pass"))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no server", []string{"--nats-url", "nats://127.0.0.1:1"}, "no NATS server at nats://127.0.0.1:1"},
		{"no credentials", []string{"--nats-url", srv.ClientURL()}, "refused the credentials"},
		{"wrong password", []string{"--nats-url", srv.ClientURL(), "--user", "gtm", "--password", "wrong-pass"},
			"refused the credentials"},
		{"a URL that does not parse", []string{"--nats-url", "nats://gtm:wrong-pass@bad host:4222"}, "the NATS URL does not parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newRootCmd()
			root.SetArgs(append([]string{"status", "--timeout", "200ms"}, tt.args...))
			root.SetOut(new(strings.Builder))
			err := root.ExecuteContext(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "wrong-pass") {
				t.Errorf("err = %v, want one saying %q", err, tt.want)
			}
		})
	}
}

func TestSendValidatesAndPublishes(t *testing.T) {
	srv := eventstest.RunServer(t)
	if _, err := gtmhub(t, srv, "", "send", "--type", "com.gtmhub.lead.captured", "--source", "/crm/import",
		"--data", `{"email": 42}`); err == nil || !strings.Contains(err.Error(), "/email") {
		t.Errorf("invalid data: %v", err)
	}
	var out, errOut strings.Builder
	if err := gtmhubTo(srv, &out, &errOut, "", "send", "--type", "com.gtmhub.lead.captured", "--source", "/crm/import",
		"--data", `{"email":"ada@example.com"}`, "--id", "cli-1", "--json"); err != nil {
		t.Fatal(err, out.String(), errOut.String())
	}
	var published struct {
		ID, Subject, Stream string
		Seq                 uint64
	}
	if err := json.Unmarshal([]byte(out.String()), &published); err != nil || published.ID != "cli-1" ||
		published.Subject != "gtm.leads.captured.import" || published.Stream != events.StreamLeads || published.Seq == 0 ||
		errOut.Len() != 0 {
		t.Errorf("send --json: %v, output %q, errors %q", err, out.String(), errOut.String())
	}
	m := srv.Await(t, events.StreamLeads, "gtm.leads.captured.import", 1, 5*time.Second)[0]
	if m.Headers().Get("ce-id") != "cli-1" || m.Headers().Get("ce-source") != "/crm/import" {
		t.Errorf("headers %v", m.Headers())
	}
}

func TestContractsValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	bad := filepath.Join(dir, "bad.json")
	_ = os.WriteFile(good, []byte(`{"specversion":"1.0","id":"1","source":"/x","type":"com.gtmhub.lead.captured","datacontenttype":"application/json","data":{"email":"ada@example.com"}}`), 0o600)
	_ = os.WriteFile(bad, []byte(`{"first_name": 7}`), 0o600)
	root := newRootCmd()
	root.SetOut(new(strings.Builder))
	root.SetArgs([]string{"contracts", "validate", good})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Errorf("good event: %v", err)
	}
	root = newRootCmd()
	root.SetOut(new(strings.Builder))
	root.SetArgs([]string{"contracts", "validate", "--type", "com.gtmhub.lead.captured", bad})
	err := root.ExecuteContext(context.Background())
	if err == nil || !strings.Contains(err.Error(), "/email") || !strings.Contains(err.Error(), "/first_name") {
		t.Errorf("bad data: %v", err)
	}
}

// statusJSON runs `gtmhub status --json` and decodes its output.
func statusJSON(t *testing.T, srv *eventstest.Server) status {
	t.Helper()
	out, err := gtmhub(t, srv, "", "status", "--json")
	if err != nil {
		t.Fatal(err, out)
	}
	var st status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err, out)
	}
	return st
}

// TestContractsJSON: `gtmhub contracts --json` names every field as the
// JetStream API and the catalog do, not as Go does.
func TestContractsJSON(t *testing.T) {
	var out strings.Builder
	root := newRootCmd()
	root.SetOut(&out)
	root.SetArgs([]string{"contracts", "--json"})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	var doc map[string][]map[string]any
	if err := json.Unmarshal([]byte(out.String()), &doc); err != nil {
		t.Fatal(err, out.String())
	}
	want := map[string][]string{
		"events":    {"type", "subject", "stream", "schema", "dataschema", "description"},
		"streams":   {"name", "subjects", "max_age", "description"},
		"consumers": {"service", "stream", "durable_name", "filter_subjects", "description", "max_deliver", "ack_wait", "max_ack_pending", "retry_for"},
	}
	for section, keys := range want {
		if len(doc[section]) == 0 {
			t.Fatalf("no %s in %s", section, out.String())
		}
		for _, entry := range doc[section] {
			if len(entry) != len(keys) {
				t.Errorf("%s entry %v, want the keys %v", section, entry, keys)
			}
			for _, k := range keys {
				if _, ok := entry[k]; !ok {
					t.Errorf("%s entry %v has no %q", section, entry, k)
				}
			}
		}
	}
}

// lastMonth is the month before t's, in UTC, as usage periods write it.
func lastMonth(t time.Time) string {
	t = t.UTC()
	return time.Date(t.Year(), t.Month()-1, 1, 0, 0, 0, 0, time.UTC).Format("2006-01")
}
