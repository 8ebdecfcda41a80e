package enrich_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/services/enrich"
	"github.com/gtmhub/gtmhub/services/enrich/internal/fakeprovider"
)

const fakeKey = "sk_live_do_not_log"

// withFake returns the default config with a Clearbit and a Hunter provider
// talking to a fake that knows acme.io and ada@acme.io.
func withFake(t *testing.T) (enrich.Config, *fakeprovider.Server) {
	t.Helper()
	f := fakeprovider.New(fakeKey)
	t.Cleanup(f.Close)
	f.AddCompany(fakeprovider.Company{Domain: "acme.io", Name: "Acme", Industry: "Software",
		Employees: 250, CountryCode: "GB", Country: "United Kingdom"})
	f.AddEmail("ada@acme.io", fakeprovider.Verification{Status: "valid", Score: 97})
	cfg := enrich.DefaultConfig()
	for _, kind := range []string{enrich.KindClearbit, enrich.KindHunter} {
		cfg.Enrich.Providers = append(cfg.Enrich.Providers, enrich.ProviderConfig{Name: kind, BaseURL: f.URL,
			Key: fakeKey, RateLimit: 1000, Burst: 50, BreakerTimeout: time.Second, Timeout: 2 * time.Second})
	}
	return cfg, f
}

func leadEvent(t *testing.T, lead contracts.Lead, attrs map[string]any) event.Event {
	t.Helper()
	return eventstest.NewEvent(t, contracts.TypeLeadCaptured, contracts.LeadCaptured{Lead: lead, Attributes: attrs})
}

func enrichedLead(t *testing.T, m jetstream.Msg) contracts.LeadEnriched {
	t.Helper()
	ev := decode(t, m)
	var out contracts.LeadEnriched
	if err := json.Unmarshal(ev.Data(), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRunEnrichesKnownCompany(t *testing.T) {
	srv := eventstest.RunServer(t)
	cfg, f := withFake(t)
	startEnrich(t, srv, cfg)

	in := leadEvent(t, contracts.Lead{Email: "Ada@Acme.io", Title: "VP Engineering", Source: "form",
		Company: "ACME, Inc.", Phone: "+44 20 7183 8750"},
		map[string]any{"form_type": "demo", "pages": []any{"/", "/pricing"}})
	srv.Publish(t, events.SubjectLeadsCaptured+".form", in)
	got := enrichedLead(t, srv.Await(t, events.StreamLeads, events.SubjectLeadsEnriched, 1, wait)[0])

	c, v := got.Enrichment.Company, got.Enrichment.EmailVerification
	if c == nil || c.Name != "Acme" || c.Industry != "Software" || c.Employees == nil || *c.Employees != 250 || c.Country != "GB" {
		t.Errorf("company %+v", c)
	}
	if v == nil || v.Status != "valid" || v.Score == nil || *v.Score != 97 {
		t.Errorf("email verification %+v", v)
	}
	for _, name := range []string{"clearbit", "hunter"} {
		if st := got.Enrichment.Status[name]; st.State != contracts.ProviderDone {
			t.Errorf("%s status %+v, want done", name, st)
		}
	}
	// employees 35 + industry 25 + country 15 + title 25; demo 50 + pricing 25 + inbound form 15.
	score := func(p *float64) float64 {
		if p == nil {
			return -1
		}
		return *p
	}
	if score(got.FitScore) != 100 || score(got.IntentScore) != 90 || score(got.SignalScore) != 96 {
		t.Errorf("scores fit %v intent %v signal %v, want 100, 90 and round(90*0.4+100*0.6) = 96",
			score(got.FitScore), score(got.IntentScore), score(got.SignalScore))
	}
	if got.Company != "ACME, Inc." || got.Phone != "+442071838750" || got.Domain != "acme.io" {
		t.Errorf("lead %+v: want the display name kept, the phone in E.164 and the domain", got.Lead)
	}
	for _, r := range f.Log() {
		if r.Status != http.StatusOK {
			t.Errorf("fake answered %+v", r)
		}
	}
}

// TestRunWaitsOutRetryAfter checks that a 429 with Retry-After: 2 delays
// the lead at least 2 s, and that the lead then succeeds.
func TestRunWaitsOutRetryAfter(t *testing.T) {
	srv := eventstest.RunServer(t)
	cfg, f := withFake(t)
	reg := prometheus.NewRegistry()
	eventstest.Go(t, func(ctx context.Context) error {
		return enrich.Run(ctx, cfg, service.Deps{Conn: srv.Conn, Registry: reg})
	})
	f.Inject(fakeprovider.Clearbit, fakeprovider.Reply{Status: http.StatusTooManyRequests, RetryAfter: "2"})

	ack := srv.Publish(t, events.SubjectLeadsCaptured+".form", leadEvent(t, contracts.Lead{Email: "ada@acme.io"}, nil))
	m := srv.Await(t, events.StreamLeads, events.SubjectLeadsEnriched, 1, wait)[0]
	got := enrichedLead(t, m)
	if got.Enrichment.Company == nil || got.Enrichment.Company.Name != "Acme" {
		t.Fatalf("company %+v, want Acme after the retry", got.Enrichment.Company)
	}
	var reqs []fakeprovider.Request
	for _, r := range f.Log() {
		if r.Kind == fakeprovider.Clearbit {
			reqs = append(reqs, r)
		}
	}
	if len(reqs) != 2 || reqs[0].Status != http.StatusTooManyRequests || reqs[1].Status != http.StatusOK {
		t.Fatalf("clearbit requests %+v, want a 429 then a 200", reqs)
	}
	gap := reqs[1].At.Sub(reqs[0].At)
	md, err := m.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	captured := capturedAt(t, srv, ack.Sequence)
	delay := md.Timestamp.Sub(captured)
	t.Logf("429 Retry-After: 2 → second request %v after the first; lead enriched %v after capture", gap, delay)
	// Each answer is timed by provider and status: the 429 is a rate-limit hit.
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for code, want := range map[string]int{"429": 1, "200": 1} {
		if got := requestCount(families, "clearbit", code); got != want {
			t.Errorf("clearbit requests answered %s: %d timed, want %d", code, got, want)
		}
	}
	if gap < 2*time.Second || delay < 2*time.Second {
		t.Errorf("retried after %v, enriched %v after capture; want at least 2s", gap, delay)
	}
	if n := f.Requests(fakeprovider.Hunter); n != 1 {
		t.Errorf("%d hunter requests, want 1: its answer is cached across the retry", n)
	}
}

// capturedAt returns when the stream stored the message with seq.
func capturedAt(t *testing.T, srv *eventstest.Server, seq uint64) time.Time {
	t.Helper()
	st, err := srv.JS.Stream(t.Context(), events.StreamLeads)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := st.GetMsg(t.Context(), seq)
	if err != nil {
		t.Fatal(err)
	}
	return raw.Time
}

// TestRunBreakerHoldsRequests checks that five consecutive 500s open the
// breaker, that the provider sees no request until it half-opens, and that
// every lead is then enriched.
func TestRunBreakerHoldsRequests(t *testing.T) {
	srv := eventstest.RunServer(t)
	cfg, f := withFake(t)
	cfg.Enrich.Providers = cfg.Enrich.Providers[:1] // clearbit only
	startEnrich(t, srv, cfg)
	f.Fail(fakeprovider.Clearbit, http.StatusInternalServerError, 5)
	for i := range 5 {
		f.AddCompany(fakeprovider.Company{Domain: fmt.Sprintf("d%d.dev", i), Name: fmt.Sprintf("D%d", i)})
	}

	for i := range 5 {
		srv.Publish(t, events.SubjectLeadsCaptured+".form",
			leadEvent(t, contracts.Lead{Email: fmt.Sprintf("x@d%d.dev", i)}, nil))
	}
	for _, m := range srv.Await(t, events.StreamLeads, events.SubjectLeadsEnriched, 5, 20*time.Second) {
		if got := enrichedLead(t, m); got.Enrichment.Company == nil {
			t.Errorf("lead %s: no company: %+v", got.Email, got.Enrichment.Status)
		}
	}
	log := f.Log()
	if len(log) < 6 {
		t.Fatalf("%d requests, want five failures and then successes", len(log))
	}
	for i, r := range log[:5] {
		if r.Status != http.StatusInternalServerError {
			t.Fatalf("request %d answered %d, want 500", i, r.Status)
		}
	}
	quiet := log[5].At.Sub(log[4].At)
	t.Logf("breaker open: no request for %v after the fifth 500 (breaker timeout 1s); %d requests in all", quiet, len(log))
	if quiet < 950*time.Millisecond {
		t.Errorf("request %v after the fifth 500, want none before the breaker half-opens (1s)", quiet)
	}
	if len(log) != 10 {
		t.Errorf("%d requests, want 10: five failures and one success per lead", len(log))
	}
}

// TestRunThousandLeadsFiftyDomains checks that 1,000 leads from 50 domains
// cost at most 50 company lookups, and that replaying them costs none.
func TestRunThousandLeadsFiftyDomains(t *testing.T) {
	srv := eventstest.RunServer(t)
	cfg, f := withFake(t)
	cfg.Enrich.Providers = cfg.Enrich.Providers[:1] // clearbit only
	startEnrich(t, srv, cfg)
	const leads, domains = 1000, 50
	for d := range domains {
		if d%5 != 0 { // some domains stay unknown: 404s cost a credit too
			f.AddCompany(fakeprovider.Company{Domain: fmt.Sprintf("co%d.dev", d), Name: fmt.Sprintf("Co %d", d), Employees: d * 10})
		}
	}

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	start := time.Now()
	inputs := make([]event.Event, leads)
	for i := range leads {
		inputs[i] = leadEvent(t, contracts.Lead{Email: fmt.Sprintf("p%d@co%d.dev", i, i%domains)}, nil)
		publishAsync(t, srv, inputs[i], inputs[i].ID())
	}
	waitAsync(t, ctx, srv)
	srv.Await(t, events.StreamLeads, events.SubjectLeadsEnriched, leads, 30*time.Second)
	awaitSettled(t, srv)
	first := time.Since(start)
	lookups := f.Requests(fakeprovider.Clearbit)

	start = time.Now()
	for _, in := range inputs {
		publishAsync(t, srv, in, "replay-"+in.ID())
	}
	waitAsync(t, ctx, srv)
	if n := srv.Count(t, events.StreamLeads, events.SubjectLeadsCaptured+".>"); n != 2*leads {
		t.Fatalf("%d captures stored, want %d", n, 2*leads)
	}
	awaitSettled(t, srv)
	replay := time.Since(start)

	t.Logf("%d leads from %d domains: %d lookups in %v; replay: %d more lookups in %v",
		leads, domains, lookups, first, f.Requests(fakeprovider.Clearbit)-lookups, replay)
	if lookups > domains {
		t.Errorf("%d lookups for %d domains, want at most %d", lookups, domains, domains)
	}
	if n := f.Requests(fakeprovider.Clearbit); n != lookups {
		t.Errorf("replay cost %d lookups, want none", n-lookups)
	}
	if n := srv.Count(t, events.StreamLeads, events.SubjectLeadsEnriched); n != leads {
		t.Errorf("%d enriched events, want %d: a replay publishes the same ids", n, leads)
	}
	// The credits spent, as reported against the budget, are the lookups
	// made; the bucket may hold a few more, leased by the running process.
	awaitUsage(t, srv, "enrich.clearbit.credits", float64(lookups))
	kv, err := srv.JS.KeyValue(ctx, enrich.CreditsBucket)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, enrich.CreditsKey("clearbit", time.Now()))
	if n, _ := strconv.Atoi(string(e.Value())); err != nil || n < lookups || n > lookups+32 {
		t.Errorf("credits entry %v, %v; want %d plus at most a lease", e, err, lookups)
	}
}

// awaitUsage waits for the usage bucket to report used of resource.
func awaitUsage(t *testing.T, srv *eventstest.Server, resource string, used float64) {
	t.Helper()
	var last []service.Usage
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		usage, err := service.ListUsage(context.Background(), srv.JS)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range usage {
			if u.Resource == resource && u.Used == used {
				return
			}
		}
		last = usage
	}
	t.Errorf("usage of %s never reached %v: %+v", resource, used, last)
}

// publishAsync publishes ev as a capture with the Nats-Msg-Id msgID
// without waiting for the ack; see waitAsync.
func publishAsync(t *testing.T, srv *eventstest.Server, ev event.Event, msgID string) {
	t.Helper()
	msg, err := events.Encode(events.SubjectLeadsCaptured+".form", ev)
	if err != nil {
		t.Fatal(err)
	}
	msg.Header.Set(events.HeaderMsgID, msgID)
	if _, err := srv.JS.PublishMsgAsync(msg); err != nil {
		t.Fatal(err)
	}
}

// waitAsync waits until every async publish is acknowledged.
func waitAsync(t *testing.T, ctx context.Context, srv *eventstest.Server) {
	t.Helper()
	select {
	case <-srv.JS.PublishAsyncComplete():
	case <-ctx.Done():
		t.Fatal("async publishes not acknowledged")
	}
}

// TestRunGoesOnWithoutProvider checks that a lead whose provider has spent
// its credits, or has failed for max_wait, is enriched with what there is
// and says which provider was skipped and why.
func TestRunGoesOnWithoutProvider(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(cfg *enrich.Config, f *fakeprovider.Server)
		spendFirst bool // enrich a lead from another domain first
		wantReason string
	}{
		{
			name: "credits spent",
			setup: func(cfg *enrich.Config, f *fakeprovider.Server) {
				cfg.Enrich.Providers[0].MonthlyCredits = 1
				f.AddCompany(fakeprovider.Company{Domain: "first.dev", Name: "First"})
			},
			spendFirst: true,
			wantReason: "monthly credits spent",
		},
		{
			name: "down past max_wait",
			setup: func(cfg *enrich.Config, f *fakeprovider.Server) {
				cfg.Enrich.Providers[0].MaxWait = 1500 * time.Millisecond
				f.Fail(fakeprovider.Clearbit, http.StatusServiceUnavailable, 100)
			},
			wantReason: "gave up after waiting 1.5s",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := eventstest.RunServer(t)
			cfg, f := withFake(t)
			tt.setup(&cfg, f)
			startEnrich(t, srv, cfg)

			n := 1
			if tt.spendFirst {
				srv.Publish(t, events.SubjectLeadsCaptured+".form", leadEvent(t, contracts.Lead{Email: "x@first.dev"}, nil))
				srv.Await(t, events.StreamLeads, events.SubjectLeadsEnriched, 1, wait)
				n = 2
			}
			srv.Publish(t, events.SubjectLeadsCaptured+".form", leadEvent(t, contracts.Lead{Email: "ada@acme.io"}, nil))
			msgs := srv.Await(t, events.StreamLeads, events.SubjectLeadsEnriched, n, wait)
			got := enrichedLead(t, msgs[n-1])
			st := got.Enrichment.Status["clearbit"]
			if st.State != contracts.ProviderSkipped || !strings.Contains(st.Reason, tt.wantReason) {
				t.Errorf("clearbit status %+v, want skipped: %s", st, tt.wantReason)
			}
			if got.Enrichment.Company != nil || got.Enrichment.EmailVerification == nil || got.SignalScore == nil {
				t.Errorf("enrichment %+v, scores %v: want no company, the email verified, and scores", got.Enrichment, got.SignalScore)
			}
			if strings.Contains(st.Reason, fakeKey) {
				t.Errorf("reason %q contains the key", st.Reason)
			}
		})
	}
}

// TestRunReportsCreditUsage: a provider's monthly credits appear in the usage
// bucket against its budget, so `gtmhub status` rates 8 of 10 as Warning.
func TestRunReportsCreditUsage(t *testing.T) {
	srv := eventstest.RunServer(t)
	cfg, f := withFake(t)
	cfg.Enrich.Providers = cfg.Enrich.Providers[:1] // clearbit
	cfg.Enrich.Providers[0].MonthlyCredits = 10
	for i := range 8 {
		f.AddCompany(fakeprovider.Company{Domain: fmt.Sprintf("co%d.io", i), Name: fmt.Sprintf("Co %d", i)})
	}
	startEnrich(t, srv, cfg)
	for i := range 8 {
		srv.Publish(t, events.SubjectLeadsCaptured+".form", leadEvent(t, contracts.Lead{Email: fmt.Sprintf("a@co%d.io", i)}, nil))
	}
	srv.Await(t, events.StreamLeads, events.SubjectLeadsEnriched, 8, wait)
	// Reports are paced: the last change is reported within a second.
	awaitUsage(t, srv, "enrich.clearbit.credits", 8)
	usage, err := service.ListUsage(context.Background(), srv.JS)
	if err != nil {
		t.Fatal(err)
	}
	if len(usage) != 1 || usage[0].Resource != "enrich.clearbit.credits" || usage[0].Used != 8 || usage[0].Limit != 10 ||
		usage[0].Level() != service.LevelWarning {
		t.Errorf("usage %+v", usage)
	}
}

// requestCount is the count of provider's requests answered code in the
// gathered gtmhub_enrich_provider_request_seconds.
func requestCount(families []*dto.MetricFamily, provider, code string) int {
	for _, f := range families {
		if f.GetName() != "gtmhub_enrich_provider_request_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["provider"] == provider && labels["code"] == code {
				return int(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}
