// Package enrich turns captured leads into enriched ones.
//
// It consumes com.gtmhub.lead.captured events from gtm.leads.captured.>,
// normalizes each lead (see [Normalize] and [Classifier]), asks the
// configured enrichment providers about it, scores it, and publishes a
// com.gtmhub.lead.enriched event on gtm.leads.enriched. A lead that cannot be normalized, such as one with a
// malformed email, is not an error: it is published as
// com.gtmhub.lead.rejected on gtm.leads.rejected with every reason, and the
// captured event is acknowledged. Data that is not a lead at all is
// dead-lettered.
//
// Both outcomes carry a CloudEvent id derived from the captured event's id,
// so a redelivered or replayed capture is stored once, and the time of the
// capture. Their CloudEvent subject is [EmailSubject] of the normalized email,
// never the email itself, since CloudEvent attributes travel in headers and
// end up in logs.
//
// # Configuration
//
// Everything lives under enrich: in gtmhub.yaml; providers are a list under
// enrich.providers, asked in order (the first company and the first email
// verification found win):
//
//	enrich:
//	  providers:
//	    - name: clearbit            # key in enrichment.status; kind defaults to it
//	      kind: clearbit            # clearbit (company by domain) or hunter (email verification)
//	      base_url: https://company.clearbit.com
//	      key_env: CLEARBIT_API_KEY
//	      rate_limit: 10            # requests per second, shared by every worker
//	      burst: 5
//	      monthly_credits: 2500     # 0: no cap
//	      cache_ttl: 720h           # answers reused for the same domain or email
//	      max_wait: 10m             # then the lead goes on without this provider
//	      timeout: 10s              # one HTTP request
//	      trip_after: 5             # consecutive failures that open the breaker
//	      breaker_timeout: 30s      # open breaker: no request until it half-opens
//	    - name: hunter
//	      key_env: HUNTER_API_KEY
//	      monthly_credits: 1000
//	  scoring:                      # see ScoringConfig; defaults in DefaultScoring
//	    weights: {intent: 0.4, fit: 0.6}
//	    trust_scores_from: [clay]   # these sources' own scores are kept
//	    fit:
//	      - {name: employees, when: "company.employees >= 50 && company.employees <= 5000", points: 40}
//	    intent:
//	      - {name: demo, when: 'signals.form_type == "demo"', points: 60}
//
// # Providers
//
// Every provider gets a token bucket shared by all workers, a circuit
// breaker (events.Breakers: trip_after consecutive failures open it, and no
// request reaches the provider until it half-opens), a monthly credit count
// in the JetStream KV bucket [CreditsBucket] (every change a compare-and-set
// on the entry's revision, so concurrent workers never overspend), and a
// cache of its answers by domain or email in the KV bucket [CacheBucket]
// (shared by the providers, each under its name) that holds for cache_ttl,
// so a duplicate or a replay costs no credit. A 429 or a queued lookup
// (202) redelivers the lead after Retry-After; a failing provider
// redelivers it with backoff. When the credits are spent,
// or a provider has kept a lead waiting max_wait since the capture was
// first delivered (or the lead is on its last delivery), the lead goes on
// with what it has and enrichment.status names the provider as skipped,
// with the reason. No lead is stuck, and none is silently half-done.
package enrich

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/service"
)

// Name is the service name: the consumer's durable name and the CloudEvent
// source's last element.
const Name = "enrich"

// workers is how many leads are enriched at once.
const workers = 64

// Config is the enrich service's configuration.
type Config struct {
	// Enrich holds what a user writes under enrich: in gtmhub.yaml.
	Enrich Settings `yaml:"enrich"`
	// NATSURL is where to connect when the host passes no connection.
	NATSURL string `yaml:"-"`
}

// Settings are the enrich: section of gtmhub.yaml.
type Settings struct {
	// FreeMailDomains are the free-mail providers whose addresses give no
	// company domain: domains, or "name.*" patterns. Setting the list
	// replaces the built-in one (see [DefaultFreeMailDomains]). Addresses at
	// the built-in disposable-mail domains give none either.
	FreeMailDomains []string `yaml:"free_mail_domains"`
	// Providers are the enrichment providers, asked in order. None by
	// default: leads are then normalized and scored only.
	Providers []ProviderConfig `yaml:"providers"`
	// Scoring configures fit_score, intent_score and signal_score.
	Scoring ScoringConfig `yaml:"scoring"`
}

// DefaultConfig returns the configuration used when gtmhub.yaml says
// nothing: the built-in free-mail list and scoring rules, and no providers.
func DefaultConfig() Config {
	return Config{Enrich: Settings{FreeMailDomains: DefaultFreeMailDomains(), Scoring: DefaultScoring()}}
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var p service.Problems
	if _, err := NewFreeMail(c.Enrich.FreeMailDomains); err != nil {
		p.Addf("enrich.free_mail_domains: %w", err)
	}
	seen := make(map[string]bool, len(c.Enrich.Providers))
	for i, pc := range c.Enrich.Providers {
		where := fmt.Sprintf("enrich.providers[%d] (%s)", i, pc.Name)
		pc.validate(&p, where)
		if seen[pc.Name] {
			p.Addf("%s: provider %q is listed twice", where, pc.Name)
		}
		seen[pc.Name] = true
	}
	newScorer(c.Enrich.Scoring, &p)
	return p.Err()
}

// credentials are the secrets enrich holds: each provider's API key.
func (c Config) credentials() []service.Secret {
	out := make([]service.Secret, 0, len(c.Enrich.Providers))
	for _, pc := range c.Enrich.Providers {
		out = append(out, service.SecretFrom("provider."+pc.Name, pc.KeyEnv, pc.apiKey()))
	}
	return out
}

// Run consumes captured leads until ctx is cancelled, then drains in-flight
// leads and returns nil. It returns an error if the configuration is invalid
// or the consumer cannot be bound (the LEADS stream must exist).
func Run(ctx context.Context, cfg Config, deps service.Deps) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	free, err := NewFreeMail(cfg.Enrich.FreeMailDomains)
	if err != nil {
		return err // Validate has already checked the list.
	}
	var ignored service.Problems // Validate has already reported them.
	scorer := newScorer(cfg.Enrich.Scoring, &ignored)
	spec, ok := events.DefaultTopology().Consumer(Name)
	if !ok {
		return errors.New("enrich: the topology declares no enrich consumer")
	}

	r, closeConn, err := deps.Resolve(ctx, cfg.NATSURL, Name)
	if err != nil {
		return fmt.Errorf("enrich: %w", err)
	}
	defer closeConn()
	r.Health.Add("stream:"+events.StreamLeads, service.StreamsCheck(r.JS, events.StreamLeads))
	defer r.KeepCredentialsSeen(ctx, Name, cfg.credentials(), 0)()

	providers, err := openProviders(ctx, cfg.Enrich.Providers, r)
	if err != nil {
		return fmt.Errorf("enrich: %w", err)
	}
	refreshUsage(ctx, r, providers)
	pub, err := r.Publisher()
	if err != nil {
		return fmt.Errorf("enrich: %w", err)
	}
	m, err := newMetrics(r.Registry)
	if err != nil {
		return fmt.Errorf("enrich: metrics: %w", err)
	}
	h := &handler{pub: pub, classify: NewClassifier(free), scorer: scorer,
		enricher: &enricher{providers: providers}, log: r.Logger, metrics: m}
	// Most of a lead's time here is spent waiting for providers, whose rate
	// limiters, not the worker count, bound the calls made.
	consumer, err := events.NewConsumer(r.JS, spec, h.handle, r.ConsumerOptions(events.WithConcurrency(workers))...)
	if err != nil {
		return fmt.Errorf("enrich: %w", err)
	}

	r.Logger.InfoContext(ctx, "enrich started", "consumer", spec.Durable, "providers", len(providers))
	if len(providers) == 0 {
		r.Logger.InfoContext(ctx, "no enrichment providers configured: leads are normalized and scored only")
	}
	err = consumer.Run(ctx)
	releaseCredits(context.WithoutCancel(ctx), providers, r.Logger)
	if err != nil {
		return fmt.Errorf("enrich: %w", err)
	}
	r.Logger.Info("enrich stopped")
	return nil
}

// releaseCredits returns each provider's unspent credit lease to its bucket.
func releaseCredits(ctx context.Context, providers []*guarded, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for _, g := range providers {
		if err := g.credits.release(ctx); err != nil {
			log.WarnContext(ctx, "return unspent provider credits", "provider", g.p.Name(), "err", err)
		}
	}
}

// openProviders builds each configured provider with its guards and opens
// its KV buckets.
func openProviders(ctx context.Context, cfgs []ProviderConfig, r service.Resolved) ([]*guarded, error) {
	gauges, err := newCreditGauges(r.Registry)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	requests, err := newRequestHistogram(r.Registry)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	out := make([]*guarded, 0, len(cfgs))
	if len(cfgs) == 0 {
		return out, nil
	}
	cfgs = slices.Clone(cfgs)
	for i := range cfgs {
		cfgs[i] = cfgs[i].withDefaults()
	}
	creditsKV, cacheKV, err := openBuckets(ctx, r, cfgs)
	if err != nil {
		return nil, fmt.Errorf("providers: %w", err)
	}
	for _, pc := range cfgs {
		p, err := newProvider(pc, r.TracerProvider, r.Propagator, requests)
		if err != nil {
			return nil, err
		}
		out = append(out, &guarded{
			p:       p,
			cfg:     pc,
			limiter: rate.NewLimiter(rate.Limit(pc.RateLimit), pc.Burst),
			breakers: r.Breakers.Register(events.NewBreakers(events.WithDestinations(p.Name()),
				events.WithTripAfter(uint32(pc.TripAfter)), events.WithBreakerTimeout(pc.BreakerTimeout),
				events.WithBreakerMetrics(r.Metrics))),
			credits: &credits{kv: creditsKV, provider: pc.Name, limit: pc.MonthlyCredits, now: time.Now,
				report: usageReporter(r, pc, gauges)},
			cache: newCache(cacheKV, pc.Name, pc.CacheTTL),
			log:   r.Logger,
		})
	}
	if len(out) > 0 {
		r.Health.Add("kv:"+CreditsBucket, func(ctx context.Context) error {
			_, err := r.JS.KeyValue(ctx, CreditsBucket)
			return err
		})
	}
	return out, nil
}

// refreshUsage reports each provider's credits against its budget as
// configured now, and forgets the usage of providers taken out of the
// configuration, so that gtmhub status rates the quotas there are. A
// failure is logged: usage is for people, not for leads.
func refreshUsage(ctx context.Context, r service.Resolved, providers []*guarded) {
	names := make(map[string]bool, len(providers))
	for _, g := range providers {
		names[g.cfg.Name] = true
		g.credits.reportUsage(ctx)
	}
	usage, err := service.ListUsage(ctx, r.JS)
	if err != nil {
		r.Logger.WarnContext(ctx, "read credit usage", "err", err)
		return
	}
	for _, u := range usage {
		name, ok := creditsProvider(u.Resource)
		if !ok || names[name] {
			continue
		}
		if err := service.DeleteUsage(ctx, r.JS, u.Resource); err != nil {
			r.Logger.WarnContext(ctx, "forget credit usage", "provider", name, "err", err)
		}
	}
}

// creditsResource is the usage resource of a provider's credits.
func creditsResource(provider string) string { return "enrich." + provider + ".credits" }

// creditsProvider returns the provider whose credits resource names.
func creditsProvider(resource string) (string, bool) {
	rest, ok := strings.CutPrefix(resource, "enrich.")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, ".credits")
}

// creditGauges are gtmhub_enrich_provider_credits_used and _limit, by
// provider: this month's credits and the budget (0: none).
type creditGauges struct{ used, limit *prometheus.GaugeVec }

func newCreditGauges(reg prometheus.Registerer) (creditGauges, error) {
	gauge := func(name, help string) (*prometheus.GaugeVec, error) {
		return service.Registered(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "gtmhub", Subsystem: Name, Name: name, Help: help}, []string{"provider"}))
	}
	used, err := gauge("provider_credits_used", "Credits used this month, by provider.")
	if err != nil {
		return creditGauges{}, err
	}
	limit, err := gauge("provider_credits_limit", "Monthly credit budget, by provider (0: none).")
	if err != nil {
		return creditGauges{}, err
	}
	return creditGauges{used: used, limit: limit}, nil
}

// usageReporter records a provider's monthly credits in the usage bucket,
// where gtmhub status rates them against the budget, and in the credit
// gauges. A failure to record is logged: it must not fail the lead.
func usageReporter(r service.Resolved, pc ProviderConfig, gauges creditGauges) func(context.Context, int) {
	gauges.limit.WithLabelValues(pc.Name).Set(float64(pc.MonthlyCredits))
	return func(ctx context.Context, used int) {
		gauges.used.WithLabelValues(pc.Name).Set(float64(used))
		u := service.Usage{Resource: creditsResource(pc.Name), Used: float64(used),
			Limit: float64(pc.MonthlyCredits), Unit: "credits", Period: time.Now().UTC().Format("2006-01")}
		if err := service.PutUsage(ctx, r.JS, u); err != nil {
			r.Logger.WarnContext(ctx, "record credit usage", "provider", pc.Name, "err", err)
		}
	}
}
