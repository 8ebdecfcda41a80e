// Package fakeprovider is an in-process stand-in for the enrichment APIs
// enrich speaks: Clearbit's Company API (GET /v2/companies/find?domain=,
// bearer key) and Hunter's Email Verifier (GET
// /v2/email-verifier?email=&api_key=). It answers like them (200, 202 while
// queued, 404 for an unknown company, 422 for a bad domain, 401 for a wrong
// key, 429 with Retry-After above the rate limit), lets a test inject any
// status, and counts the requests it gets.
package fakeprovider

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Kind names one of the fake APIs.
type Kind string

// The fake APIs.
const (
	Clearbit Kind = "clearbit"
	Hunter   Kind = "hunter"
)

// Company is what the fake Clearbit knows about a domain.
type Company struct {
	Domain      string
	Name        string
	Industry    string
	Employees   int
	CountryCode string // ISO 3166-1 alpha-2
	Country     string // full name, as Clearbit's geo.country
}

// Verification is what the fake Hunter answers for an address.
type Verification struct {
	Status string // valid, invalid, accept_all, webmail, disposable, unknown
	Score  int
}

// Reply is an injected answer: a status, and a Retry-After header when
// RetryAfter is not empty.
type Reply struct {
	Status     int
	RetryAfter string
}

// Request is one request the fake received.
type Request struct {
	Kind   Kind
	Lookup string // the domain or email asked about
	Status int    // what the fake answered
	At     time.Time
}

// Server is the fake. Create it with [New] and Close it when done.
type Server struct {
	// URL is the base URL of both APIs, for base_url.
	URL string
	// Key is the API key the fake accepts.
	Key string

	srv *httptest.Server

	mu        sync.Mutex
	companies map[string]Company
	emails    map[string]Verification
	queued    map[string]int // lookups answered 202 this many more times
	script    map[Kind][]Reply
	limiters  map[Kind]*rate.Limiter
	log       []Request
}

// New starts a fake accepting key.
func New(key string) *Server {
	s := &Server{Key: key, companies: map[string]Company{}, emails: map[string]Verification{},
		queued: map[string]int{}, script: map[Kind][]Reply{}, limiters: map[Kind]*rate.Limiter{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/companies/find", s.clearbit)
	mux.HandleFunc("GET /v2/email-verifier", s.hunter)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	return s
}

// Close stops the fake.
func (s *Server) Close() { s.srv.Close() }

// AddCompany makes c known to the fake Clearbit.
func (s *Server) AddCompany(c Company) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.companies[c.Domain] = c
}

// AddEmail sets what the fake Hunter answers for email. Other addresses are
// "unknown" with score 0.
func (s *Server) AddEmail(email string, v Verification) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.emails[email] = v
}

// Queue makes the next n lookups of a domain or email answer 202.
func (s *Server) Queue(lookup string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queued[lookup] = n
}

// Inject makes the next requests to kind get replies, in order, whatever
// they ask.
func (s *Server) Inject(kind Kind, replies ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script[kind] = append(s.script[kind], replies...)
}

// Fail makes the next n requests to kind answer status.
func (s *Server) Fail(kind Kind, status, n int) {
	for range n {
		s.Inject(kind, Reply{Status: status})
	}
}

// SetRateLimit answers 429 with Retry-After: 1 to requests to kind above
// perSecond (with a burst of the same size), as the real APIs do.
func (s *Server) SetRateLimit(kind Kind, perSecond int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limiters[kind] = rate.NewLimiter(rate.Limit(perSecond), perSecond)
}

// Requests returns how many requests kind received, whatever the answer.
func (s *Server) Requests(kind Kind) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.log {
		if r.Kind == kind {
			n++
		}
	}
	return n
}

// Log returns every request received so far.
func (s *Server) Log() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

// clearbitCompany is the fake's answer, in Clearbit's shape.
type clearbitCompany struct {
	Name     string `json:"name"`
	Domain   string `json:"domain"`
	URL      string `json:"url"`
	Category struct {
		Industry string `json:"industry"`
	} `json:"category"`
	Metrics struct {
		Employees int `json:"employees"`
	} `json:"metrics"`
	Geo struct {
		Country     string `json:"country"`
		CountryCode string `json:"countryCode"`
	} `json:"geo"`
}

func (s *Server) clearbit(w http.ResponseWriter, r *http.Request) {
	domain := r.URL.Query().Get("domain")
	authorized := r.Header.Get("Authorization") == "Bearer "+s.Key
	s.mu.Lock()
	defer s.mu.Unlock()
	status, retry := s.decide(Clearbit, domain, authorized, validDomain(domain))
	var body any = errorBody(http.StatusText(status))
	if status == 0 {
		c, ok := s.companies[domain]
		if !ok {
			status = http.StatusNotFound
		} else {
			status, body = http.StatusOK, toClearbit(c)
		}
	}
	s.record(Clearbit, domain, status)
	reply(w, status, retry, body)
}

func toClearbit(c Company) clearbitCompany {
	var out clearbitCompany
	out.Name, out.Domain, out.URL = c.Name, c.Domain, "https://"+c.Domain
	out.Category.Industry = c.Industry
	out.Metrics.Employees = c.Employees
	out.Geo.Country, out.Geo.CountryCode = c.Country, c.CountryCode
	return out
}

func (s *Server) hunter(w http.ResponseWriter, r *http.Request) {
	email := r.URL.Query().Get("email")
	authorized := r.URL.Query().Get("api_key") == s.Key
	s.mu.Lock()
	defer s.mu.Unlock()
	status, retry := s.decide(Hunter, email, authorized, strings.Contains(email, "@"))
	var body any = errorBody(http.StatusText(status))
	if status == 0 {
		v, ok := s.emails[email]
		if !ok {
			v = Verification{Status: "unknown"}
		}
		status = http.StatusOK
		body = map[string]any{"data": map[string]any{"email": email, "status": v.Status,
			"result": v.Status, "score": v.Score}}
	}
	s.record(Hunter, email, status)
	reply(w, status, retry, body)
}

// decide returns the status the request gets before the fake looks the
// value up, or 0 to look it up, and a Retry-After value.
func (s *Server) decide(kind Kind, lookup string, authorized, valid bool) (int, string) {
	if q := s.script[kind]; len(q) > 0 {
		s.script[kind] = q[1:]
		return q[0].Status, q[0].RetryAfter
	}
	if l := s.limiters[kind]; l != nil && !l.Allow() {
		return http.StatusTooManyRequests, "1"
	}
	switch {
	case !authorized:
		return http.StatusUnauthorized, ""
	case !valid && kind == Clearbit:
		return http.StatusUnprocessableEntity, ""
	case !valid:
		return http.StatusBadRequest, ""
	}
	if n := s.queued[lookup]; n > 0 {
		s.queued[lookup] = n - 1
		return http.StatusAccepted, strconv.Itoa(1)
	}
	return 0, ""
}

func (s *Server) record(kind Kind, lookup string, status int) {
	s.log = append(s.log, Request{Kind: kind, Lookup: lookup, Status: status, At: time.Now()})
}

func errorBody(msg string) map[string]any {
	return map[string]any{"error": map[string]any{"type": "fake", "message": msg}}
}

func reply(w http.ResponseWriter, status int, retryAfter string, body any) {
	w.Header().Set("Content-Type", "application/json")
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// validDomain is a loose host-name check: a dot and no spaces.
func validDomain(d string) bool {
	return strings.Contains(d, ".") && !strings.ContainsAny(d, " /@")
}
