// Package fakenotion is an in-process fake of the parts of the Notion API
// that the knowledge sync uses. It answers in Notion's documented shapes and
// enforces Notion's documented limits, so a client that works against it
// keeps within them:
//
//   - page_size at most 100, with start_cursor / next_cursor / has_more
//     pagination;
//   - a request body of at most 500,000 bytes (Notion's 500KB) and at most
//     1,000 block elements, children included;
//   - at most 100 blocks in any children array and two levels of nesting in
//     one request, at most 100 rich text objects in one array and at most
//     2,000 characters in one rich text content, code languages from
//     Notion's list, and only properties the database has (400
//     validation_error otherwise);
//   - rich text links only to absolute http(s) URLs or mailto addresses of
//     at most 2,000 characters (Notion's "Invalid URL for link" otherwise),
//     and select and multi_select option names without commas;
//   - tables created with at least one row sent as their children in the
//     same request, table_row blocks only in tables and a table only of
//     table_row blocks, each with one rich text array a column
//     (table_width); a table's rows are listed only as its children, and
//     the table shows has_children;
//   - images only of type external, with an absolute http(s) URL of at most
//     2,000 characters (stricter than Notion, which documents the length
//     only) and a caption within the rich text limits;
//   - property values in the shape of their type in the database's schema
//     (GET /v1/databases/{id} serves it): a select given a number, for one,
//     is a 400 validation_error in Notion's words; a status option must
//     exist; at most 100 multi_select options, 2,000 characters in a url
//     and 200 in an email or phone_number; types the API cannot write
//     (formula, rollup, created_time...) and those the fake does not model
//     (people, files, relation) are refused;
//   - 3 requests a second on average with bursts (429 rate_limited with a
//     Retry-After header beyond that);
//   - the Notion-Version header and the bearer token on every request;
//   - pages naming, as partial users, who created them and who edited them
//     last: the integration's bot user, which GET /v1/users/me serves, for
//     writes through the API, and a person for the methods that act as a
//     person working in Notion's editor.
//
// It counts requests by kind so tests can assert what a sync wrote, and
// fails requests on demand ([Server.FailNext], [Server.FailAfter]).
package fakenotion

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

// Request kinds counted by [Server.Count].
const (
	KindRetrieveDatabase = "retrieve_database"
	KindQueryDatabase    = "query_database"
	KindRetrievePage     = "retrieve_page"
	KindCreatePage       = "create_page"
	KindUpdatePage       = "update_page"
	KindListChildren     = "list_children"
	KindAppendChildren   = "append_children"
	KindDeleteBlock      = "delete_block"
	KindRetrieveBotUser  = "retrieve_bot_user"
	// KindRateLimited counts requests answered 429 by the rate limit.
	KindRateLimited = "rate_limited"
	// KindInjected counts requests answered with an injected failure.
	KindInjected = "injected"
	// KindRejected counts requests answered 400 for breaking a limit or a
	// shape rule.
	KindRejected = "rejected"
)

var writeKinds = []string{KindCreatePage, KindUpdatePage, KindAppendChildren, KindDeleteBlock}

// Defaults of a new server: Notion's documented average, with bursts.
const (
	DefaultRate  = rate.Limit(3)
	DefaultBurst = 10
)

// Server is a fake Notion API on an httptest server.
type Server struct {
	// URL is the base URL to give the client.
	URL   string
	Token string

	srv *httptest.Server

	mu        sync.Mutex
	limiter   *rate.Limiter
	now       func() time.Time
	counts    map[string]int
	failures  []failure
	faults    []fault
	databases map[string]*database
	pages     map[string]*page
	blocks    map[string]*block
	rejected  []string
	// bot is the integration's user, person the one editing in Notion.
	bot, person notion.User
}

type failure struct {
	status     int
	retryAfter time.Duration
}

// fault is a failure of one request of a kind, once after more requests
// of that kind were answered.
type fault struct {
	kind   string
	after  int
	status int
}

type database struct {
	id     string
	schema map[string]string // property name → type
	// options are the options of the select, multi_select and status
	// properties, by property name.
	options map[string][]string
	pageIDs []string // in creation order
}

type page struct {
	notion.Page
	children []string
}

type block struct {
	notion.Block
	parent   string
	children []string
}

// Option configures a [Server].
type Option func(*Server)

// WithRateLimit sets the rate limit. Default 3 requests a second with bursts
// of 10.
func WithRateLimit(r rate.Limit, burst int) Option {
	return func(s *Server) { s.limiter = rate.NewLimiter(r, burst) }
}

// WithClock sets the clock stamping created and edited times.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// New starts a fake that accepts token, and stops it when the test ends
// through cleanup (t.Cleanup).
func New(cleanup func(func()), token string, opts ...Option) *Server {
	s := &Server{Token: token, limiter: rate.NewLimiter(DefaultRate, DefaultBurst), now: time.Now,
		counts: map[string]int{}, databases: map[string]*database{}, pages: map[string]*page{},
		blocks: map[string]*block{},
		bot:    notion.User{Object: "user", ID: uuid.NewString(), Type: "bot", Name: "Knowledge sync"},
		person: notion.User{Object: "user", ID: uuid.NewString(), Type: "person", Name: "Ada Lovelace"}}
	for _, opt := range opts {
		opt(s)
	}
	s.srv = httptest.NewServer(s.routes())
	s.URL = s.srv.URL
	cleanup(s.srv.Close)
	return s
}

// NewDatabase adds a database with a "Name" title property and a "Tags"
// multi_select property, and returns its id.
func (s *Server) NewDatabase() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := uuid.NewString()
	s.databases[id] = &database{id: id, schema: map[string]string{"Name": "title", "Tags": "multi_select"},
		options: map[string][]string{}}
	return id
}

// Count returns how many requests of kind the server answered.
func (s *Server) Count(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[kind]
}

// Writes returns how many write requests (create, update, append, delete)
// the server accepted.
func (s *Server) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, k := range writeKinds {
		n += s.counts[k]
	}
	return n
}

// Rejections returns the messages of the requests rejected with 400.
func (s *Server) Rejections() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.rejected...)
}

// FailNext answers the next n requests with status (429, 503, 529...) and a
// Retry-After of retryAfter, before the rate limit is consulted.
func (s *Server) FailNext(n, status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, failure{status, retryAfter})
	}
}

// FailAfter answers with status (500, 502, 503...) the request of kind that
// follows the next after requests of kind, once: FailAfter(KindDeleteBlock,
// 1, 500) stops a content write halfway, its new blocks appended and one of
// its old blocks deleted. Requests answered 429 by the rate limit do not
// count.
func (s *Server) FailAfter(kind string, after, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, fault{kind: kind, after: after, status: status})
}

// BotUser returns the integration's bot user, which GET /v1/users/me
// serves.
func (s *Server) BotUser() notion.User { return s.bot }

// Person returns the user the methods acting in Notion's editor edit as.
func (s *Server) Person() notion.User { return s.person }

// partial returns a user as page objects name it: object and id.
func partial(u notion.User) notion.User { return notion.User{Object: u.Object, ID: u.ID} }

// apiError is Notion's error object.
type apiError struct {
	Object  string `json:"object"`
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, apiError{Object: "error", Status: status, Code: code, Message: msg})
}

// routes maps Notion's endpoints.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /v1/databases/{id}", s.endpoint(KindRetrieveDatabase, s.retrieveDatabase))
	mux.Handle("POST /v1/databases/{id}/query", s.endpoint(KindQueryDatabase, s.queryDatabase))
	mux.Handle("GET /v1/pages/{id}", s.endpoint(KindRetrievePage, s.retrievePage))
	mux.Handle("POST /v1/pages", s.endpoint(KindCreatePage, s.createPage))
	mux.Handle("PATCH /v1/pages/{id}", s.endpoint(KindUpdatePage, s.updatePage))
	mux.Handle("GET /v1/blocks/{id}/children", s.endpoint(KindListChildren, s.listChildren))
	mux.Handle("PATCH /v1/blocks/{id}/children", s.endpoint(KindAppendChildren, s.appendChildren))
	mux.Handle("DELETE /v1/blocks/{id}", s.endpoint(KindDeleteBlock, s.deleteBlock))
	mux.Handle("GET /v1/users/me", s.endpoint(KindRetrieveBotUser, s.retrieveBotUser))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusBadRequest, "invalid_request_url", "Invalid request URL.")
	})
	return mux
}

// statusError is an answer other than 200 from a handler.
type statusError struct {
	status        int
	code, message string
}

func (e *statusError) Error() string { return e.message }

func validation(format string, args ...any) error {
	return &statusError{http.StatusBadRequest, "validation_error", fmt.Sprintf(format, args...)}
}

func notFound(id string) error {
	return &statusError{http.StatusNotFound, "object_not_found",
		fmt.Sprintf("Could not find block with ID: %s. Make sure the relevant pages and databases are shared with your integration.", id)}
}

// endpoint wraps a handler with authentication, the version check, the rate
// limit, counting and error answers. Handlers run under the server's lock.
func (s *Server) endpoint(kind string, h func(r *http.Request) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+s.Token {
			writeError(w, http.StatusUnauthorized, "unauthorized", "API token is invalid.")
			return
		}
		if v := r.Header.Get("Notion-Version"); v != notion.Version {
			writeError(w, http.StatusBadRequest, "missing_version",
				"Notion-Version header failed validation: the fake serves "+notion.Version+".")
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.refused(w, kind) {
			return
		}
		out, err := s.withinSize(r, h)
		if err != nil {
			se, ok := err.(*statusError)
			if !ok {
				se = &statusError{http.StatusBadRequest, "invalid_json", err.Error()}
			}
			if se.status == http.StatusBadRequest {
				s.counts[KindRejected]++
				s.rejected = append(s.rejected, kind+": "+se.message)
			}
			writeError(w, se.status, se.code, se.message)
			return
		}
		s.counts[kind]++
		writeJSON(w, http.StatusOK, out)
	})
}

// refused answers a request with an injected failure, or 429 beyond the
// rate limit, and reports whether it did.
func (s *Server) refused(w http.ResponseWriter, kind string) bool {
	if len(s.failures) > 0 {
		f := s.failures[0]
		s.failures = s.failures[1:]
		s.inject(w, f.status, f.retryAfter)
		return true
	}
	if !s.limiter.Allow() {
		s.counts[KindRateLimited]++
		w.Header().Set("Retry-After", fmt.Sprint(max(1, int(math.Ceil(1/float64(s.limiter.Limit()))))))
		writeError(w, http.StatusTooManyRequests, "rate_limited",
			"You have been rate limited. Please try again in a few minutes.")
		return true
	}
	for i, f := range s.faults {
		if f.kind != kind {
			continue
		}
		if f.after > 0 {
			s.faults[i].after--
			return false
		}
		s.faults = append(s.faults[:i], s.faults[i+1:]...)
		s.inject(w, f.status, 0)
		return true
	}
	return false
}

// inject answers a request with an injected failure of status, in
// Notion's words for it.
func (s *Server) inject(w http.ResponseWriter, status int, retryAfter time.Duration) {
	s.counts[KindInjected]++
	if retryAfter > 0 || status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(retryAfter.Seconds()))))
	}
	code := map[int]string{http.StatusTooManyRequests: "rate_limited", http.StatusInternalServerError: "internal_server_error",
		http.StatusBadGateway: "bad_gateway", http.StatusGatewayTimeout: "gateway_timeout"}[status]
	if code == "" {
		code = "service_unavailable"
	}
	writeError(w, status, code, "Injected failure.")
}

// withinSize refuses a request body over Notion's size limit, as Notion
// documents for its size limits, and otherwise calls h.
func (s *Server) withinSize(r *http.Request, h func(r *http.Request) (any, error)) (any, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, notion.MaxRequestBytes+1))
	if err != nil {
		return nil, &statusError{http.StatusBadRequest, "invalid_json", "Error reading the request body."}
	}
	if len(body) > notion.MaxRequestBytes {
		return nil, validation("body failed validation: the request body should be ≤ `%d` bytes, instead was more.",
			notion.MaxRequestBytes)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return h(r)
}

// stamp returns the time for created and edited times, in Notion's
// millisecond precision.
func (s *Server) stamp() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// normID accepts an id with or without hyphens.
func normID(id string) string {
	if u, err := uuid.Parse(id); err == nil {
		return u.String()
	}
	return strings.ToLower(id)
}

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		return &statusError{http.StatusBadRequest, "invalid_json", "Error parsing JSON body."}
	}
	return nil
}
