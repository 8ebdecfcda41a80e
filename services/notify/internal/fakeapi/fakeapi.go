// Package fakeapi is what the in-process fakes of JSON APIs (HubSpot,
// Airtable) share: the calls they answered, answers injected for the next
// calls, and waiting for a state.
package fakeapi

import (
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Response is an answer, the fake's own or injected.
type Response struct {
	Status int
	// Body is the JSON body; injected empty, the fake's error body for
	// Status.
	Body string
	// RetryAfter is sent as the Retry-After header, in whole seconds
	// rounded up, when positive.
	RetryAfter time.Duration
}

// Request is a call the fake answered.
type Request struct {
	Method, Path string
	Status       int
	Body         []byte
	At           time.Time
}

// Log records the calls a fake answered and holds the answers injected for
// the next ones. Its zero value is ready to use.
type Log struct {
	mu       sync.Mutex
	inject   []Response
	requests []Request
	changed  chan struct{} // closed, and replaced, at each call answered
}

// FailNext makes the next calls answer with rs, in order.
func (l *Log) FailNext(rs ...Response) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inject = append(l.inject, rs...)
}

// Injected takes the next injected answer, if there is one.
func (l *Log) Injected() (Response, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.inject) == 0 {
		return Response{}, false
	}
	resp := l.inject[0]
	l.inject = l.inject[1:]
	return resp, true
}

// Requests returns every call answered, in order.
func (l *Log) Requests() []Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.requests)
}

// Wait blocks until cond holds, checking after each call answered, or
// until timeout passes, and reports whether it held.
func (l *Log) Wait(timeout time.Duration, cond func() bool) bool {
	deadline := time.After(timeout)
	for {
		ch := l.changes()
		if cond() {
			return true
		}
		select {
		case <-ch:
		case <-deadline:
			return cond()
		}
	}
}

func (l *Log) changes() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.changed == nil {
		l.changed = make(chan struct{})
	}
	return l.changed
}

// Handler answers each call with answer's response, as JSON of
// contentType, and records it.
func (l *Log) Handler(contentType string, answer func(r *http.Request, raw []byte, now time.Time) Response) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		raw, _ := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		resp := answer(r, raw, now)
		l.mu.Lock()
		l.requests = append(l.requests, Request{Method: r.Method, Path: r.URL.Path, Status: resp.Status, Body: raw, At: now})
		if l.changed != nil {
			close(l.changed)
		}
		l.changed = make(chan struct{})
		l.mu.Unlock()

		if resp.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(resp.RetryAfter.Seconds()))))
		}
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(resp.Status)
		_, _ = io.WriteString(w, resp.Body)
	})
}
