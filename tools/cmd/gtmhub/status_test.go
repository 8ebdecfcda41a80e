package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
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
	out, err := gtmhub(t, srv, "", "status", "--json")
	if err != nil {
		t.Fatal(err, out)
	}
	var st status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err, out)
	}
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

	if err := service.PutUsage(ctx, srv.JS, service.Usage{Resource: "notify.email.daily", Used: 499, Limit: 500}); err != nil {
		t.Fatal(err)
	}
	if out, err := gtmhub(t, srv, "", "status"); !errors.Is(err, errCritical) || !strings.Contains(out, "CRITICAL") {
		t.Errorf("critical usage: err %v\n%s", err, out)
	}
}

func TestStatusWithoutServer(t *testing.T) {
	root := newRootCmd()
	root.SetArgs([]string{"status", "--nats-url", "nats://127.0.0.1:1", "--timeout", "200ms"})
	root.SetOut(new(strings.Builder))
	err := root.ExecuteContext(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no NATS server at nats://127.0.0.1:1") {
		t.Errorf("err = %v", err)
	}
}

func TestSendValidatesAndPublishes(t *testing.T) {
	srv := eventstest.RunServer(t)
	if _, err := gtmhub(t, srv, "", "send", "--type", "com.gtmhub.lead.captured", "--source", "/crm/import",
		"--data", `{"email": 42}`); err == nil || !strings.Contains(err.Error(), "/email") {
		t.Errorf("invalid data: %v", err)
	}
	out, err := gtmhub(t, srv, "", "send", "--type", "com.gtmhub.lead.captured", "--source", "/crm/import",
		"--data", `{"email":"ada@example.com"}`, "--id", "cli-1")
	if err != nil {
		t.Fatal(err, out)
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
