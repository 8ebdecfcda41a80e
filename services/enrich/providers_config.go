package enrich

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/service"
)

// ProviderConfig is one entry of enrich.providers in gtmhub.yaml. Zero
// values take the defaults listed on each field.
type ProviderConfig struct {
	// Name is the provider's key in enrichment.status and in its KV
	// buckets: lowercase letters, digits, '_' and '-'. Required.
	Name string `yaml:"name"`
	// Kind is the protocol: clearbit or hunter. Default: Name.
	Kind string `yaml:"kind"`
	// BaseURL is where the API lives. Default https://company.clearbit.com
	// for clearbit, https://api.hunter.io for hunter.
	BaseURL string `yaml:"base_url"`
	// KeyEnv names the environment variable holding the API key.
	KeyEnv string `yaml:"key_env"`
	// Key is the API key itself, for local use only; KeyEnv wins when set.
	Key string `yaml:"key"`
	// RateLimit is the request rate allowed, per second, shared by every
	// worker. Default 5.
	RateLimit float64 `yaml:"rate_limit"`
	// Burst is how many requests may go at once above the rate. Default 1.
	Burst int `yaml:"burst"`
	// MonthlyCredits caps the calls the provider charges for per calendar
	// month (UTC). Zero means no cap; the calls are still counted.
	MonthlyCredits int `yaml:"monthly_credits"`
	// CacheTTL is how long an answer is reused for the same domain or
	// email. Default 720h (30 days).
	CacheTTL time.Duration `yaml:"cache_ttl"`
	// MaxWait is how long a lead waits for a failing or rate-limiting
	// provider, counted from the capture's first delivery, before it goes
	// on without it. Default 10m.
	MaxWait time.Duration `yaml:"max_wait"`
	// Timeout bounds one HTTP request. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// TripAfter is how many consecutive failures (5xx, timeouts) open the
	// provider's breaker. Default 5.
	TripAfter int `yaml:"trip_after"`
	// BreakerTimeout is how long the breaker stays open before one trial
	// request. Default 30s.
	BreakerTimeout time.Duration `yaml:"breaker_timeout"`
}

// withDefaults returns c with zero fields set to their defaults.
func (c ProviderConfig) withDefaults() ProviderConfig {
	if c.Kind == "" {
		c.Kind = c.Name
	}
	if c.BaseURL == "" {
		switch c.Kind {
		case KindClearbit:
			c.BaseURL = "https://company.clearbit.com"
		case KindHunter:
			c.BaseURL = "https://api.hunter.io"
		}
	}
	if c.RateLimit == 0 {
		c.RateLimit = 5
	}
	if c.Burst == 0 {
		c.Burst = 1
	}
	if c.CacheTTL == 0 {
		c.CacheTTL = 30 * 24 * time.Hour
	}
	if c.MaxWait == 0 {
		c.MaxWait = 10 * time.Minute
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.TripAfter == 0 {
		c.TripAfter = 5
	}
	if c.BreakerTimeout == 0 {
		c.BreakerTimeout = 30 * time.Second
	}
	return c
}

// apiKey returns the configured key: the environment variable's value
// when KeyEnv is set, else Key.
func (c ProviderConfig) apiKey() string {
	if c.KeyEnv != "" {
		return os.Getenv(c.KeyEnv)
	}
	return c.Key
}

// validate adds c's problems to p; where names the entry.
func (c ProviderConfig) validate(p interface{ Addf(string, ...any) }, where string) {
	c = c.withDefaults()
	// The name is a key of enrichment.status, which the lead.enriched
	// contract bounds as a token.
	if !events.ValidToken(c.Name) {
		p.Addf("%s: name %q must be 1 to %d lowercase letters, digits, '_' or '-'", where, c.Name, events.MaxTokenLen)
	}
	if c.Kind != KindClearbit && c.Kind != KindHunter {
		p.Addf("%s: kind %q: want %s or %s", where, c.Kind, KindClearbit, KindHunter)
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.Addf("%s: base_url %q: want an http(s) URL", where, c.BaseURL)
	}
	switch {
	case c.KeyEnv != "" && os.Getenv(c.KeyEnv) == "":
		p.Addf("%s: key_env: $%s is not set", where, c.KeyEnv)
	case c.KeyEnv == "" && c.Key == "":
		p.Addf("%s: no API key: set key_env", where)
	}
	for _, f := range []struct {
		name string
		bad  bool
	}{
		{"rate_limit", c.RateLimit < 0},
		{"burst", c.Burst < 0},
		{"monthly_credits", c.MonthlyCredits < 0},
		{"cache_ttl", c.CacheTTL < time.Second},
		{"max_wait", c.MaxWait < 0},
		{"timeout", c.Timeout < 0},
		{"trip_after", c.TripAfter < 0},
		{"breaker_timeout", c.BreakerTimeout < 0},
	} {
		if f.bad {
			p.Addf("%s: %s must not be negative (cache_ttl at least 1s)", where, f.name)
		}
	}
}

// newRequestHistogram registers gtmhub_enrich_provider_request_seconds: the
// time of each provider request, by provider and HTTP status code, or
// "error" for one that got no answer (a timeout, a refused connection);
// its count by code 429 is the rate-limit hits.
func newRequestHistogram(reg prometheus.Registerer) (*prometheus.HistogramVec, error) {
	return service.Registered(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "gtmhub", Subsystem: Name, Name: "provider_request_seconds",
		Help:    "Provider requests by provider and HTTP status code (error: no answer), and how long each took.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
	}, []string{"provider", "code"}))
}

// timed times each request that passes, answered or not: the
// instrumentation of promhttp leaves out requests that fail, and with them
// the slowest, those that time out. The series a rate-limit alert reads
// (429) and an outage (error) are exported at zero from the start.
type timed struct {
	next http.RoundTripper
	obs  prometheus.ObserverVec
}

func (t timed) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	code := "error"
	if err == nil {
		code = strconv.Itoa(resp.StatusCode)
	}
	t.obs.WithLabelValues(code).Observe(time.Since(start).Seconds())
	return resp, err
}

// newProvider builds c's client, whose requests are traced with tp and
// timed in requests by status code.
func newProvider(c ProviderConfig, tp trace.TracerProvider, prop propagation.TextMapPropagator,
	requests *prometheus.HistogramVec) (Provider, error) {
	base, err := url.Parse(c.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("provider %s: base_url: %w", c.Name, err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = workers
	var rt http.RoundTripper = privateQuery{transport}
	if requests != nil {
		obs := requests.MustCurryWith(prometheus.Labels{"provider": c.Name})
		obs.WithLabelValues("429")
		obs.WithLabelValues("error")
		rt = timed{next: rt, obs: obs}
	}
	if service.Records(tp) {
		rt = otelhttp.NewTransport(rt,
			otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(prop),
			// The span name says which provider; the URL query is not in it.
			otelhttp.WithSpanNameFormatter(func(string, *http.Request) string { return "GET " + c.Kind }))
	}
	client := &http.Client{Timeout: c.Timeout, Transport: rt}
	hp := httpProvider{name: c.Name, base: base, key: c.apiKey(), client: client}
	switch c.Kind {
	case KindClearbit:
		return &Clearbit{hp}, nil
	case KindHunter:
		return &Hunter{hp}, nil
	}
	return nil, fmt.Errorf("provider %s: unknown kind %q", c.Name, c.Kind)
}
