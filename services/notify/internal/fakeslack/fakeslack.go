// Package fakeslack is an in-process Slack incoming-webhook endpoint for
// tests. It enforces the documented limits of incoming webhooks: JSON body
// with text or blocks, at most 50 blocks, 3000 characters of section text,
// 10 section fields of 2000 characters, 150 characters of header text, 10
// context elements, 40000 characters of top-level text, and one message a
// second per webhook (429 with Retry-After beyond it). Failures can be
// injected to answer the next calls with any status.
package fakeslack

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Documented limits the fake enforces.
const (
	MaxBlocks       = 50
	MaxSectionText  = 3000
	MaxFieldText    = 2000
	MaxFields       = 10
	MaxHeaderText   = 150
	MaxContextElems = 10
	MaxText         = 40000
)

// Message is an accepted post.
type Message struct {
	Path   string // the webhook path, /services/T.../B.../...
	Text   string
	Blocks []Block
	At     time.Time
	Raw    []byte
}

// Block is the part of a Block Kit block the fake checks.
type Block struct {
	Type     string            `json:"type"`
	Text     *Text             `json:"text,omitempty"`
	Fields   []Text            `json:"fields,omitempty"`
	Elements []json.RawMessage `json:"elements,omitempty"`
}

// Text is a Block Kit text object.
type Text struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// Response is an injected answer.
type Response struct {
	Status int
	// Body is Slack's error code, such as channel_not_found.
	Body string
	// RetryAfter is sent as the Retry-After header when positive.
	RetryAfter time.Duration
}

// Server is a fake Slack.
type Server struct {
	*httptest.Server
	// Interval is the least time between two accepted posts to one webhook;
	// default 1s. Tolerance forgives that much early arrival (default 50ms).
	interval, tolerance time.Duration

	mu       sync.Mutex
	messages []Message
	last     map[string]time.Time
	inject   []Response
	rejected []Response
	changed  chan struct{}
}

// Option configures a Server.
type Option func(*Server)

// WithInterval sets the least time between two posts to one webhook.
func WithInterval(d time.Duration) Option { return func(s *Server) { s.interval = d } }

// New starts a TLS fake Slack; it stops when t's test ends. Use
// s.Client() as the HTTP client and s.Webhook(name) as webhook URLs.
func New(t interface{ Cleanup(func()) }, opts ...Option) *Server {
	s := &Server{interval: time.Second, tolerance: 50 * time.Millisecond,
		last: map[string]time.Time{}, changed: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Webhook returns the URL of a webhook named name.
func (s *Server) Webhook(name string) string {
	return s.URL + "/services/T0000000/B0000000/" + name
}

// FailNext makes the next calls answer with rs, in order.
func (s *Server) FailNext(rs ...Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inject = append(s.inject, rs...)
}

// Messages returns the accepted posts.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Rejected returns every answer other than 200 the fake gave, injected or not.
func (s *Server) Rejected() []Response {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Response(nil), s.rejected...)
}

// Wait blocks until at least n posts were accepted or timeout passes, and
// returns the accepted posts.
func (s *Server) Wait(n int, timeout time.Duration) []Message {
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		got, ch := len(s.messages), s.changed
		s.mu.Unlock()
		if got >= n {
			return s.Messages()
		}
		select {
		case <-ch:
		case <-deadline:
			return s.Messages()
		}
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	resp, msg := s.answer(r, now)
	s.mu.Lock()
	if resp.Status == http.StatusOK {
		s.messages = append(s.messages, msg)
		s.last[r.URL.Path] = now
	} else {
		s.rejected = append(s.rejected, resp)
	}
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()

	if resp.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(resp.RetryAfter.Seconds()))))
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(resp.Status)
	_, _ = io.WriteString(w, resp.Body)
}

// answer decides the response to r: an injected failure, a rate limit, a
// payload error or 200 ok.
func (s *Server) answer(r *http.Request, now time.Time) (Response, Message) {
	s.mu.Lock()
	if len(s.inject) > 0 {
		resp := s.inject[0]
		s.inject = s.inject[1:]
		s.mu.Unlock()
		return resp, Message{}
	}
	last, seen := s.last[r.URL.Path]
	s.mu.Unlock()

	if r.Method != http.MethodPost {
		return Response{Status: http.StatusMethodNotAllowed, Body: "invalid_method"}, Message{}
	}
	if seen {
		if wait := s.interval - now.Sub(last); wait > s.tolerance {
			return Response{Status: http.StatusTooManyRequests, Body: "rate_limited", RetryAfter: wait}, Message{}
		}
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return Response{Status: http.StatusBadRequest, Body: "invalid_payload"}, Message{}
	}
	var body struct {
		Text   string  `json:"text"`
		Blocks []Block `json:"blocks"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return Response{Status: http.StatusBadRequest, Body: "invalid_payload"}, Message{}
	}
	if err := Check(body.Text, body.Blocks); err != nil {
		return Response{Status: http.StatusBadRequest, Body: "invalid_blocks: " + err.Error()}, Message{}
	}
	return Response{Status: http.StatusOK, Body: "ok"},
		Message{Path: r.URL.Path, Text: body.Text, Blocks: body.Blocks, At: now, Raw: raw}
}

// Check reports the first limit text and blocks break, or nil.
func Check(text string, blocks []Block) error {
	switch {
	case text == "" && len(blocks) == 0:
		return fmt.Errorf("no_text: text or blocks required")
	case utf8.RuneCountInString(text) > MaxText:
		return fmt.Errorf("text longer than %d characters", MaxText)
	case len(blocks) > MaxBlocks:
		return fmt.Errorf("%d blocks, at most %d", len(blocks), MaxBlocks)
	}
	for i, b := range blocks {
		if err := checkBlock(b); err != nil {
			return fmt.Errorf("blocks[%d]: %w", i, err)
		}
	}
	return nil
}

func checkBlock(b Block) error {
	long := func(t *Text, n int) bool { return t != nil && utf8.RuneCountInString(t.Text) > n }
	switch b.Type {
	case "header":
		if b.Text == nil || b.Text.Type != "plain_text" || b.Text.Text == "" || long(b.Text, MaxHeaderText) {
			return fmt.Errorf("header needs plain_text of 1 to %d characters", MaxHeaderText)
		}
	case "section":
		if b.Text == nil && len(b.Fields) == 0 {
			return fmt.Errorf("section needs text or fields")
		}
		if long(b.Text, MaxSectionText) {
			return fmt.Errorf("section text longer than %d characters", MaxSectionText)
		}
		if len(b.Fields) > MaxFields {
			return fmt.Errorf("%d section fields, at most %d", len(b.Fields), MaxFields)
		}
		for _, f := range b.Fields {
			if long(&f, MaxFieldText) {
				return fmt.Errorf("section field longer than %d characters", MaxFieldText)
			}
		}
	case "context":
		if len(b.Elements) == 0 || len(b.Elements) > MaxContextElems {
			return fmt.Errorf("context needs 1 to %d elements", MaxContextElems)
		}
	case "actions":
		if len(b.Elements) == 0 || len(b.Elements) > 25 {
			return fmt.Errorf("actions needs 1 to 25 elements")
		}
	case "divider", "image", "rich_text", "input", "file", "video", "markdown":
	default:
		return fmt.Errorf("unknown block type %q", b.Type)
	}
	return nil
}
