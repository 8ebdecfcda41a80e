// Package fakeairtable is an in-process Airtable Web API for one base and
// table, for tests. It serves the upsert notify makes (PATCH
// /v0/{base}/{table} with performUpsert) and enforces its documented
// contract: a bearer token (401 without the right one), the base and table
// (404), a JSON body with no unknown keys (422 INVALID_REQUEST_UNKNOWN), 1
// to 10 records (422 INVALID_RECORDS), known field names (422
// UNKNOWN_FIELD_NAME), select options unless typecast is set, and 5
// requests a second per base: beyond it, 429 and no request succeeds for
// the penalty (30 seconds in Airtable; shorter in tests). It keeps the
// records so that tests can assert the end state; failures can be injected
// to answer the next calls.
package fakeairtable

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gtmhub/gtmhub/services/notify/internal/fakeapi"
)

// Documented limits the fake enforces.
const (
	MaxRecords = 10
	// PerSecond is the most requests a second to one base.
	PerSecond = 5
	// Penalty is how long a base refuses requests after a 429.
	Penalty = 30 * time.Second
)

// DefaultFields are the columns of the seed's Leads table; Status is a
// single select.
var DefaultFields = []string{"Email", "First Name", "Last Name", "Company", "Status", "Created"}

// Record is a stored record.
type Record struct {
	ID     string
	Fields map[string]any
}

// Response is an answer, the fake's own or injected; an injected one with
// no body gets the API's error body for its status.
type Response = fakeapi.Response

// Request is a call the fake answered.
type Request = fakeapi.Request

// Server is a fake Airtable.
type Server struct {
	*httptest.Server
	// Log holds the calls answered and the answers injected (FailNext,
	// Requests).
	*fakeapi.Log
	token, base, table string
	fields             []string
	options            []string // of Status
	penalty            time.Duration
	tolerance          time.Duration

	mu        sync.Mutex
	nextID    int
	records   []*Record
	times     []time.Time
	penaltyTo time.Time
}

// Option configures a Server.
type Option func(*Server)

// WithPenalty sets how long the base refuses requests after a 429.
func WithPenalty(d time.Duration) Option { return func(s *Server) { s.penalty = d } }

// WithFields sets the table's columns.
func WithFields(names ...string) Option { return func(s *Server) { s.fields = names } }

// New starts a fake Airtable holding table in base, accepting token; it
// stops when t's test ends. Use s.URL as the base URL and s.Client() as the
// HTTP client.
func New(t interface{ Cleanup(func()) }, token, base, table string, opts ...Option) *Server {
	s := &Server{token: token, base: base, table: table, fields: DefaultFields, options: []string{"new", "open"},
		penalty: Penalty, tolerance: 20 * time.Millisecond, nextID: 1, Log: &fakeapi.Log{}}
	for _, o := range opts {
		o(s)
	}
	s.Server = httptest.NewTLSServer(http.Handler(s.Log.Handler("application/json; charset=utf-8", s.answer)))
	t.Cleanup(s.Close)
	return s
}

// Records returns the stored records.
func (s *Server) Records() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Record
	for _, r := range s.records {
		out = append(out, clone(r))
	}
	return out
}

// Wait blocks until cond holds, checking after each call answered, or
// until timeout passes, and reports whether it held.
func (s *Server) Wait(timeout time.Duration, cond func(*Server) bool) bool {
	return s.Log.Wait(timeout, func() bool { return cond(s) })
}

func clone(r *Record) Record {
	f := make(map[string]any, len(r.Fields))
	for k, v := range r.Fields {
		f[k] = v
	}
	return Record{ID: r.ID, Fields: f}
}

// errorBody is Airtable's error body.
func errorBody(typ, message string) string {
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"type": typ, "message": message}})
	return string(b)
}

// rateLimitBody is Airtable's 429 body.
const rateLimitBody = `{"errors":[{"error":"RATE_LIMIT_REACHED","message":"Rate limit exceeded. Please try again later"}]}`

// answer decides the response to r.
func (s *Server) answer(r *http.Request, raw []byte, now time.Time) Response {
	if resp, ok := s.Injected(); ok {
		if resp.Body == "" {
			resp.Body = errorBody("INJECTED", http.StatusText(resp.Status))
			if resp.Status == http.StatusTooManyRequests {
				resp.Body = rateLimitBody
			}
		}
		return resp
	}

	if r.Header.Get("Authorization") != "Bearer "+s.token {
		return Response{Status: http.StatusUnauthorized, Body: errorBody("AUTHENTICATION_REQUIRED", "Authentication required")}
	}
	if resp, limited := s.limit(now); limited {
		return resp
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/v0/"), "/")
	if len(parts) != 2 || parts[0] != s.base || parts[1] != s.table {
		return Response{Status: http.StatusNotFound, Body: errorBody("NOT_FOUND", "Could not find what you are looking for")}
	}
	if r.Method != http.MethodPatch {
		return Response{Status: http.StatusNotFound, Body: errorBody("NOT_FOUND", "Could not find what you are looking for")}
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		return Response{Status: http.StatusUnsupportedMediaType, Body: errorBody("INVALID_REQUEST_UNKNOWN", "Invalid request: Content-Type must be application/json")}
	}
	return s.upsert(raw, now)
}

// limit applies the per-base rate and the penalty after a 429.
func (s *Server) limit(now time.Time) (Response, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Before(s.penaltyTo) {
		return Response{Status: http.StatusTooManyRequests, Body: rateLimitBody}, true
	}
	window := time.Second - s.tolerance
	i := 0
	for i < len(s.times) && now.Sub(s.times[i]) >= window {
		i++
	}
	s.times = s.times[i:]
	if len(s.times) >= PerSecond {
		s.penaltyTo = now.Add(s.penalty)
		return Response{Status: http.StatusTooManyRequests, Body: rateLimitBody}, true
	}
	s.times = append(s.times, now)
	return Response{}, false
}

func unprocessable(typ, format string, args ...any) Response {
	return Response{Status: http.StatusUnprocessableEntity, Body: errorBody(typ, fmt.Sprintf(format, args...))}
}

func (s *Server) upsert(raw []byte, now time.Time) Response {
	var req struct {
		PerformUpsert *struct {
			FieldsToMergeOn []string `json:"fieldsToMergeOn"`
		} `json:"performUpsert"`
		Typecast              bool `json:"typecast"`
		ReturnFieldsByFieldID bool `json:"returnFieldsByFieldId"`
		Records               []struct {
			ID     string         `json:"id"`
			Fields map[string]any `json:"fields"`
		} `json:"records"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return unprocessable("INVALID_REQUEST_UNKNOWN", "Invalid request: parameter validation failed. Check your request data. (%v)", err)
	}
	if len(req.Records) == 0 || len(req.Records) > MaxRecords {
		return unprocessable("INVALID_RECORDS", "You must provide an array of up to %d record objects, got %d", MaxRecords, len(req.Records))
	}
	if req.PerformUpsert == nil || len(req.PerformUpsert.FieldsToMergeOn) == 0 || len(req.PerformUpsert.FieldsToMergeOn) > 3 {
		return unprocessable("INVALID_REQUEST_UNKNOWN", "Invalid request: performUpsert.fieldsToMergeOn must list 1 to 3 fields")
	}
	merge := req.PerformUpsert.FieldsToMergeOn
	for _, f := range merge {
		if !slices.Contains(s.fields, f) {
			return unprocessable("INVALID_VALUE_FOR_COLUMN", "Invalid field for fieldsToMergeOn: %q", f)
		}
	}
	for i, rec := range req.Records {
		if rec.ID != "" {
			return unprocessable("INVALID_REQUEST_UNKNOWN", "records[%d]: id is not allowed with performUpsert", i)
		}
		for name, v := range rec.Fields {
			if !slices.Contains(s.fields, name) {
				return unprocessable("UNKNOWN_FIELD_NAME", "Unknown field name: %q", name)
			}
			if name == "Status" {
				str, _ := v.(string)
				if !slices.Contains(s.options, str) && !req.Typecast {
					return unprocessable("INVALID_MULTIPLE_CHOICE_OPTIONS", "Insufficient permissions to create new select option %q", str)
				}
			}
		}
		for _, f := range merge {
			if _, ok := rec.Fields[f]; !ok {
				return unprocessable("INVALID_VALUE_FOR_COLUMN", "records[%d]: a value for the merge field %q is required", i, f)
			}
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	type record struct {
		ID          string         `json:"id"`
		CreatedTime string         `json:"createdTime"`
		Fields      map[string]any `json:"fields"`
	}
	out := struct {
		Records        []record `json:"records"`
		CreatedRecords []string `json:"createdRecords"`
		UpdatedRecords []string `json:"updatedRecords"`
	}{Records: []record{}, CreatedRecords: []string{}, UpdatedRecords: []string{}}
	for _, rec := range req.Records {
		r := s.find(merge, rec.Fields)
		if r == nil {
			r = &Record{ID: fmt.Sprintf("rec%014d", s.nextID), Fields: map[string]any{}}
			s.nextID++
			s.records = append(s.records, r)
			out.CreatedRecords = append(out.CreatedRecords, r.ID)
		} else {
			out.UpdatedRecords = append(out.UpdatedRecords, r.ID)
		}
		for k, v := range rec.Fields {
			r.Fields[k] = v
			if str, ok := v.(string); ok && k == "Status" && !slices.Contains(s.options, str) {
				s.options = append(s.options, str)
			}
		}
		out.Records = append(out.Records, record{ID: r.ID, CreatedTime: now.UTC().Format(time.RFC3339), Fields: clone(r).Fields})
	}
	b, _ := json.Marshal(out)
	return Response{Status: http.StatusOK, Body: string(b)}
}

// find returns the record whose merge fields equal fields', or nil.
func (s *Server) find(merge []string, fields map[string]any) *Record {
	for _, r := range s.records {
		same := true
		for _, f := range merge {
			if fmt.Sprint(r.Fields[f]) != fmt.Sprint(fields[f]) {
				same = false
			}
		}
		if same {
			return r
		}
	}
	return nil
}
