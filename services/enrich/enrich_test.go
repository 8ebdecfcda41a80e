package enrich_test

import (
	"cmp"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/services/enrich"
)

const wait = 10 * time.Second

// startEnrich runs the service on srv until the test ends and checks that it
// stops cleanly.
func startEnrich(t *testing.T, srv *eventstest.Server, cfg enrich.Config) {
	t.Helper()
	eventstest.Go(t, func(ctx context.Context) error { return enrich.Run(ctx, cfg, service.Deps{Conn: srv.Conn}) })
}

func captured(t *testing.T, lead contracts.Lead) event.Event {
	t.Helper()
	ev := eventstest.NewEvent(t, contracts.TypeLeadCaptured, contracts.LeadCaptured{Lead: lead,
		Attributes: map[string]any{"utm_source": "newsletter"}})
	ev.SetTime(time.Date(2025, 11, 20, 9, 14, 3, 0, time.UTC))
	return ev
}

func withSource(ev event.Event, source string) event.Event {
	ev.SetSource(source)
	return ev
}

// decode reads a published message as an event and checks it against its
// contract.
func decode(t *testing.T, m jetstream.Msg) event.Event {
	t.Helper()
	ev, err := events.Decode(m.Headers(), m.Data())
	if err != nil {
		t.Fatalf("decode %s: %v", m.Subject(), err)
	}
	if err := contracts.Validate(ev.Type(), ev.Data()); err != nil {
		t.Errorf("event %s breaks its contract: %v", ev.ID(), err)
	}
	if ev.Source() != enrich.Source || ev.DataContentType() != event.ApplicationJSON {
		t.Errorf("event %s: source %q, content type %q", ev.ID(), ev.Source(), ev.DataContentType())
	}
	return ev
}

// awaitSettled waits until the enrich consumer has nothing pending or
// unacknowledged, so what it was going to publish is published.
func awaitSettled(t *testing.T, srv *eventstest.Server) {
	t.Helper()
	srv.AwaitSettled(t, events.StreamLeads, enrich.Name, wait)
}

func TestRunEnrichesAndRejects(t *testing.T) {
	srv := eventstest.RunServer(t)
	startEnrich(t, srv, enrich.DefaultConfig())

	inputs := map[string]event.Event{
		"valid":     captured(t, contracts.Lead{Email: "ada@example.com", FirstName: " Ada ", LastName: "Lovelace", Source: "form"}),
		"uppercase": captured(t, contracts.Lead{Email: "  Grace.Hopper@Navy.MIL ", Source: "form"}),
		"freemail":  captured(t, contracts.Lead{Email: "bob@gmail.com", Source: "form"}),
		// A decision-maker's title is worth 25 fit points, which the
		// disposable address's penalty takes away.
		"disposable": captured(t, contracts.Lead{Email: "x@mailinator.com", Title: "CTO", Source: "form"}),
		"invalid":    captured(t, contracts.Lead{Email: "Ada Lovelace <ada@example.com>", FirstName: "Ada", Source: "form"}),
		// No source in the lead: the subject ingest chose names it (from
		// the CloudEvent source, or the gtmhubsource extension, which may
		// name another), and without a delivery the CloudEvent source.
		"imported":  withSource(captured(t, contracts.Lead{Email: "linus@kernel.org"}), "/crm/Import/"),
		"unnamed":   withSource(captured(t, contracts.Lead{Email: "ken@example.org"}), "/"),
		"extension": withSource(captured(t, contracts.Lead{Email: "dmr@example.net"}), "/gtmhub/ingest/clay"),
	}
	subjects := map[string]string{"imported": "import", "unnamed": "events", "extension": "partner"}
	for name, ev := range inputs {
		srv.Publish(t, events.SubjectLeadsCaptured+"."+cmp.Or(subjects[name], "form"), ev)
	}

	enriched := map[string]contracts.LeadEnriched{}
	for _, m := range srv.Await(t, events.StreamLeads, events.SubjectLeadsEnriched, 7, wait) {
		ev := decode(t, m)
		if ev.Type() != contracts.TypeLeadEnriched {
			t.Fatalf("type %q on %s", ev.Type(), m.Subject())
		}
		var lead contracts.LeadEnriched
		if err := json.Unmarshal(ev.Data(), &lead); err != nil {
			t.Fatal(err)
		}
		if ev.Subject() != enrich.EmailSubject(lead.Email) || strings.Contains(ev.Subject(), "@") {
			t.Errorf("subject %q, want the email's hash", ev.Subject())
		}
		if lead.Enrichment.Status == nil || len(lead.Enrichment.Status) != 0 {
			t.Errorf("enrichment status %v, want an empty map: no providers", lead.Enrichment.Status)
		}
		enriched[ev.ID()] = lead
		checkOutcome(t, ev, inputs)
	}

	want := map[string]struct{ email, domain, first, source string }{
		"valid":      {"ada@example.com", "example.com", "Ada", "form"},
		"uppercase":  {"grace.hopper@navy.mil", "navy.mil", "", "form"},
		"freemail":   {"bob@gmail.com", "", "", "form"},
		"disposable": {"x@mailinator.com", "", "", "form"},
		"imported":   {"linus@kernel.org", "kernel.org", "", "import"},
		"unnamed":    {"ken@example.org", "example.org", "", "events"},
		"extension":  {"dmr@example.net", "example.net", "", "partner"},
	}
	for name, w := range want {
		got, ok := enriched[enrich.OutputID(inputs[name].ID())]
		if !ok {
			t.Errorf("%s: no enriched event with id %s", name, enrich.OutputID(inputs[name].ID()))
			continue
		}
		if got.Email != w.email || got.Domain != w.domain || got.FirstName != w.first || got.Source != w.source {
			t.Errorf("%s: enriched %+v, want email %q domain %q first name %q source %q",
				name, got.Lead, w.email, w.domain, w.first, w.source)
		}
		if got.CreatedAt == nil || !got.CreatedAt.Equal(inputs[name].Time()) {
			t.Errorf("%s: created_at %v, want the capture time %v", name, got.CreatedAt, inputs[name].Time())
		}
	}

	// A throwaway address gives no company domain, so the store makes no
	// company of its mail service, but it is still noted as disposable.
	if got := enriched[enrich.OutputID(inputs["disposable"].ID())]; got.Enrichment.EmailVerification == nil ||
		got.Enrichment.EmailVerification.Status != "disposable" || got.FitScore == nil || *got.FitScore != 0 {
		t.Errorf("disposable: email verification %+v, fit score %v; want status disposable and fit 0",
			got.Enrichment.EmailVerification, got.FitScore)
	}

	rejected := srv.Await(t, events.StreamLeads, events.SubjectLeadsRejected, 1, wait)
	ev := decode(t, rejected[0])
	checkOutcome(t, ev, inputs)
	if ev.Type() != contracts.TypeLeadRejected || ev.ID() != enrich.OutputID(inputs["invalid"].ID()) {
		t.Fatalf("rejected event %s of type %s, want the invalid lead's", ev.ID(), ev.Type())
	}
	var rej contracts.LeadRejected
	if err := json.Unmarshal(ev.Data(), &rej); err != nil {
		t.Fatal(err)
	}
	if len(rej.Reasons) != 1 || rej.Reasons[0].Field != "email" || rej.Reasons[0].Code != enrich.CodeInvalidFormat {
		t.Errorf("reasons %+v, want one email invalid_format", rej.Reasons)
	}
	if rej.Email != "Ada Lovelace <ada@example.com>" {
		t.Errorf("rejected email %q, want it as it arrived", rej.Email)
	}

	awaitSettled(t, srv)
	if n := srv.Count(t, events.StreamDLQ, "gtm.dlq.>"); n != 0 {
		t.Errorf("%d dead letters, want none", n)
	}
}

// checkOutcome checks the attributes every outcome shares with its capture.
func checkOutcome(t *testing.T, ev event.Event, inputs map[string]event.Event) {
	t.Helper()
	for _, in := range inputs {
		if ev.ID() == enrich.OutputID(in.ID()) {
			if !ev.Time().Equal(in.Time()) {
				t.Errorf("event %s time %v, want the capture's %v", ev.ID(), ev.Time(), in.Time())
			}
			return
		}
	}
	t.Errorf("event %s derives from no input", ev.ID())
}

func TestRunPublishesOneOutcomePerCapture(t *testing.T) {
	srv := eventstest.RunServer(t)
	startEnrich(t, srv, enrich.DefaultConfig())

	in := captured(t, contracts.Lead{Email: "ada@example.com"})
	srv.Publish(t, events.SubjectLeadsCaptured+".form", in)
	srv.Publish(t, events.SubjectLeadsCaptured+".form", in) // the stream drops it
	// A replay stores the capture again under a new Nats-Msg-Id but the same
	// CloudEvent id; enrich handles it again and publishes the same id.
	msg, err := events.Encode(events.SubjectLeadsCaptured+".form", in)
	if err != nil {
		t.Fatal(err)
	}
	msg.Header.Set(events.HeaderMsgID, "replay-"+in.ID())
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if _, err := srv.JS.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}

	if n := srv.Count(t, events.StreamLeads, events.SubjectLeadsCaptured+".>"); n != 2 {
		t.Fatalf("%d captures stored, want 2 (one duplicate dropped, one replay)", n)
	}
	awaitSettled(t, srv)
	info, err := srv.JS.Consumer(ctx, events.StreamLeads, enrich.Name)
	if err != nil {
		t.Fatal(err)
	}
	if ci, err := info.Info(ctx); err != nil || ci.AckFloor.Stream < 2 {
		t.Fatalf("consumer info %+v, %v: want both captures acknowledged", ci, err)
	}
	if n := srv.Count(t, events.StreamLeads, events.SubjectLeadsEnriched); n != 1 {
		t.Errorf("%d enriched events, want 1", n)
	}
}

// TestRunDeadLettersWhatCannotBeProcessed: data enrich cannot decode, and a
// lead whose enriched form cannot be encoded (a created_at that leaves the
// years 0000-9999 once in UTC, sent past ingest's contract check), are
// dead-lettered at once as permanent, not retried, and do not hold up the
// next lead.
func TestRunDeadLettersWhatCannotBeProcessed(t *testing.T) {
	tests := []struct {
		name, data, wantError string
	}{
		{"undecodable data", `{"email": 42`, "decode"},
		{"created_at beyond year 9999 in UTC", `{"email":"ada@example.com","created_at":"9999-12-31T23:59:59-01:00"}`,
			"encode enriched lead"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := eventstest.RunServer(t)
			startEnrich(t, srv, enrich.DefaultConfig())

			bad := eventstest.NewEvent(t, contracts.TypeLeadCaptured, nil)
			if err := bad.SetData("application/json", []byte(tt.data)); err != nil {
				t.Fatal(err)
			}
			srv.Publish(t, events.SubjectLeadsCaptured+".form", bad)
			srv.Publish(t, events.SubjectLeadsCaptured+".form", captured(t, contracts.Lead{Email: "grace@example.com"}))

			dead := srv.Await(t, events.StreamDLQ, events.DLQSubject(enrich.Name, ">"), 1, wait)
			h := dead[0].Headers()
			if got := h.Get("ce-id"); got != bad.ID() {
				t.Errorf("dead letter ce-id %q, want %q", got, bad.ID())
			}
			if got, want := h.Get(events.DLQHeaderReason), "permanent"; got != want {
				t.Errorf("dead letter reason %q, want %q", got, want)
			}
			if got := h.Get(events.DLQHeaderError); !strings.Contains(got, tt.wantError) {
				t.Errorf("dead letter error %q, want it to say %q", got, tt.wantError)
			}
			srv.Await(t, events.StreamLeads, events.SubjectLeadsEnriched, 1, wait)
			awaitSettled(t, srv)
			if n := srv.Count(t, events.StreamLeads, events.SubjectLeadsRejected); n != 0 {
				t.Errorf("%d rejected events, want none", n)
			}
		})
	}
}

func TestRunRejectsInvalidConfig(t *testing.T) {
	cfg := enrich.DefaultConfig()
	cfg.Enrich.FreeMailDomains = []string{"gmail.com", "not a domain"}
	err := enrich.Run(context.Background(), cfg, service.Deps{})
	if err == nil || !strings.Contains(err.Error(), "free_mail_domains") {
		t.Fatalf("Run = %v, want a free_mail_domains problem", err)
	}
}

func TestConfigValidateListsEveryProblem(t *testing.T) {
	t.Setenv("GTMHUB_TEST_EMPTY_KEY", "")
	cfg := enrich.DefaultConfig()
	cfg.Enrich.FreeMailDomains = []string{"bad domain"}
	cfg.Enrich.Providers = []enrich.ProviderConfig{
		{Name: "Clear Bit", Kind: enrich.KindClearbit, Key: "k"},
		{Name: "hunter", KeyEnv: "GTMHUB_TEST_EMPTY_KEY", BaseURL: "ftp://x"},
		{Name: "hunter", Key: "k", CacheTTL: -time.Second},
		{Name: "pipl", Key: "k"},
		{Name: strings.Repeat("c", 65), Kind: enrich.KindClearbit, Key: "k"},
	}
	cfg.Enrich.Scoring.Fit = append(cfg.Enrich.Scoring.Fit, enrich.Rule{Name: "typo", When: "company.employes > 5", Points: 1},
		enrich.Rule{Name: "not bool", When: "company.employees", Points: 1})
	cfg.Enrich.Scoring.Weights = enrich.Weights{Intent: -1}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate accepted an invalid config")
	}
	for _, want := range []string{"free_mail_domains", `"Clear Bit"`, "GTMHUB_TEST_EMPTY_KEY is not set", "base_url",
		`"hunter" is listed twice`, "cache_ttl", `kind "pipl"`, `"` + strings.Repeat("c", 65) + `"`, `fit "typo"`,
		`fit "not bool"`, "weights"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error does not mention %s:\n%v", want, err)
		}
	}
	if err := enrich.DefaultConfig().Validate(); err != nil {
		t.Errorf("DefaultConfig().Validate() = %v", err)
	}
}

func TestConfigFromYAML(t *testing.T) {
	t.Setenv("GTMHUB_TEST_CLEARBIT_KEY", "sk_test")
	path := t.TempDir() + "/gtmhub.yaml"
	yaml := `
enrich:
  providers:
    - name: clearbit
      base_url: http://127.0.0.1:9999
      key_env: GTMHUB_TEST_CLEARBIT_KEY
      rate_limit: 2.5
      burst: 3
      monthly_credits: 100
      cache_ttl: 48h
      max_wait: 90s
      timeout: 3s
    - name: verifier
      kind: hunter
      key: inline
  scoring:
    weights: {intent: 0.5, fit: 0.5}
    fit:
      - {name: big, when: "company.employees > 1000", points: 60}
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := enrich.DefaultConfig()
	if err := service.LoadFile(path, &cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	p := cfg.Enrich.Providers
	if len(p) != 2 || p[0].RateLimit != 2.5 || p[0].Burst != 3 || p[0].MonthlyCredits != 100 ||
		p[0].CacheTTL != 48*time.Hour || p[0].MaxWait != 90*time.Second || p[0].Timeout != 3*time.Second ||
		p[1].Kind != enrich.KindHunter || p[1].Key != "inline" {
		t.Errorf("providers %+v", p)
	}
	s := cfg.Enrich.Scoring
	if s.Weights != (enrich.Weights{Intent: 0.5, Fit: 0.5}) || len(s.Fit) != 1 || len(s.Intent) != len(enrich.DefaultScoring().Intent) {
		t.Errorf("scoring %+v: want the fit rules replaced and the intent rules kept", s)
	}
}
