package enrich

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sony/gobreaker/v2"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/services/enrich/internal/fakeprovider"
)

const testKey = "sk_test_secret"

// guardedFor builds the guarded providers of cfgs against a fresh embedded
// JetStream and returns them in order.
func guardedFor(t *testing.T, cfgs ...ProviderConfig) []*guarded {
	t.Helper()
	return guardedOn(t, eventstest.RunServer(t), cfgs...)
}

// guardedOn builds the guarded providers of cfgs on srv, as one process
// would: several calls share the KV buckets like several processes.
func guardedOn(t *testing.T, srv *eventstest.Server, cfgs ...ProviderConfig) []*guarded {
	t.Helper()
	ctx := t.Context()
	r, closeFn, err := service.Deps{Conn: srv.Conn}.Resolve(ctx, "", Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeFn)
	gs, err := openProviders(ctx, cfgs, r)
	if err != nil {
		t.Fatal(err)
	}
	return gs
}

func newFake(t *testing.T) *fakeprovider.Server {
	t.Helper()
	f := fakeprovider.New(testKey)
	t.Cleanup(f.Close)
	f.AddCompany(fakeprovider.Company{Domain: "acme.io", Name: "Acme", Industry: "Software",
		Employees: 250, CountryCode: "GB", Country: "United Kingdom"})
	f.AddEmail("ada@acme.io", fakeprovider.Verification{Status: "valid", Score: 97})
	return f
}

func clearbitConfig(f *fakeprovider.Server) ProviderConfig {
	return ProviderConfig{Name: "clearbit", BaseURL: f.URL, Key: testKey, RateLimit: 1000, Burst: 100,
		BreakerTimeout: time.Second, Timeout: 2 * time.Second}
}

func query(email string) Query {
	domain := email[strings.LastIndexByte(email, '@')+1:]
	return Query{Email: email, Domain: domain, Lead: contracts.Lead{Email: email, Domain: domain}}
}

func TestGuardedAnswers(t *testing.T) {
	f := newFake(t)
	hunter := clearbitConfig(f)
	hunter.Name, hunter.Kind = "hunter", KindHunter
	gs := guardedFor(t, clearbitConfig(f), hunter)
	clearbit, verifier := gs[0], gs[1]
	ctx := t.Context()

	tests := []struct {
		name      string
		g         *guarded
		inject    *fakeprovider.Reply
		q         Query
		wantState contracts.ProviderState
		wantRetry bool
		wantDelay time.Duration
		wantCalls int // requests this lookup adds
		wantUsed  int // credits used after it
	}{
		{name: "known company", g: clearbit, q: query("ada@acme.io"), wantState: contracts.ProviderDone, wantCalls: 1, wantUsed: 1},
		{name: "known company again is cached", g: clearbit, q: query("bob@acme.io"), wantState: contracts.ProviderCached, wantUsed: 1},
		{name: "unknown company costs a credit", g: clearbit, q: query("x@unknown.dev"), wantState: contracts.ProviderDone, wantCalls: 1, wantUsed: 2},
		{name: "unknown company is cached too", g: clearbit, q: query("y@unknown.dev"), wantState: contracts.ProviderCached, wantUsed: 2},
		{name: "422 is skipped and free", g: clearbit, inject: &fakeprovider.Reply{Status: 422}, q: query("x@refused.dev"),
			wantState: contracts.ProviderSkipped, wantCalls: 1, wantUsed: 2},
		{name: "429 is retried after Retry-After and free", g: clearbit, inject: &fakeprovider.Reply{Status: 429, RetryAfter: "2"},
			q: query("x@later.dev"), wantRetry: true, wantDelay: 2 * time.Second, wantCalls: 1, wantUsed: 2},
		{name: "while rate limited, no request", g: clearbit, q: query("x@later2.dev"), wantRetry: true, wantUsed: 2},
		{name: "no domain is skipped", g: clearbit, q: Query{Email: "bob@gmail.com"}, wantState: contracts.ProviderSkipped, wantUsed: 2},
		{name: "a disposable address's domain is skipped", g: clearbit,
			q:         Query{Email: "x@mail.yopmail.com", Domain: "yopmail.com", Notes: Notes{Disposable: true}},
			wantState: contracts.ProviderSkipped, wantUsed: 2},
		{name: "a company domain given with a disposable address is looked up", g: clearbit,
			q:         Query{Email: "x@yopmail.com", Domain: "acme.io", Notes: Notes{Disposable: true}},
			wantState: contracts.ProviderCached, wantUsed: 2},
		{name: "email verified", g: verifier, q: query("ada@acme.io"), wantState: contracts.ProviderDone, wantCalls: 1, wantUsed: 1},
		{name: "refused key is skipped, not cached", g: verifier, inject: &fakeprovider.Reply{Status: 401}, q: query("x@acme2.io"),
			wantState: contracts.ProviderSkipped, wantCalls: 1, wantUsed: 1},
		{name: "so the next lookup asks again", g: verifier, q: query("x@acme2.io"),
			wantState: contracts.ProviderDone, wantCalls: 1, wantUsed: 1}, // unknown: free
		{name: "202 while verifying", g: verifier, inject: &fakeprovider.Reply{Status: 202, RetryAfter: "1"}, q: query("eve@acme.io"),
			wantRetry: true, wantDelay: time.Second, wantCalls: 1, wantUsed: 1},
		{name: "500 is a failure to retry", g: verifier, inject: &fakeprovider.Reply{Status: 500}, q: query("eve@acme.io"),
			wantRetry: true, wantCalls: 1, wantUsed: 1},
		{name: "disposable is not verified", g: verifier, q: Query{Email: "x@yopmail.com", Notes: Notes{Disposable: true}},
			wantState: contracts.ProviderSkipped, wantUsed: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind := fakeprovider.Kind(tt.g.cfg.Kind)
			if tt.inject != nil {
				f.Inject(kind, *tt.inject)
			}
			before := f.Requests(kind)
			o := tt.g.lookup(ctx, tt.q)
			if got := f.Requests(kind) - before; got != tt.wantCalls {
				t.Errorf("%d requests, want %d", got, tt.wantCalls)
			}
			if (o.retry != nil) != tt.wantRetry {
				t.Fatalf("outcome %+v, want retry %v", o, tt.wantRetry)
			}
			if tt.wantRetry {
				d, ok := events.RetryDelay(o.retry)
				if tt.wantDelay > 0 && (!ok || d != tt.wantDelay) {
					t.Errorf("retry %v: delay %v, want %v", o.retry, d, tt.wantDelay)
				}
				if strings.Contains(o.retry.Error(), testKey) {
					t.Errorf("error %q contains the key", o.retry)
				}
			} else if o.status.State != tt.wantState || (o.status.State == contracts.ProviderSkipped) != (o.status.Reason != "") {
				t.Errorf("status %+v, want %s", o.status, tt.wantState)
			}
			if used, err := tt.g.credits.used(ctx); err != nil || used != tt.wantUsed {
				t.Errorf("credits used %d (%v), want %d", used, err, tt.wantUsed)
			}
		})
	}

	c := clearbit.lookup(ctx, query("ada@acme.io")).result.Company
	if c == nil || c.Name != "Acme" || c.Industry != "Software" || c.Employees == nil || *c.Employees != 250 || c.Country != "GB" {
		t.Errorf("company %+v", c)
	}
}

// TestGuardedQueuedLookupIsChargedOnce checks that Clearbit's 202 is
// charged once: asking again about a queued lookup is free.
func TestGuardedQueuedLookupIsChargedOnce(t *testing.T) {
	f := newFake(t)
	g := guardedFor(t, clearbitConfig(f))[0]
	ctx := t.Context()
	f.Queue("acme.io", 1)
	if o := g.lookup(ctx, query("ada@acme.io")); o.retry == nil {
		t.Fatalf("queued lookup: %+v, want a retry", o)
	}
	if o := g.lookup(ctx, query("ada@acme.io")); o.status.State != contracts.ProviderDone || o.result.Company == nil {
		t.Fatalf("second lookup: %+v", o)
	}
	if used, _ := g.credits.used(ctx); used != 1 || f.Requests(fakeprovider.Clearbit) != 2 {
		t.Errorf("credits used %d after %d requests, want 1 after 2", used, f.Requests(fakeprovider.Clearbit))
	}
}

// TestGuardedBreaker checks that five consecutive 500s open the breaker and
// that no request reaches the provider until it half-opens.
func TestGuardedBreaker(t *testing.T) {
	f := newFake(t)
	pc := clearbitConfig(f)
	pc.RateLimit, pc.Burst = 2, 5 // the failures take the burst; a call after them waits half a second
	g := guardedFor(t, pc)[0]
	ctx := t.Context()
	f.Fail(fakeprovider.Clearbit, http.StatusInternalServerError, 5)
	for i := range 5 {
		o := g.lookup(ctx, query(fmt.Sprintf("x@down%d.dev", i)))
		if _, ok := events.RetryDelay(o.retry); o.retry == nil || ok {
			t.Fatalf("failure %d: %+v, want a plain error", i, o)
		}
	}
	openedAt := time.Now()
	if st := g.breakers.State("clearbit"); st != gobreaker.StateOpen {
		t.Fatalf("breaker %s after five 500s, want open", st)
	}
	deadline := openedAt.Add(5 * time.Second)
	for i := 0; g.breakers.State("clearbit") == gobreaker.StateOpen; i++ {
		if time.Now().After(deadline) {
			t.Fatal("breaker still open after 5s, want half-open after 1s")
		}
		start := time.Now()
		o := g.lookup(ctx, query(fmt.Sprintf("x@open%d.dev", i)))
		if d, ok := events.RetryDelay(o.retry); !ok || d > time.Second {
			t.Fatalf("open breaker: %+v, want a retry within the breaker timeout", o)
		}
		if took := time.Since(start); took > 250*time.Millisecond {
			t.Fatalf("a call the open breaker refused took %s, want no wait for the rate limit", took)
		}
		if n := f.Requests(fakeprovider.Clearbit); n != 5 {
			t.Fatalf("%d requests while the breaker is open, want 5", n)
		}
		time.Sleep(50 * time.Millisecond) // polling the breaker's state
	}
	if waited := time.Since(openedAt); waited < 900*time.Millisecond {
		t.Errorf("breaker half-opened after %v, want about 1s", waited)
	}
	if o := g.lookup(ctx, query("ada@acme.io")); o.status.State != contracts.ProviderDone {
		t.Fatalf("trial request: %+v", o)
	}
	if n := f.Requests(fakeprovider.Clearbit); n != 6 {
		t.Errorf("%d requests, want 6", n)
	}
	if used, _ := g.credits.used(ctx); used != 1 {
		t.Errorf("credits used %d, want 1: failures are free", used)
	}
}

// TestGuardedBudget checks that concurrent workers in two processes never
// spend more than the monthly credits between them, and that the rest is
// skipped with the reason.
func TestGuardedBudget(t *testing.T) {
	f := newFake(t)
	pc := clearbitConfig(f)
	pc.MonthlyCredits = 10
	srv := eventstest.RunServer(t)
	procs := []*guarded{guardedOn(t, srv, pc)[0], guardedOn(t, srv, pc)[0]}
	g := procs[0]
	ctx := t.Context()

	var (
		mu     sync.Mutex
		states = map[contracts.ProviderState]int{}
		wg     sync.WaitGroup
	)
	for w := range 8 {
		wg.Go(func() {
			for i := range 5 {
				o := settled(t, procs[w%2], query(fmt.Sprintf("x@d%d-%d.dev", w, i)))
				mu.Lock()
				states[o.status.State]++
				mu.Unlock()
				if o.status.State == contracts.ProviderSkipped && !strings.Contains(o.status.Reason, ErrBudgetSpent.Error()) {
					t.Errorf("skipped for %q", o.status.Reason)
				}
			}
		})
	}
	wg.Wait()
	if states[contracts.ProviderDone] != 10 || states[contracts.ProviderSkipped] != 30 {
		t.Errorf("states %v, want 10 done and 30 skipped", states)
	}
	if used, _ := g.credits.used(ctx); used != 10 || f.Requests(fakeprovider.Clearbit) != 10 {
		t.Errorf("credits used %d, requests %d; want 10 and 10", used, f.Requests(fakeprovider.Clearbit))
	}
}

// settled looks q up until the answer is final, as the redeliveries of a
// lead would: asking again is what a provider with credits held by calls in
// flight says to do.
func settled(t *testing.T, g *guarded, q Query) outcome {
	t.Helper()
	for range 500 {
		o := g.lookup(t.Context(), q)
		if o.retry == nil {
			return o
		}
		if !errors.Is(o.retry, ErrBudgetSpent) {
			t.Fatalf("lookup %s: retry %v, want only waits for credits in flight", q.Email, o.retry)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("lookup %s never settled", q.Email)
	return outcome{}
}

// TestGuardedUnchargedCallsGiveCreditsBack: with every credit held by calls
// in flight, a lookup waits for them instead of being skipped as if the
// month's credits were spent; calls the provider does not charge (an
// unknown address) give their credit back, to the lease and to the usage
// report.
func TestGuardedUnchargedCallsGiveCreditsBack(t *testing.T) {
	f := newFake(t)
	hc := clearbitConfig(f)
	hc.Name, hc.Kind, hc.MonthlyCredits, hc.RateLimit, hc.Burst = "hunter", KindHunter, 2, 50, 1
	g := guardedFor(t, hc)[0]
	var (
		mu       sync.Mutex
		reported []int
	)
	g.credits.report = func(_ context.Context, used int) {
		mu.Lock()
		defer mu.Unlock()
		reported = append(reported, used)
	}

	var wg sync.WaitGroup
	outs := make([]outcome, 10)
	for i := range outs {
		wg.Go(func() { outs[i] = settled(t, g, query(fmt.Sprintf("nobody%d@nowhere.dev", i))) })
	}
	wg.Wait()
	for i, o := range outs {
		if o.status.State != contracts.ProviderDone || o.result.EmailVerification == nil ||
			o.result.EmailVerification.Status != "unknown" {
			t.Errorf("lookup %d: %+v %+v, want done: unknown", i, o.status, o.result.EmailVerification)
		}
	}
	if used, _ := g.credits.used(t.Context()); used != 0 || f.Requests(fakeprovider.Hunter) != 10 {
		t.Errorf("credits used %d, requests %d; want 0 and 10", used, f.Requests(fakeprovider.Hunter))
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		last := -1
		if len(reported) > 0 {
			last = reported[len(reported)-1]
		}
		mu.Unlock()
		if last == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("last usage reported %d, want 0 once the credits came back", last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestGuardedRetryAfterHoldsQueuedCalls: a 429's Retry-After also holds the
// calls that were waiting for their turn at the rate limit when it came.
func TestGuardedRetryAfterHoldsQueuedCalls(t *testing.T) {
	f := newFake(t)
	f.Inject(fakeprovider.Clearbit, fakeprovider.Reply{Status: http.StatusTooManyRequests, RetryAfter: "30"})
	pc := clearbitConfig(f)
	pc.RateLimit, pc.Burst = 10, 1 // the calls after the first wait 100 ms each
	g := guardedFor(t, pc)[0]

	var wg sync.WaitGroup
	outs := make([]outcome, 5)
	for i := range outs {
		wg.Go(func() { outs[i] = g.lookup(t.Context(), query(fmt.Sprintf("x@d%d.dev", i))) })
	}
	wg.Wait()
	for i, o := range outs {
		if d, ok := events.RetryDelay(o.retry); !ok || !errors.Is(o.retry, ErrRateLimited) || d < 25*time.Second {
			t.Errorf("lookup %d: %+v, want to wait out the 30 s Retry-After", i, o)
		}
	}
	if n := f.Requests(fakeprovider.Clearbit); n != 1 {
		t.Errorf("%d requests, want only the one answered 429", n)
	}
}

func TestEnricherGivesUp(t *testing.T) {
	f := newFake(t)
	pc := clearbitConfig(f)
	pc.MaxWait = time.Minute
	e := &enricher{providers: guardedFor(t, pc)}

	tests := []struct {
		name      string
		published time.Duration // ago
		first     time.Duration // first delivered, ago
		attempt   int
		wantSkip  bool
		maxDelay  time.Duration // what is left of max_wait
	}{
		{name: "within max_wait", published: 10 * time.Second, first: 10 * time.Second, attempt: 2, maxDelay: 50 * time.Second},
		{name: "past max_wait", published: 2 * time.Minute, first: 2 * time.Minute, attempt: 2, wantSkip: true},
		{name: "stored long ago, first delivered now", published: 2 * time.Hour, attempt: 1, maxDelay: time.Minute},
		{name: "before the last delivery", published: time.Second, first: time.Second, attempt: 7, maxDelay: time.Minute},
		{name: "last delivery", published: time.Second, first: time.Second, attempt: 8, wantSkip: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.Inject(fakeprovider.Clearbit, fakeprovider.Reply{Status: 429, RetryAfter: "3600"})
			now := time.Now()
			ctx := events.WithDelivery(t.Context(), events.Delivery{Sequence: uint64(i + 1), Attempt: tt.attempt,
				MaxDeliver: 8, Published: now.Add(-tt.published), FirstDelivered: now.Add(-tt.first)})
			enr, err := e.enrich(ctx, query("x@slow.dev"))
			if tt.wantSkip {
				st := enr.Status["clearbit"]
				if err != nil || st.State != contracts.ProviderSkipped || !strings.Contains(st.Reason, "gave up") {
					t.Fatalf("enrich = %+v, %v; want clearbit skipped", enr, err)
				}
				return
			}
			d, ok := events.RetryDelay(err)
			if !ok || d > tt.maxDelay {
				t.Fatalf("enrich error %v (delay %v), want a retry within what is left of max_wait", err, d)
			}
			if errors.Is(err, ErrBudgetSpent) {
				t.Fatal(err)
			}
		})
		// Forget the 429 pause so the next case asks the provider.
		e.providers[0].mu.Lock()
		e.providers[0].notBefore = time.Time{}
		e.providers[0].mu.Unlock()
	}
}

// TestGuardedErrorsKeepSecrets checks that a failed request's error names
// neither the API key nor the email looked up.
func TestGuardedErrorsKeepSecrets(t *testing.T) {
	f := newFake(t)
	hunter := clearbitConfig(f)
	hunter.Name, hunter.Kind = "hunter", KindHunter
	g := guardedFor(t, hunter)[0]
	f.Close() // every request now fails to connect
	o := g.lookup(t.Context(), query("ada@acme.io"))
	if o.retry == nil {
		t.Fatalf("outcome %+v, want a failure", o)
	}
	for _, secret := range []string{testKey, "ada@acme.io", "ada%40acme.io", "api_key"} {
		if strings.Contains(o.retry.Error(), secret) {
			t.Errorf("error %q contains %q", o.retry, secret)
		}
	}
}

// TestProvidersRegisterBreakers: each provider's breaker is registered for
// the service's announced states, listed before its first request and
// open once it trips.
func TestProvidersRegisterBreakers(t *testing.T) {
	f := newFake(t)
	srv := eventstest.RunServer(t)
	reg := service.NewBreakerRegistry()
	r, closeFn, err := service.Deps{Conn: srv.Conn, Breakers: reg}.Resolve(t.Context(), "", Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeFn)
	hunter := clearbitConfig(f)
	hunter.Name = "hunter"
	gs, err := openProviders(t.Context(), []ProviderConfig{clearbitConfig(f), hunter}, r)
	if err != nil {
		t.Fatal(err)
	}
	states := func() string {
		var out []string
		for _, s := range reg.States() {
			out = append(out, s.Destination+" "+s.State)
		}
		return strings.Join(out, ", ")
	}
	if got := states(); got != "clearbit closed, hunter closed" {
		t.Errorf("before any request: %s", got)
	}
	f.Fail(fakeprovider.Clearbit, http.StatusInternalServerError, 5)
	for i := range 5 {
		gs[0].lookup(t.Context(), query(fmt.Sprintf("x@down%d.dev", i)))
	}
	if got := states(); got != "clearbit open, hunter closed" {
		t.Errorf("after five 500s from clearbit: %s", got)
	}
}

// TestRefreshUsage: at start, each provider's credits are reported against
// its budget as configured now, the usage of a provider taken out of the
// configuration is forgotten, and other services' usage is left alone.
func TestRefreshUsage(t *testing.T) {
	srv := eventstest.RunServer(t)
	ctx := t.Context()
	for _, u := range []service.Usage{
		{Resource: "enrich.gone.credits", Used: 10, Limit: 10},
		{Resource: "enrich.clearbit.credits", Used: 0, Limit: 10},
		{Resource: "notify.email.daily", Used: 1, Limit: 500},
	} {
		if err := service.PutUsage(ctx, srv.JS, u); err != nil {
			t.Fatal(err)
		}
	}
	r, closeFn, err := service.Deps{Conn: srv.Conn}.Resolve(ctx, "", Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeFn)
	pc := clearbitConfig(newFake(t))
	pc.MonthlyCredits = 20
	gs, err := openProviders(ctx, []ProviderConfig{pc}, r)
	if err != nil {
		t.Fatal(err)
	}
	refreshUsage(ctx, r, gs)

	deadline := time.Now().Add(5 * time.Second)
	for {
		usage, err := service.ListUsage(ctx, srv.JS)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, u := range usage {
			got[u.Resource] = u.Limit
		}
		want := map[string]float64{"enrich.clearbit.credits": 20, "notify.email.daily": 500}
		if maps.Equal(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("usage limits %v, want %v", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	gauges, err := newCreditGauges(r.Registry) // the ones openProviders registered
	if err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(gauges.limit.WithLabelValues("clearbit")); got != 20 {
		t.Errorf("credits limit gauge %v, want 20", got)
	}
}

// meeting is a Provider that answers only once every provider of a lead is
// asking at the same time, and counts the lookups it answered.
type meeting struct {
	Provider
	arrived *sync.WaitGroup
	asked   *atomic.Int32
}

func (m meeting) Lookup(ctx context.Context, q Query) (Answer, error) {
	m.asked.Add(1)
	m.arrived.Done()
	met := make(chan struct{})
	go func() { m.arrived.Wait(); close(met) }()
	select {
	case <-met:
		return m.Provider.Lookup(ctx, q)
	case <-time.After(10 * time.Second):
		return Answer{}, errors.New("the other provider was not asked meanwhile")
	}
}

// TestEnricherAsksProvidersAtOnce: a lead's providers are asked at the same
// time, so a slow one does not add its wait to the other's; answers the
// process holds are given without asking again.
func TestEnricherAsksProvidersAtOnce(t *testing.T) {
	f := newFake(t)
	hunter := clearbitConfig(f)
	hunter.Name, hunter.Kind = "hunter", KindHunter
	gs := guardedFor(t, clearbitConfig(f), hunter)
	var (
		arrived sync.WaitGroup
		asked   atomic.Int32
	)
	arrived.Add(len(gs))
	for _, g := range gs {
		g.p = meeting{Provider: g.p, arrived: &arrived, asked: &asked}
	}
	e := &enricher{providers: gs}
	for _, want := range []contracts.ProviderState{contracts.ProviderDone, contracts.ProviderCached} {
		enr, err := e.enrich(t.Context(), query("ada@acme.io"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"clearbit", "hunter"} {
			if st := enr.Status[name]; st.State != want {
				t.Errorf("%s: %+v, want %s", name, st, want)
			}
		}
		if enr.Company == nil || enr.Company.Name != "Acme" || enr.EmailVerification == nil {
			t.Errorf("enrichment %+v", enr)
		}
	}
	if n := asked.Load(); n != 2 {
		t.Errorf("providers asked %d times, want once each", n)
	}
}

// lookup answers q for one provider: skipped when the provider cannot take
// it, else through lookupAt with its key.
func (g *guarded) lookup(ctx context.Context, q Query) outcome {
	key, err := g.p.Key(q)
	if err != nil {
		return skipped(err.Error())
	}
	return g.lookupAt(ctx, key, q)
}
