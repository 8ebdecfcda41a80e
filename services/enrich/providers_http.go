package enrich

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/contracts/jsonalike"
	"github.com/gtmhub/gtmhub/events"
)

// Provider kinds: the protocols enrich speaks.
const (
	// KindClearbit is a company lookup compatible with Clearbit's Company
	// API: GET {base_url}/v2/companies/find?domain=, with a bearer key.
	KindClearbit = "clearbit"
	// KindHunter is an email verification compatible with Hunter's Email
	// Verifier: GET {base_url}/v2/email-verifier?email=&api_key=.
	KindHunter = "hunter"
)

// maxBody bounds how much of a provider's answer is read.
const maxBody = 1 << 20

// httpProvider is what both kinds share: a name, a base URL, a key and a
// client whose transport is traced.
type httpProvider struct {
	name   string
	base   *url.URL
	key    string
	client *http.Client
}

// get sends a GET to path with query on the provider and returns the status,
// headers and body. The query, which may hold the key or an email, is added
// below the tracing transport (see [privateQuery]), and errors never
// contain the URL.
func (p *httpProvider) get(ctx context.Context, path string, query url.Values, header http.Header) (int, http.Header, []byte, error) {
	u := p.base.JoinPath(path)
	ctx = context.WithValue(ctx, privateQueryKey{}, query)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s: build request: %w", p.name, err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL holds the query
		}
		return 0, nil, nil, fmt.Errorf("%s: request failed: %s", p.name, events.Redact(err.Error()))
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s: read answer: %s", p.name, events.Redact(err.Error()))
	}
	return resp.StatusCode, resp.Header, body, nil
}

// Clearbit looks companies up by domain with a Clearbit-compatible Company
// API. It answers:
//   - 200 with the company: done;
//   - 202 while the lookup is queued: ask again after Retry-After (default 3s);
//   - 404 for a domain it does not know: done, without a company;
//   - 422 for a domain it cannot look up: skipped;
//   - 429 with Retry-After: ask again later.
//
// Clearbit counts 200, 202 and 404 answers against the monthly quota.
type Clearbit struct{ httpProvider }

// Name returns the provider's configured name.
func (c *Clearbit) Name() string { return c.name }

// Key returns the lead's registrable domain.
func (c *Clearbit) Key(q Query) (string, error) {
	switch {
	case q.Domain == "":
		return "", fmt.Errorf("no company domain: %w", ErrNotApplicable)
	case q.Notes.Disposable && emailAt(q.Email, q.Domain):
		// Normalize takes no domain from a throwaway address, but the lead
		// may have given that domain as its own: it names the mail
		// service, not the lead's company, and a lookup would spend a
		// credit on it.
		return "", fmt.Errorf("disposable email domain: %w", ErrNotApplicable)
	}
	return q.Domain, nil
}

// emailAt reports whether email's domain is domain or one of its
// subdomains.
func emailAt(email, domain string) bool {
	at := email[strings.LastIndexByte(email, '@')+1:]
	return at == domain || strings.HasSuffix(at, "."+domain)
}

// clearbitCompany is the part of Clearbit's company object enrich uses.
type clearbitCompany struct {
	Name        string `json:"name"`
	Domain      string `json:"domain"`
	URL         string `json:"url"`
	Description string `json:"description"`
	Category    struct {
		Industry string `json:"industry"`
	} `json:"category"`
	Metrics struct {
		Employees *float64 `json:"employees"`
	} `json:"metrics"`
	Geo struct {
		City        string `json:"city"`
		Country     string `json:"country"`
		CountryCode string `json:"countryCode"`
	} `json:"geo"`
}

// Lookup asks for the company at q's domain.
func (c *Clearbit) Lookup(ctx context.Context, q Query) (Answer, error) {
	domain, err := c.Key(q)
	if err != nil {
		return Answer{}, err
	}
	status, h, body, err := c.get(ctx, "/v2/companies/find", url.Values{"domain": {domain}},
		http.Header{"Authorization": {"Bearer " + c.key}})
	if err != nil {
		return Answer{}, err
	}
	switch status {
	case http.StatusOK:
		var raw clearbitCompany
		if err := jsonalike.Unmarshal(body, &raw); err != nil {
			return Answer{Charged: true}, fmt.Errorf("%s: decode company: %w", c.name, err)
		}
		return Answer{Result: Result{Company: raw.company(domain)}, Charged: true}, nil
	case http.StatusAccepted:
		return Answer{Charged: true}, events.RetryAfter(retryAfter(h, retryPending),
			fmt.Errorf("%s: lookup queued", c.name))
	case http.StatusNotFound:
		return Answer{Charged: true}, nil
	case http.StatusUnprocessableEntity:
		return Answer{}, &SkipError{Reason: c.name + " cannot look this domain up (HTTP 422)", Final: true}
	case http.StatusUnauthorized, http.StatusPaymentRequired, http.StatusForbidden:
		return Answer{}, refused(c.name, status)
	case http.StatusTooManyRequests:
		return Answer{}, events.RetryAfter(retryAfter(h, time.Second), fmt.Errorf("%s: %w (HTTP 429)", c.name, ErrRateLimited))
	}
	return Answer{}, &statusError{provider: c.name, status: status}
}

// company maps Clearbit's company to the contract's, dropping values the
// contract would refuse.
func (r clearbitCompany) company(queried string) *contracts.Company {
	c := &contracts.Company{
		Domain:      queried,
		Name:        truncate(r.Name, 500),
		Industry:    truncate(r.Category.Industry, 500),
		City:        truncate(r.Geo.City, 500),
		Description: truncate(r.Description, 5000),
	}
	if d, err := NormalizeDomain(r.Domain); err == nil {
		c.Domain = d
	}
	if e := r.Metrics.Employees; e != nil && *e >= 0 && *e < math.MaxInt32 {
		n := int(*e)
		c.Employees = &n
	}
	for _, cc := range []string{r.Geo.CountryCode, r.Geo.Country} {
		if isCountryCode(cc) {
			c.Country = cc
			break
		}
	}
	if u, err := url.Parse(r.URL); err == nil && u.IsAbs() && len(r.URL) <= 2048 {
		c.Website = r.URL
	}
	return c
}

// Hunter verifies email addresses with a Hunter-compatible Email Verifier.
// It answers 200 with data.status and data.score, 202 while the
// verification is still running, and 429 when rate limited. Hunter counts a
// verification against the monthly credits unless its status is unknown or
// disposable.
type Hunter struct{ httpProvider }

// Name returns the provider's configured name.
func (h *Hunter) Name() string { return h.name }

// Key returns the lead's email; an address at a disposable-mail provider is
// not worth a credit.
func (h *Hunter) Key(q Query) (string, error) {
	switch {
	case q.Email == "":
		return "", fmt.Errorf("no email: %w", ErrNotApplicable)
	case q.Notes.Disposable:
		return "", fmt.Errorf("disposable email domain: %w", ErrNotApplicable)
	}
	return q.Email, nil
}

// hunterVerification is the part of Hunter's answer enrich uses.
type hunterVerification struct {
	Data struct {
		Status string   `json:"status"`
		Result string   `json:"result"`
		Score  *float64 `json:"score"`
	} `json:"data"`
}

// hunterStatuses are the statuses the contract knows.
var hunterStatuses = map[string]bool{"valid": true, "invalid": true, "accept_all": true,
	"webmail": true, "disposable": true, "unknown": true}

// Lookup verifies q's email.
func (h *Hunter) Lookup(ctx context.Context, q Query) (Answer, error) {
	email, err := h.Key(q)
	if err != nil {
		return Answer{}, err
	}
	status, hdr, body, err := h.get(ctx, "/v2/email-verifier", url.Values{"email": {email}, "api_key": {h.key}}, nil)
	if err != nil {
		return Answer{}, err
	}
	switch status {
	case http.StatusOK:
		var raw hunterVerification
		if err := jsonalike.Unmarshal(body, &raw); err != nil {
			return Answer{Charged: true}, fmt.Errorf("%s: decode verification: %w", h.name, err)
		}
		v := &contracts.EmailVerification{Status: raw.Data.Status}
		if !hunterStatuses[v.Status] {
			v.Status = "unknown"
		}
		if s := raw.Data.Score; s != nil && *s >= 0 && *s <= 100 {
			v.Score = s
		}
		charged := v.Status != "unknown" && v.Status != "disposable"
		return Answer{Result: Result{EmailVerification: v}, Charged: charged}, nil
	case http.StatusAccepted:
		return Answer{}, events.RetryAfter(retryAfter(hdr, retryPending), fmt.Errorf("%s: verification in progress", h.name))
	case http.StatusTooManyRequests:
		return Answer{}, events.RetryAfter(retryAfter(hdr, time.Second), fmt.Errorf("%s: %w (HTTP 429)", h.name, ErrRateLimited))
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return Answer{}, &SkipError{Reason: fmt.Sprintf("%s cannot verify this address (HTTP %d)", h.name, status), Final: true}
	case http.StatusUnauthorized, http.StatusPaymentRequired, http.StatusForbidden:
		return Answer{}, refused(h.name, status)
	}
	return Answer{}, &statusError{provider: h.name, status: status}
}

type privateQueryKey struct{}

// privateQuery is the transport under otelhttp's: it sets the request's
// query from the context, so that spans record the path without the API
// key or the email being looked up.
type privateQuery struct{ next http.RoundTripper }

func (t privateQuery) RoundTrip(req *http.Request) (*http.Response, error) {
	q, ok := req.Context().Value(privateQueryKey{}).(url.Values)
	if !ok {
		return t.next.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	r.URL.RawQuery = q.Encode()
	return t.next.RoundTrip(r)
}

// refused is the skip for an account the provider turns away: a wrong key
// (401, 403) or no quota left (402). Waiting would not help the lead.
func refused(name string, status int) *SkipError {
	if status == http.StatusPaymentRequired {
		return &SkipError{Reason: fmt.Sprintf("%s says the account is over quota (HTTP 402)", name)}
	}
	return &SkipError{Reason: fmt.Sprintf("%s refused the API key (HTTP %d)", name, status)}
}

// retryAfter reads a Retry-After header in seconds or as an HTTP date, or
// returns def.
func retryAfter(h http.Header, def time.Duration) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return def
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return def
}

// isCountryCode reports whether s looks like an ISO 3166-1 alpha-2 code.
func isCountryCode(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

// truncate cuts s to at most n runes.
func truncate(s string, n int) string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
