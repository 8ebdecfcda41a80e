package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
)

const (
	tokenOld = "tok-old-3f9a1c"
	tokenNew = "tok-new-8b2e7d"
)

// ceEvent is a structured-mode event of typ with data.
func ceEvent(id, typ, data string) string {
	return `{"specversion":"1.0","id":"` + id + `","source":"/crm/sync","type":"` + typ + `","data":` + data + `}`
}

// TestEventsAccess posts to POST /events with and without tokens, from
// listeners on loopback and beyond, and events of every kind of type and
// source: only what events.tokens and events.types allow is stored.
func TestEventsAccess(t *testing.T) {
	lead := ceEvent("acc-1", contracts.TypeLeadCaptured, `{"email":"ada@example.com"}`)
	structured := func(body string, header ...string) request {
		return withHeaders(request{path: "/events", contentType: MediaCloudEvents, body: body}, header...)
	}
	bearer := func(token string) []string { return []string{"Authorization", "Bearer " + token} }
	withTokens := func(addr string) func(*Config) {
		return func(c *Config) {
			c.HTTPAddr = addr
			c.Events.Tokens = []Secret{{Value: tokenOld}, {Value: tokenNew}}
		}
	}
	contact, err := os.ReadFile("../../contracts/examples/com.gtmhub.contact.created.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		cfg      func(*Config)
		env      map[string]string
		req      request
		status   int
		wantErr  string // in the error; the answer never holds a token
		stored   uint64 // events in LEADS and RAW
		wwwAuthn bool
	}{
		{name: "no token, loopback listener: open", req: structured(lead), status: 202, stored: 1},
		{name: "no token, IPv6 loopback listener: open", cfg: func(c *Config) { c.HTTPAddr = "[::1]:8080" },
			req: structured(lead), status: 202, stored: 1},
		{name: "no token, all interfaces: closed", cfg: func(c *Config) { c.HTTPAddr = "0.0.0.0:8080" },
			req: structured(lead), status: 403, wantErr: "set events.tokens"},
		{name: "no token, all interfaces by an empty host: closed", cfg: func(c *Config) { c.HTTPAddr = ":8080" },
			req: structured(lead, bearer("anything")...), status: 403, wantErr: "set events.tokens"},
		{name: "no token, a LAN address: closed", cfg: func(c *Config) { c.HTTPAddr = "10.0.0.5:8080" },
			req: structured(lead), status: 403, wantErr: "set events.tokens"},
		{name: "tokens, none sent", cfg: withTokens("127.0.0.1:8080"),
			req: structured(lead), status: 401, wantErr: "Authorization: Bearer", wwwAuthn: true},
		{name: "tokens, a wrong one", cfg: withTokens("0.0.0.0:8080"),
			req: structured(lead, bearer(tokenOld+"x")...), status: 401, wantErr: "not accepted", wwwAuthn: true},
		{name: "tokens, a token in another scheme", cfg: withTokens("0.0.0.0:8080"),
			req: structured(lead, "Authorization", "Basic "+tokenOld), status: 401, wwwAuthn: true},
		{name: "tokens, the old one", cfg: withTokens("0.0.0.0:8080"),
			req: structured(lead, bearer(tokenOld)...), status: 202, stored: 1},
		{name: "tokens, the new one, scheme in lower case", cfg: withTokens("0.0.0.0:8080"),
			req: structured(lead, "Authorization", "bearer "+tokenNew), status: 202, stored: 1},
		{name: "token from secret_env", env: map[string]string{"TEST_EVENTS_TOKEN": tokenNew},
			cfg: func(c *Config) { c.HTTPAddr = ":8080"; c.Events.Tokens = []Secret{{Env: "TEST_EVENTS_TOKEN"}} },
			req: structured(lead, bearer(tokenNew)...), status: 202, stored: 1},
		{name: "token from " + EventsTokenEnv, env: map[string]string{EventsTokenEnv: tokenNew},
			cfg: func(c *Config) { c.HTTPAddr = ":8080" }, req: structured(lead, bearer(tokenNew)...), status: 202, stored: 1},
		{name: EventsTokenEnv + " makes a token required on loopback too", env: map[string]string{EventsTokenEnv: tokenNew},
			req: structured(lead), status: 401, wwwAuthn: true},
		{name: "lead.enriched is not a default type",
			req:    structured(ceEvent("acc-2", contracts.TypeLeadEnriched, `{}`)),
			status: 403, wantErr: "type com.gtmhub.lead.enriched is not accepted at POST /events: list it in events.types"},
		{name: "contact.created is not a default type",
			req:    structured(ceEvent("acc-3", contracts.TypeContactCreated, string(contact))),
			status: 403, wantErr: "type com.gtmhub.contact.created is not accepted"},
		{name: "contact.created when listed", cfg: func(c *Config) { c.Events.Types = []string{contracts.TypeContactCreated} },
			req: structured(ceEvent("acc-4", contracts.TypeContactCreated, string(contact))), status: 202},
		{name: "lead.captured when not listed", cfg: func(c *Config) { c.Events.Types = []string{contracts.TypeWebhookReceived} },
			req: structured(lead), status: 403, wantErr: "events.types"},
		{name: "another producer's type needs no listing", cfg: func(c *Config) { c.Events.Types = []string{} },
			req: structured(ceEvent("acc-5", "com.example.invoice.paid", `{"invoice":"in_1"}`)), status: 202, stored: 1},
		{name: "a lead of a verified source, by data",
			req:    structured(ceEvent("acc-6", contracts.TypeLeadCaptured, `{"email":"ada@example.com","source":"clay"}`)),
			status: 403, wantErr: "source clay is verified: post to /webhooks/clay"},
		{name: "a lead of a verified source, by extension",
			req: request{path: "/events", contentType: "application/json", body: `{"email":"ada@example.com"}`,
				header: map[string]string{"Ce-Specversion": "1.0", "Ce-Id": "acc-7", "Ce-Source": "/crm",
					"Ce-Type": contracts.TypeLeadCaptured, "Ce-Gtmhubsource": "clay"}},
			status: 403, wantErr: "source clay is verified"},
		{name: "a lead of a verified source, by its CloudEvent source",
			req: request{path: "/events", contentType: "application/json", body: `{"email":"ada@example.com"}`,
				header: map[string]string{"Ce-Specversion": "1.0", "Ce-Id": "acc-7b", "Ce-Source": "/gtmhub/ingest/clay",
					"Ce-Type": contracts.TypeLeadCaptured}},
			status: 403, wantErr: "source clay is verified"},
		{name: "a raw webhook of a verified source",
			req:    structured(ceEvent("acc-8", contracts.TypeWebhookReceived, `{"source":"github","type":"star","body":{}}`)),
			status: 403, wantErr: "source github is verified: post to /webhooks/github"},
		{name: "a lead of a source without verification",
			req:    structured(ceEvent("acc-9", contracts.TypeLeadCaptured, `{"email":"ada@example.com","source":"form"}`)),
			status: 202, stored: 1},
		{name: "a lead of a source guarded by allow_from", cfg: func(c *Config) { c.Sources[0].AllowFrom = []string{"192.0.2.0/24"} },
			req:    structured(ceEvent("acc-9b", contracts.TypeLeadCaptured, `{"email":"ada@example.com","source":"form"}`)),
			status: 403, wantErr: "source form is verified"},
		{name: "a lead of a disabled verified source", cfg: func(c *Config) { c.Sources = DefaultConfig().Sources },
			req:    structured(ceEvent("acc-10", contracts.TypeLeadCaptured, `{"email":"ada@example.com","source":"clay"}`)),
			status: 403, wantErr: "source clay is verified"},
		{name: "a batch without a token", cfg: withTokens("0.0.0.0:8080"),
			req:    request{path: "/events", contentType: MediaCloudEventsBatch, body: "[" + lead + "]"},
			status: 401, wwwAuthn: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EventsTokenEnv, "")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg := testConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			srv := eventstest.RunServer(t)
			rec := tt.req.do(t, newTestHandler(t, srv, cfg))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			a := readAnswer(t, rec)
			if !strings.Contains(a.Error, tt.wantErr) {
				t.Errorf("error %q does not contain %q", a.Error, tt.wantErr)
			}
			if got := rec.Header().Get("WWW-Authenticate"); (got == "Bearer") != tt.wwwAuthn {
				t.Errorf("WWW-Authenticate = %q", got)
			}
			for _, tok := range []string{tokenOld, tokenNew} {
				if strings.Contains(rec.Body.String(), tok) {
					t.Errorf("the answer repeats a token: %s", rec.Body)
				}
			}
			if tt.stored > 0 || tt.status != http.StatusAccepted {
				if n := srv.Count(t, "LEADS", ">") + srv.Count(t, "RAW", ">"); n != tt.stored {
					t.Errorf("%d events stored, want %d", n, tt.stored)
				}
			}
		})
	}
}

// TestEventsAccessBatch applies the rules to each event of a batch.
func TestEventsAccessBatch(t *testing.T) {
	srv := eventstest.RunServer(t)
	h := newTestHandler(t, srv, testConfig())
	batch := "[" + strings.Join([]string{
		ceEvent("bat-1", contracts.TypeLeadCaptured, `{"email":"ada@example.com"}`),
		ceEvent("bat-2", contracts.TypeLeadEnriched, `{}`),
		ceEvent("bat-3", contracts.TypeLeadCaptured, `{"email":"ada@example.com","source":"clay"}`),
		ceEvent("bat-4", contracts.TypeWebhookReceived, `{"source":"gitlab","type":"push","body":{}}`),
	}, ",") + "]"
	rec := request{path: "/events", contentType: MediaCloudEventsBatch, body: batch}.do(t, h)
	if rec.Code != http.StatusMultiStatus {
		t.Fatalf("status %d, want 207: %s", rec.Code, rec.Body)
	}
	var reply struct {
		Results []BatchResult `json:"results"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &reply); err != nil {
		t.Fatal(err)
	}
	var statuses []int
	for _, r := range reply.Results {
		statuses = append(statuses, r.Status)
	}
	if want := []int{202, 403, 403, 202}; !slices.Equal(statuses, want) {
		t.Fatalf("statuses %v, want %v: %s", statuses, want, rec.Body)
	}
	if n := srv.Count(t, "LEADS", ">") + srv.Count(t, "RAW", ">"); n != 2 {
		t.Errorf("%d events stored, want 2", n)
	}

	// Every event refused alike: the batch is answered with their status.
	rec = request{path: "/events", contentType: MediaCloudEventsBatch,
		body: "[" + ceEvent("bat-5", contracts.TypeContactUpdated, `{}`) + "]"}.do(t, h)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("status %d, want 403: %s", rec.Code, rec.Body)
	}
	readAnswer(t, rec)
}

func catalogTypes() []string {
	var types []string
	for _, e := range contracts.Catalog() {
		types = append(types, e.Type)
	}
	return types
}

func TestLoopbackOnly(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:8080", true},
		{"127.0.0.2:8080", true},
		{"[::1]:8080", true},
		{"localhost:8080", true},
		{"LocalHost:0", true},
		{":8080", false},
		{"0.0.0.0:8080", false},
		{"[::]:8080", false},
		{"192.168.1.10:8080", false},
		{"ingest.example.com:8080", false},
		{"127.0.0.1", false}, // no port: not a listen address
	}
	for _, tt := range tests {
		if got := loopbackOnly(tt.addr); got != tt.want {
			t.Errorf("loopbackOnly(%q) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}

// TestEventsConfig validates the events block: problems are reported with
// the others, without revealing a token.
func TestEventsConfig(t *testing.T) {
	tests := []struct {
		name   string
		events EventsConfig
		want   []string
	}{
		{name: "defaults", events: EventsConfig{}},
		{name: "every catalog type", events: EventsConfig{Types: catalogTypes()}},
		{name: "unknown types", events: EventsConfig{Types: []string{"com.gtmhub.lead.exploded", "com.example.invoice.paid"}},
			want: []string{`events.types: "com.gtmhub.lead.exploded" is not a type of the contracts catalog`,
				`events.types: "com.example.invoice.paid" is not a type`}},
		{name: "unset secret_env", events: EventsConfig{Tokens: []Secret{{Env: "TEST_UNSET_EVENTS_TOKEN"}}},
			want: []string{"events.tokens: secret_env TEST_UNSET_EVENTS_TOKEN is unset"}},
		{name: "value and secret_env", events: EventsConfig{Tokens: []Secret{{Value: tokenOld, Env: "X"}, {}}},
			want: []string{"events.tokens: secrets[0]: give value or secret_env, not both", "secrets[1]: give value or secret_env"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Events = tt.events
			err := cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate() = nil")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() does not report %q in:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), tokenOld) {
				t.Errorf("Validate() reveals a token: %v", err)
			}
		})
	}
}

// TestServeJudgesEventsByListener: Serve opens POST /events without a token
// by the address its listener is bound to, whatever http_addr says, and
// warns once at start when it is closed.
func TestServeJudgesEventsByListener(t *testing.T) {
	tests := []struct {
		name, listen, httpAddr string
		status                 int
		warnings               int
	}{
		{"loopback listener, http_addr on all interfaces", "127.0.0.1:0", "0.0.0.0:8080", http.StatusAccepted, 0},
		{"listener on all interfaces, http_addr on loopback", "0.0.0.0:0", "127.0.0.1:8080", http.StatusForbidden, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EventsTokenEnv, "")
			srv := eventstest.RunServer(t)
			ln, err := net.Listen("tcp", tt.listen)
			if err != nil {
				t.Fatal(err)
			}
			var logs lockedBuffer
			deps := service.Deps{Conn: srv.Conn, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
			cfg := testConfig()
			cfg.HTTPAddr = tt.httpAddr
			ctx, cancel := context.WithCancel(t.Context())
			served := make(chan error, 1)
			go func() { served <- Serve(ctx, ln, cfg, deps) }()
			t.Cleanup(func() {
				cancel()
				if err := <-served; err != nil {
					t.Errorf("Serve() = %v", err)
				}
			})

			url := fmt.Sprintf("http://127.0.0.1:%d/events", ln.Addr().(*net.TCPAddr).Port)
			body := ceEvent("srv-1", contracts.TypeLeadCaptured, `{"email":"ada@example.com"}`)
			resp, err := http.Post(url, MediaCloudEvents, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if n := strings.Count(logs.String(), `"level":"WARN","msg":"POST /events is closed`); n != tt.warnings {
				t.Errorf("%d warnings about POST /events, want %d:\n%s", n, tt.warnings, logs.String())
			}
		})
	}
}

// lockedBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
