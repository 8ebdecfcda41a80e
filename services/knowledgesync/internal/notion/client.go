// Package notion is a client for the parts of the public Notion API that the
// knowledge sync uses: querying a database, retrieving, creating and
// updating pages, and listing, appending and deleting blocks.
//
// Every request carries the pinned [Version] header and the integration
// token, waits for the client's rate limiter (3 requests a second on
// average, with bursts, as Notion documents), goes through a circuit
// breaker, and is retried after the server's Retry-After when Notion
// answers 429, 503 or 529. The token never appears in errors or logs.
package notion

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"

	"github.com/gtmhub/gtmhub/events"
)

// Version is the Notion-Version every request is pinned to.
const Version = "2022-06-28"

// Defaults.
const (
	DefaultBaseURL  = "https://api.notion.com"
	DefaultRate     = rate.Limit(3) // requests a second, on average
	DefaultBurst    = 5
	DefaultRetries  = 8
	DefaultTokenEnv = "NOTION_TOKEN"
	// Destination is the breaker key of the Notion API.
	Destination = "notion"
)

// ErrNoToken is returned by [FromEnv] when the variable is empty.
var ErrNoToken = errors.New("notion: no integration token")

// Client calls the Notion API. It is safe for concurrent use.
type Client struct {
	base     *url.URL
	token    string
	http     *http.Client
	limiter  *rate.Limiter
	breakers *events.Breakers
	retries  int
	maxWait  time.Duration
}

// Option configures a [Client].
type Option func(*Client)

// WithBaseURL sends requests to base instead of https://api.notion.com.
func WithBaseURL(base string) Option {
	return func(c *Client) {
		if u, err := url.Parse(strings.TrimRight(base, "/")); err == nil {
			c.base = u
		}
	}
}

// WithRateLimit paces requests to r a second on average with bursts of
// burst. Default 3/s with bursts of 5, under Notion's allowance.
func WithRateLimit(r rate.Limit, burst int) Option {
	return func(c *Client) { c.limiter = rate.NewLimiter(r, burst) }
}

// WithBreakers runs every request through the breaker of [Destination] in b.
// Default: a set of its own.
func WithBreakers(b *events.Breakers) Option { return func(c *Client) { c.breakers = b } }

// WithRetries sets how many times a request answered 429, 503 or 529 is
// tried again. Default 8.
func WithRetries(n int) Option { return func(c *Client) { c.retries = n } }

// WithTransport sets the HTTP transport under the tracing transport.
func WithTransport(rt http.RoundTripper) Option {
	return func(c *Client) { c.http.Transport = rt }
}

// WithTracerProvider traces requests with tp. Default: the global provider.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *Client) {
		c.http.Transport = otelhttp.NewTransport(c.http.Transport, otelhttp.WithTracerProvider(tp))
	}
}

// New returns a client authenticating with the integration token.
func New(token string, opts ...Option) (*Client, error) {
	if strings.TrimSpace(token) == "" {
		return nil, ErrNoToken
	}
	base, _ := url.Parse(DefaultBaseURL)
	c := &Client{base: base, token: token, http: &http.Client{Transport: http.DefaultTransport, Timeout: time.Minute},
		limiter: rate.NewLimiter(DefaultRate, DefaultBurst), retries: DefaultRetries, maxWait: time.Minute}
	for _, opt := range opts {
		opt(c)
	}
	if _, traced := c.http.Transport.(*otelhttp.Transport); !traced {
		c.http.Transport = otelhttp.NewTransport(c.http.Transport)
	}
	if c.breakers == nil {
		c.breakers = events.NewBreakers()
	}
	return c, nil
}

// FromEnv returns a client whose token is the value of the environment
// variable env (NOTION_TOKEN when env is empty).
func FromEnv(env string, opts ...Option) (*Client, error) {
	if env == "" {
		env = DefaultTokenEnv
	}
	c, err := New(os.Getenv(env), opts...)
	if errors.Is(err, ErrNoToken) {
		return nil, fmt.Errorf("%w: %s is not set", ErrNoToken, env)
	}
	return c, err
}

// Error is an error answer from Notion.
type Error struct {
	Status    int    `json:"status"`
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id,omitempty"`
	// RetryAfter is the server's Retry-After, if it sent one.
	RetryAfter time.Duration `json:"-"`
	// Op is the request, e.g. "PATCH /v1/blocks/{id}/children".
	Op string `json:"-"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("notion: %s: %d %s: %s", e.Op, e.Status, e.Code, events.Redact(e.Message))
}

// Temporary reports whether the request may succeed if sent again later.
func (e *Error) Temporary() bool {
	switch e.Status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, 529, http.StatusBadGateway, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// IsNotFound reports whether err is Notion's object_not_found.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// IsRefused reports whether err is Notion refusing a request as malformed
// or invalid (400: validation_error, invalid_json, invalid_request...):
// sent again unchanged, it would be refused again.
func IsRefused(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusBadRequest
}

// retryable reports whether the answer asks to be tried again after a wait.
func (e *Error) retryable() bool {
	return e.Status == http.StatusTooManyRequests || e.Status == http.StatusServiceUnavailable || e.Status == 529
}

// do sends one API call and decodes the answer into out, trying again
// after a wait when Notion answers 429, 503 or 529. op names the request
// for errors without ids or the token.
func (c *Client) do(ctx context.Context, method, op, path string, query url.Values, in, out any) error {
	return c.doRetrying(ctx, (*Error).retryable, method, op, path, query, in, out)
}

// rateLimited reports whether the answer is 429: Notion did not take the
// request.
func (e *Error) rateLimited() bool { return e.Status == http.StatusTooManyRequests }

// doRetrying is do, trying again after the answers retry accepts.
func (c *Client) doRetrying(ctx context.Context, retry func(*Error) bool, method, op, path string, query url.Values,
	in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("notion: %s: encode: %w", op, err)
		}
	}
	for attempt := 0; ; attempt++ {
		if err := c.limiter.Wait(ctx); err != nil {
			return fmt.Errorf("notion: %s: %w", op, err)
		}
		var apiErr *Error
		err := c.breakers.Do(ctx, Destination, func(ctx context.Context) error {
			err := c.send(ctx, method, op, path, query, body, out)
			if errors.As(err, &apiErr) {
				switch {
				case apiErr.Status == http.StatusTooManyRequests:
					return nil // pacing, not an outage: do not trip the breaker
				case !apiErr.Temporary():
					return events.Permanent(err)
				}
			}
			return err
		})
		if apiErr != nil && retry(apiErr) && attempt < c.retries {
			if werr := c.sleep(ctx, apiErr.RetryAfter, attempt); werr != nil {
				return fmt.Errorf("notion: %s: %w", op, werr)
			}
			continue
		}
		if apiErr != nil {
			if apiErr.Temporary() {
				return events.RetryAfter(max(apiErr.RetryAfter, time.Second), apiErr)
			}
			return apiErr
		}
		return err
	}
}

// sleep waits Retry-After, or an exponential backoff when the server gave
// none, capped at the client's maximum wait.
func (c *Client) sleep(ctx context.Context, retryAfter time.Duration, attempt int) error {
	d := retryAfter
	if d <= 0 {
		d = time.Duration(1<<min(attempt, 6)) * 250 * time.Millisecond
	}
	d = min(d, c.maxWait)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// send makes one HTTP request.
func (c *Client) send(ctx context.Context, method, op, path string, query url.Values, body []byte, out any) error {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return fmt.Errorf("notion: %s: %w", op, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Notion-Version", Version)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("notion: %s: %w", op, stripURL(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("notion: %s: read answer: %w", op, err)
	}
	if resp.StatusCode >= 300 {
		return decodeError(op, resp, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("notion: %s: decode answer: %w", op, err)
	}
	return nil
}

// stripURL drops the URL from a transport error; it holds page ids only, but
// errors stay short and uniform.
func stripURL(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}

// decodeError reads Notion's error object.
func decodeError(op string, resp *http.Response, data []byte) error {
	e := &Error{}
	if json.Unmarshal(data, e) != nil || e.Code == "" {
		e.Code = "http_error"
		e.Message = strings.TrimSpace(string(data))
		if len(e.Message) > 200 {
			e.Message = e.Message[:200]
		}
	}
	e.Status, e.Op = resp.StatusCode, op
	if s, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && s >= 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	} else if t, err := http.ParseTime(resp.Header.Get("Retry-After")); err == nil {
		e.RetryAfter = max(time.Until(t), 0)
	}
	return e
}
