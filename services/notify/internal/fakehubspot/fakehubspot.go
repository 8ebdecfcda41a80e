// Package fakehubspot is an in-process HubSpot CRM API for tests. It serves
// the calls notify makes and enforces their documented contract: a bearer
// token (401 without the right one), JSON bodies with no unknown keys,
// batch upserts of 1 to 100 distinct inputs keyed by the email property, known
// contact properties and hs_lead_status options (400 VALIDATION_ERROR
// otherwise), company search filters, and the rate limits (100 requests per
// rolling ten seconds, and a few searches a second) with HubSpot's 429 body.
// It keeps contacts, companies and associations so that tests can assert
// the end state, and failures can be injected to answer the next calls.
// [WithSearchLag] makes search lag behind writes, as HubSpot's index does.
package fakehubspot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gtmhub/gtmhub/services/notify/internal/fakeapi"
)

// Documented limits the fake enforces.
const (
	MaxBatchInputs = 100
	// RequestsPer10s is the default limit per rolling ten seconds.
	RequestsPer10s = 100
	// SearchesPerSecond is the default limit of the search endpoints.
	SearchesPerSecond = 5
)

// ContactProperties are the contact properties the fake's account has.
var ContactProperties = []string{"email", "firstname", "lastname", "company", "jobtitle", "phone",
	"hs_lead_status", "lifecyclestage", "website", "city", "country"}

// LeadStatuses are the options of hs_lead_status.
var LeadStatuses = []string{"NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED", "ATTEMPTED_TO_CONTACT",
	"CONNECTED", "BAD_TIMING"}

// Object is a stored contact or company.
type Object struct {
	ID         string
	Properties map[string]string
	created    time.Time
}

// Association is a default contact to company association.
type Association struct {
	ContactID, CompanyID string
}

// Response is an answer, the fake's own or injected; an injected one with
// no body gets the API's error body for its status.
type Response = fakeapi.Response

// Request is a call the fake answered.
type Request = fakeapi.Request

// Server is a fake HubSpot.
type Server struct {
	*httptest.Server
	// Log holds the calls answered and the answers injected (FailNext,
	// Requests).
	*fakeapi.Log
	token    string
	per10s   int
	searches int
	props    []string
	lag      time.Duration

	mu           sync.Mutex
	nextID       int
	contacts     map[string]*Object // by lowercased email
	companies    []*Object
	associations []Association
	times        []time.Time // accepted requests, for the rolling limit
	searchTimes  []time.Time
}

// Option configures a Server.
type Option func(*Server)

// WithRateLimit sets the requests allowed per rolling ten seconds.
func WithRateLimit(per10s int) Option { return func(s *Server) { s.per10s = per10s } }

// WithSearchLag makes records show in search results only lag after they
// were created, as HubSpot's search index does.
func WithSearchLag(lag time.Duration) Option { return func(s *Server) { s.lag = lag } }

// WithProperties adds custom contact properties, such as gtmhub_signal_score.
func WithProperties(names ...string) Option {
	return func(s *Server) { s.props = append(s.props, names...) }
}

// New starts a fake HubSpot that accepts token; it stops when t's test
// ends. Use s.URL as the base URL and s.Client() as the HTTP client.
func New(t interface{ Cleanup(func()) }, token string, opts ...Option) *Server {
	s := &Server{token: token, per10s: RequestsPer10s, searches: SearchesPerSecond,
		props: slices.Clone(ContactProperties), nextID: 1000,
		contacts: map[string]*Object{}, Log: &fakeapi.Log{}}
	for _, o := range opts {
		o(s)
	}
	s.Server = httptest.NewTLSServer(http.Handler(s.Log.Handler("application/json;charset=utf-8", s.answer)))
	t.Cleanup(s.Close)
	return s
}

// Contacts returns the stored contacts by lowercased email.
func (s *Server) Contacts() map[string]Object {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Object, len(s.contacts))
	for k, o := range s.contacts {
		out[k] = clone(o)
	}
	return out
}

// Companies returns the stored companies.
func (s *Server) Companies() []Object {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Object
	for _, o := range s.companies {
		out = append(out, clone(o))
	}
	return out
}

// Associations returns the stored contact to company associations.
func (s *Server) Associations() []Association {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.associations)
}

// Wait blocks until cond holds, checking after each call answered, or
// until timeout passes, and reports whether it held.
func (s *Server) Wait(timeout time.Duration, cond func(*Server) bool) bool {
	return s.Log.Wait(timeout, func() bool { return cond(s) })
}

func clone(o *Object) Object {
	props := make(map[string]string, len(o.Properties))
	for k, v := range o.Properties {
		props[k] = v
	}
	return Object{ID: o.ID, Properties: props, created: o.created}
}

// errorBody is HubSpot's error body.
func errorBody(category, message string) string {
	b, _ := json.Marshal(map[string]string{"status": "error", "message": message, "category": category,
		"correlationId": "3d3e35b7-0dae-4b9f-a6e3-9c230cbcf8dd"})
	return string(b)
}

// rateLimitBody is HubSpot's 429 body.
func rateLimitBody(policy, message string) string {
	b, _ := json.Marshal(map[string]string{"status": "error", "message": message, "errorType": "RATE_LIMIT",
		"correlationId": "c033cdaa-2c40-4a64-ae48-b4cec88dad24", "policyName": policy})
	return string(b)
}

// answer decides the response to r: an injected failure, a refusal of the
// token, a rate limit, or the call's own answer.
func (s *Server) answer(r *http.Request, raw []byte, now time.Time) Response {
	if resp, ok := s.Injected(); ok {
		if resp.Body == "" {
			resp.Body = errorBody("INJECTED", http.StatusText(resp.Status))
			if resp.Status == http.StatusTooManyRequests {
				resp.Body = rateLimitBody("TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.")
			}
		}
		return resp
	}

	if r.Header.Get("Authorization") != "Bearer "+s.token {
		return Response{Status: http.StatusUnauthorized, Body: errorBody("INVALID_AUTHENTICATION",
			"Authentication credentials not found. This API supports OAuth 2.0 authentication.")}
	}
	if resp, limited := s.limit(r, now); limited {
		return resp
	}
	if r.Header.Get("Content-Type") != "application/json" && r.Method != http.MethodGet {
		return Response{Status: http.StatusUnsupportedMediaType, Body: errorBody("VALIDATION_ERROR", "Content-Type must be application/json")}
	}
	path := r.URL.Path
	switch {
	case r.Method == http.MethodPost && path == "/crm/v3/objects/contacts/batch/upsert":
		return s.upsertContacts(raw, now)
	case r.Method == http.MethodPost && path == "/crm/v3/objects/companies/search":
		return s.searchCompanies(raw)
	case r.Method == http.MethodPost && path == "/crm/v3/objects/companies":
		return s.createCompany(raw)
	case r.Method == http.MethodPut && strings.HasPrefix(path, "/crm/v4/objects/"):
		return s.associate(path)
	}
	return Response{Status: http.StatusNotFound, Body: errorBody("OBJECT_NOT_FOUND", "No route for "+r.Method+" "+path)}
}

// limit applies the rolling ten-second limit, and the search limit to
// searches.
func (s *Server) limit(r *http.Request, now time.Time) (Response, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.times = within(s.times, now, 10*time.Second)
	if len(s.times) >= s.per10s {
		return Response{Status: http.StatusTooManyRequests,
			Body: rateLimitBody("TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.")}, true
	}
	if strings.HasSuffix(r.URL.Path, "/search") {
		s.searchTimes = within(s.searchTimes, now, time.Second)
		if len(s.searchTimes) >= s.searches {
			return Response{Status: http.StatusTooManyRequests,
				Body: rateLimitBody("SECONDLY", "You have reached your secondly limit.")}, true
		}
		s.searchTimes = append(s.searchTimes, now)
	}
	s.times = append(s.times, now)
	return Response{}, false
}

// within keeps the times less than window before now.
func within(times []time.Time, now time.Time, window time.Duration) []time.Time {
	i := 0
	for i < len(times) && now.Sub(times[i]) >= window {
		i++
	}
	return times[i:]
}

// decode reads raw into v strictly, as HubSpot's validation does.
func decode(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data")
	}
	return nil
}

func invalid(format string, args ...any) Response {
	return Response{Status: http.StatusBadRequest, Body: errorBody("VALIDATION_ERROR", fmt.Sprintf(format, args...))}
}

// propertyValue reads a property value: a string, number or boolean.
func propertyValue(raw json.RawMessage) (string, bool) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", false
	}
	switch v := v.(type) {
	case string:
		return v, true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

func (s *Server) upsertContacts(raw []byte, now time.Time) Response {
	var req struct {
		Inputs []struct {
			ID                 string                     `json:"id"`
			IDProperty         string                     `json:"idProperty"`
			Properties         map[string]json.RawMessage `json:"properties"`
			ObjectWriteTraceID string                     `json:"objectWriteTraceId"`
		} `json:"inputs"`
	}
	if err := decode(raw, &req); err != nil {
		return invalid("Invalid input JSON on line 1: %v", err)
	}
	if len(req.Inputs) == 0 || len(req.Inputs) > MaxBatchInputs {
		return invalid("Batch input must have between 1 and %d inputs, got %d", MaxBatchInputs, len(req.Inputs))
	}
	type parsed struct {
		email string
		props map[string]string
	}
	var in []parsed
	for i, input := range req.Inputs {
		if input.IDProperty != "email" {
			return invalid("inputs[%d].idProperty: %q is not a unique property of contacts", i, input.IDProperty)
		}
		if !strings.Contains(input.ID, "@") {
			return invalid("inputs[%d].id: %q is not a valid email", i, input.ID)
		}
		props := map[string]string{}
		for name, rawValue := range input.Properties {
			if !slices.Contains(s.props, name) {
				return invalid("Property values were not valid: Property %q does not exist", name)
			}
			v, ok := propertyValue(rawValue)
			if !ok {
				return invalid("Property values were not valid: %q must be a string, number or boolean", name)
			}
			if name == "hs_lead_status" && !slices.Contains(LeadStatuses, v) {
				return invalid("Property values were not valid: %q was not one of the allowed options for hs_lead_status", v)
			}
			props[name] = v
		}
		email := strings.ToLower(input.ID)
		if slices.ContainsFunc(in, func(p parsed) bool { return p.email == email }) {
			return invalid("Duplicate IDs found in batch input: [%s]", input.ID)
		}
		in = append(in, parsed{email: email, props: props})
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	type result struct {
		ID         string            `json:"id"`
		Properties map[string]string `json:"properties"`
		CreatedAt  string            `json:"createdAt"`
		UpdatedAt  string            `json:"updatedAt"`
		Archived   bool              `json:"archived"`
		New        bool              `json:"new"`
	}
	var results []result
	for _, p := range in {
		o, ok := s.contacts[p.email]
		if !ok {
			o = &Object{ID: s.newID(), Properties: map[string]string{"email": p.email}}
			s.contacts[p.email] = o
		}
		for k, v := range p.props {
			o.Properties[k] = v
		}
		results = append(results, result{ID: o.ID, Properties: clone(o).Properties, CreatedAt: now.UTC().Format(time.RFC3339Nano),
			UpdatedAt: now.UTC().Format(time.RFC3339Nano), New: !ok})
	}
	b, _ := json.Marshal(map[string]any{"status": "COMPLETE", "results": results,
		"startedAt": now.UTC().Format(time.RFC3339Nano), "completedAt": now.UTC().Format(time.RFC3339Nano)})
	return Response{Status: http.StatusOK, Body: string(b)}
}

func (s *Server) newID() string {
	s.nextID++
	return strconv.Itoa(s.nextID)
}

func (s *Server) searchCompanies(raw []byte) Response {
	var req struct {
		FilterGroups []filterGroup     `json:"filterGroups"`
		Properties   []string          `json:"properties"`
		Limit        int               `json:"limit"`
		After        string            `json:"after"`
		Sorts        []json.RawMessage `json:"sorts"`
		Query        string            `json:"query"`
	}
	if err := decode(raw, &req); err != nil {
		return invalid("Invalid input JSON on line 1: %v", err)
	}
	if req.Limit < 0 || req.Limit > 200 {
		return invalid("limit must be between 0 and 200")
	}
	if len(req.FilterGroups) > 5 {
		return invalid("at most 5 filterGroups")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []*Object
	for _, c := range s.companies {
		if time.Since(c.created) >= s.lag && matches(c, req.FilterGroups) {
			found = append(found, c)
		}
	}
	total := len(found)
	if req.Limit > 0 && len(found) > req.Limit {
		found = found[:req.Limit]
	}
	type result struct {
		ID         string            `json:"id"`
		Properties map[string]string `json:"properties"`
		Archived   bool              `json:"archived"`
	}
	results := []result{}
	for _, c := range found {
		results = append(results, result{ID: c.ID, Properties: clone(c).Properties})
	}
	b, _ := json.Marshal(map[string]any{"total": total, "results": results})
	return Response{Status: http.StatusOK, Body: string(b)}
}

// filterGroup is a search's group of filters.
type filterGroup struct {
	Filters []struct {
		PropertyName string `json:"propertyName"`
		Operator     string `json:"operator"`
		Value        string `json:"value"`
	} `json:"filters"`
}

// matches reports whether o matches any group of EQ filters (groups are
// ORed, filters within a group ANDed); no groups matches everything.
func matches(o *Object, groups []filterGroup) bool {
	if len(groups) == 0 {
		return true
	}
	for _, g := range groups {
		all := true
		for _, f := range g.Filters {
			if f.Operator != "EQ" || !strings.EqualFold(o.Properties[f.PropertyName], f.Value) {
				all = false
			}
		}
		if all {
			return true
		}
	}
	return false
}

func (s *Server) createCompany(raw []byte) Response {
	var req struct {
		Properties   map[string]string `json:"properties"`
		Associations []json.RawMessage `json:"associations"`
	}
	if err := decode(raw, &req); err != nil {
		return invalid("Invalid input JSON on line 1: %v", err)
	}
	for name := range req.Properties {
		if !slices.Contains([]string{"domain", "name", "industry", "city", "country", "website", "description"}, name) {
			return invalid("Property values were not valid: Property %q does not exist", name)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := &Object{ID: s.newID(), Properties: req.Properties, created: time.Now()}
	s.companies = append(s.companies, o)
	b, _ := json.Marshal(map[string]any{"id": o.ID, "properties": o.Properties, "archived": false})
	return Response{Status: http.StatusCreated, Body: string(b)}
}

// associate serves PUT /crm/v4/objects/{contact}/{id}/associations/default/{company}/{id}.
func (s *Server) associate(path string) Response {
	parts := strings.Split(strings.TrimPrefix(path, "/crm/v4/objects/"), "/")
	if len(parts) != 6 || parts[2] != "associations" || parts[3] != "default" ||
		!slices.Contains([]string{"contact", "contacts", "0-1"}, parts[0]) ||
		!slices.Contains([]string{"company", "companies", "0-2"}, parts[4]) {
		return Response{Status: http.StatusNotFound, Body: errorBody("OBJECT_NOT_FOUND", "No route for PUT "+path)}
	}
	contactID, companyID := parts[1], parts[5]
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.hasContact(contactID) || !slices.ContainsFunc(s.companies, func(o *Object) bool { return o.ID == companyID }) {
		return Response{Status: http.StatusNotFound, Body: errorBody("OBJECT_NOT_FOUND", "contact or company not found")}
	}
	a := Association{ContactID: contactID, CompanyID: companyID}
	if !slices.Contains(s.associations, a) {
		s.associations = append(s.associations, a)
	}
	b, _ := json.Marshal(map[string]any{"status": "COMPLETE", "results": []map[string]any{{
		"from": map[string]string{"id": contactID}, "to": map[string]string{"id": companyID},
		"associationSpec": map[string]any{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}}}})
	return Response{Status: http.StatusOK, Body: string(b)}
}

func (s *Server) hasContact(id string) bool {
	for _, c := range s.contacts {
		if c.ID == id {
			return true
		}
	}
	return false
}
