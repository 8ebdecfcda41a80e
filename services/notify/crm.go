package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
)

// Skipper is a [Sender] that can tell that a message needs no sending: a
// write to a system that already holds the change. Its decision is recorded
// as suppressed, with the reason.
type Skipper interface {
	// SkipReason returns why m needs no sending, or "" when it does.
	SkipReason(m Message) string
}

// contactFields are the contact fields a CRM or Airtable mapping may name.
var contactFields = []string{"email", "first_name", "last_name", "company", "status", "created_at",
	"domain", "title", "phone", "source", "signal_score", "intent_score", "fit_score"}

// contactValues returns the contact's non-empty fields by name: text as it
// is, scores as numbers, created_at in RFC 3339. Empty fields are left out:
// the store never erases a value, so neither does a push.
func contactValues(c contracts.Contact) map[string]any {
	out := map[string]any{}
	for name, v := range map[string]string{"email": c.Email, "first_name": c.FirstName, "last_name": c.LastName,
		"company": c.Company, "status": c.Status, "domain": c.Domain, "title": c.Title, "phone": c.Phone, "source": c.Source} {
		if v != "" {
			out[name] = v
		}
	}
	for name, v := range map[string]*float64{"signal_score": c.SignalScore, "intent_score": c.IntentScore, "fit_score": c.FitScore} {
		if v != nil {
			out[name] = *v
		}
	}
	if c.CreatedAt != nil && !c.CreatedAt.IsZero() {
		out["created_at"] = c.CreatedAt.UTC().Format(time.RFC3339)
	}
	return out
}

// contactChange decodes the contact change that fired m's rule.
func contactChange(m Message) (contracts.ContactChanged, error) {
	var c contracts.ContactChanged
	if err := json.Unmarshal(m.Event.Data(), &c); err != nil {
		return c, events.Permanent(fmt.Errorf("decode %s data: %w", m.Event.Type(), err))
	}
	if c.Contact.Email == "" {
		return c, events.Permanent(errors.New("the contact has no email: records are matched by email"))
	}
	return c, nil
}

// echoReason says why writing change c to dest is not needed, or returns ""
// when it is: when no field dest holds (held) changed, or when every one
// that changed got its new value from one of sources, dest's own webhooks,
// so that writing it back would only echo it. A field without provenance of
// its own (created_at) counts as coming from where the record's email did.
//
// The contact's source field does not count as a change: it names the
// system that wrote last, so it changes whenever a destination's webhook
// brings back what it was sent. The echo of a write therefore ends after
// one round: the store publishes no change for values it already holds,
// only the new source, and that is written nowhere.
func echoReason(dest string, c contracts.ContactChanged, held func(field string) bool, sources []string) string {
	var changed []string
	for _, ch := range c.Changes {
		if ch.Field != "source" && held(ch.Field) && !slices.Contains(changed, ch.Field) {
			changed = append(changed, ch.Field)
		}
	}
	if len(changed) == 0 {
		return fmt.Sprintf("no field written to %s changed", dest)
	}
	for _, f := range changed {
		p, ok := c.Provenance[f]
		if !ok {
			p, ok = c.Provenance["email"]
		}
		if !ok || !slices.Contains(sources, p.Source) {
			return ""
		}
	}
	return fmt.Sprintf("every changed field came from %s: not written back", strings.Join(sources, ", "))
}

// APIError is an answer other than 2xx from HubSpot or Airtable.
type APIError struct {
	// Service is hubspot or airtable.
	Service string
	Status  int
	// Code is the API's error category or type, such as VALIDATION_ERROR
	// or INVALID_RECORDS.
	Code string
	// Message is the API's message, with credentials and email addresses
	// masked.
	Message string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("%s answered %d", e.Service, e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// apiAnswer is an HTTP answer, read.
type apiAnswer struct {
	status     int
	body       []byte
	retryAfter time.Duration // from the Retry-After header; 0: none
}

// apiClient makes the JSON calls of one API with a bearer token. Every call
// waits for its limiter, goes through the destination's circuit breaker
// (5xx answers and transport failures count against it), and after a 429
// no call is made until the wait the API asked for is over. Its errors
// never contain the token.
type apiClient struct {
	service  string // hubspot, airtable: names it in errors
	base     string // base URL, without a trailing slash
	token    string
	client   *http.Client
	breakers *events.Breakers
	dest     string // the breaker's key
	// classify turns an answer other than 2xx into an error: Permanent,
	// RetryAfter or plain.
	classify func(a apiAnswer) error
	// onRateLimit, when set, is called on every 429.
	onRateLimit func()

	mu           sync.Mutex
	blockedUntil time.Time
}

// blocked returns how long calls must still wait after a 429.
func (c *apiClient) blocked() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Until(c.blockedUntil)
}

func (c *apiClient) block(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if until := time.Now().Add(d); until.After(c.blockedUntil) {
		c.blockedUntil = until
	}
}

// call sends in as JSON with method to path, after limiter lets it, and
// decodes a 2xx answer into out (when out is not nil).
func (c *apiClient) call(ctx context.Context, limiter *rate.Limiter, method, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return events.Permanent(fmt.Errorf("%s request: %w", c.service, err))
	}
	if wait := c.blocked(); wait > 0 {
		return events.RetryAfter(wait, fmt.Errorf("%s: rate limited: %w", c.dest, events.ErrNotCalled))
	}
	if err := limiter.Wait(ctx); err != nil {
		return fmt.Errorf("%s rate limiter: %w", c.service, err)
	}
	var answer error
	err = c.breakers.Do(ctx, c.dest, func(ctx context.Context) error {
		a, err := c.roundTrip(ctx, method, path, body)
		if err != nil {
			return err
		}
		if a.status/100 == 2 {
			if out != nil && len(a.body) > 0 {
				if err := json.Unmarshal(a.body, out); err != nil {
					answer = fmt.Errorf("%s %s %s: decode answer: %w", c.service, method, path, err)
				}
			}
			return nil
		}
		answer = c.classify(a)
		if a.status == http.StatusTooManyRequests {
			if d, ok := events.RetryDelay(answer); ok {
				c.block(d)
			}
			if c.onRateLimit != nil {
				c.onRateLimit()
			}
		}
		if a.status >= 500 {
			return answer
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if answer != nil {
		if events.IsPermanent(answer) {
			return events.Permanent(fmt.Errorf("%s %s: %w", method, path, unwrapPermanent(answer)))
		}
		return fmt.Errorf("%s %s: %w", method, path, answer)
	}
	return nil
}

// roundTrip makes one call. Its errors leave the URL and the token out.
func (c *apiClient) roundTrip(ctx context.Context, method, path string, body []byte) (apiAnswer, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return apiAnswer{}, events.Permanent(fmt.Errorf("%s request: %w", c.service, err))
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return apiAnswer{}, fmt.Errorf("%s call: %w", c.service, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return apiAnswer{}, fmt.Errorf("%s answer: %w", c.service, err)
	}
	return apiAnswer{status: resp.StatusCode, body: b, retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"))}, nil
}

// apiErrorFor classifies an answer: 429 is retried after wait (the
// Retry-After header's when there is one), 5xx is retried, any other 4xx is
// refused for good.
func apiErrorFor(a apiAnswer, e *APIError, wait time.Duration) error {
	e.Code = truncate(events.Redact(events.MaskEmails(e.Code)), 100)
	e.Message = truncate(events.Redact(events.MaskEmails(e.Message)), 500)
	if e.Code == "" && e.Message == "" {
		e.Code = http.StatusText(a.status)
	}
	switch {
	case a.status == http.StatusTooManyRequests:
		if a.retryAfter > 0 {
			wait = a.retryAfter
		}
		return events.RetryAfter(wait, e)
	case a.status >= 500:
		return e
	default:
		return events.Permanent(e)
	}
}

// httpClient returns client, or one with timeout (10s when zero).
func httpClient(client *http.Client, timeout time.Duration) *http.Client {
	if client != nil {
		return client
	}
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	return &http.Client{Timeout: timeout}
}

// formatNumber writes a score as HubSpot and Airtable read numbers.
func formatNumber(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// apiProblems adds the problems of what the hubspot: and airtable:
// sections share to p, under section: a token_env that is not set, a base
// URL that is not http(s), source names that are not tokens. It never
// names the token.
func apiProblems(p interface{ Addf(string, ...any) }, section, token, tokenEnv, baseURL string, sources []string) {
	if tokenEnv != "" && token == "" {
		p.Addf("%s.token_env: %s is not set", section, tokenEnv)
	}
	if baseURL != "" {
		if u, err := url.Parse(baseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			p.Addf("%s.base_url must be an http(s) URL", section)
		}
	}
	for _, s := range sources {
		if !events.ValidToken(s) {
			p.Addf("%s.sources: %q is not a source name", section, s)
		}
	}
}

// mappingProblems adds the problems of a field mapping to p: names that are
// not contact fields.
func mappingProblems(p interface{ Addf(string, ...any) }, section string, m map[string]string) {
	for field := range m {
		if !slices.Contains(contactFields, field) {
			p.Addf("%s[%q]: not a contact field; want one of %s", section, field, strings.Join(contactFields, ", "))
		}
	}
}

// merged returns defaults with over applied; an empty value in over drops
// the field.
func mergedMapping(defaults, over map[string]string) map[string]string {
	out := make(map[string]string, len(defaults)+len(over))
	for k, v := range defaults {
		out[k] = v
	}
	for k, v := range over {
		if v == "" {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}
